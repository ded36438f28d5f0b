//! Bearer secrets (SCIM tokens now; session ids, invite links and PATs later): 256 random bits,
//! shown once, stored only as a SHA-256 hash so a database leak reveals no usable credential.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret with a readable prefix that says what it is (`mst_scim_...`), so a leaked token
/// found in a log or a repository can be recognised.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = generate("mst_scim_");
        let b = generate("mst_scim_");
        assert_ne!(a, b);
        assert!(a.starts_with("mst_scim_") && a.len() > 50);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
