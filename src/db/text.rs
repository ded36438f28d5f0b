//! How text is keyed in the database: case-folded and NFC-normalised for case-insensitive
//! comparison, long values bounded to an exact key, and `LIKE` patterns taken literally.

use sha2::Digest;
use unicode_normalization::UnicodeNormalization;

/// Case-folds a string the way `caseExact=false` comparisons need it.
pub fn fold(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase()
}

/// Whether two names or addresses denote the same identity when a sign-in is linked to an
/// account: the same characters, with ASCII letters compared without case, and nothing else
/// folded or normalised. Unicode lowercase or NFC would let look-alikes in (the Kelvin sign
/// `\u{212A}` becomes `K` under NFC and `k` under lowercase), and an IdP account named with
/// one would reach the account of the name it resembles.
pub fn same_identity(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Values longer than this (in bytes) are indexed as a prefix plus a hash of the whole value.
const MAX_KEY: usize = 512;
/// How much of a long value is kept readable in its key.
const KEY_PREFIX: usize = 400;

/// Normalises a string for an attribute with the given `caseExact`, as stored in the index and
/// compared by filters. A long value becomes its first 400 bytes, `#` and a SHA-256 of the whole,
/// which keeps equality exact while staying under PostgreSQL's btree row limit (certificates
/// and data URLs run to kilobytes); prefix and substring filters see the first 400 bytes.
pub fn norm_str(s: &str, case_exact: bool) -> String {
    let v = if case_exact { s.to_owned() } else { fold(s) };
    if v.len() <= MAX_KEY {
        return v;
    }
    let mut cut = KEY_PREFIX;
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
    format!("{}#{}", &v[..cut], &digest[..40])
}

/// `%text%` for LIKE, with LIKE's own wildcards in `text` taken literally (escape `\`).
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_get_bounded_exact_keys() {
        let a = "x".repeat(5000);
        let b = format!("{}y", "x".repeat(4999));
        assert!(norm_str(&a, true).len() <= MAX_KEY);
        assert_ne!(norm_str(&a, true), norm_str(&b, true));
        assert_eq!(norm_str(&a.to_uppercase(), false), norm_str(&a, true));
        let multibyte = "é".repeat(400);
        assert!(norm_str(&multibyte, true).starts_with("éé"));
    }

    #[test]
    fn identities_fold_ascii_case_only() {
        assert!(same_identity("Kim@Example.COM", "kim@example.com"));
        assert!(same_identity("José", "JOSé"));
        assert!(!same_identity("\u{212A}im", "kim"));
        assert!(!same_identity("Jose\u{301}", "José"));
        assert!(!same_identity("ÉCOLE", "école"));
        assert!(!same_identity("kim", "kimo"));
        assert_eq!(fold("\u{212A}im"), fold("kim"));
    }
}
