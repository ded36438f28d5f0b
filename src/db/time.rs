//! Time as muster stores it: one fixed UTC format whose text order is time order (columns,
//! the filter index), and the short form emails and pages show.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The current time in the stored format.
pub fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// Parses an xsd:dateTime (RFC 3339; a missing offset is taken as UTC) into the fixed format
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, whose text order is chronological.
pub fn normalize_time(s: &str) -> Option<String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{}Z", s.trim()), &Rfc3339))
        .ok()?;
    Some(format_time(t))
}

/// Formats a time in the fixed UTC format used in columns and the index.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `2026-11-30 14:00 UTC`, as emails and pages show a time.
pub fn human_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(UtcOffset::UTC).format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_as_text() {
        assert_eq!(
            normalize_time("2011-05-13T04:42:34+02:00").unwrap(),
            "2011-05-13T02:42:34.000000Z"
        );
        assert_eq!(
            normalize_time("2011-05-13T04:42:34").unwrap(),
            "2011-05-13T04:42:34.000000Z"
        );
        assert!(normalize_time("yesterday").is_none());
    }
}
