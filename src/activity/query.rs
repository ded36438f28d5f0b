//! Reading a tenant's log: filters by time, user, status and kind, newest first, a page at a
//! time.

use crate::db::schema::activity as a;
use crate::db::time::{format_time, normalize_time};
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::TenantId;
use diesel::prelude::*;

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since: Option<String>,
    pub user_id: Option<String>,
    /// Exact status, or a class (`4xx`) as a range.
    pub status: Option<(i32, i32)>,
    pub kind: Option<String>,
    /// The `next` of the previous page: entries older than this id.
    pub before: Option<i64>,
    pub limit: i64,
}

/// A stored entry.
#[derive(Debug, Clone, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct Stored {
    pub id: i64,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub scim_type: Option<String>,
    pub resource_id: Option<String>,
    pub user_id: Option<String>,
    pub summary: String,
    pub request_id: Option<String>,
}

/// Parses `--status`: `409`, or a class such as `4xx`.
///
/// # Errors
/// Anything else.
pub fn status_filter(s: &str) -> Result<(i32, i32), String> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(class) = s.strip_suffix("xx") {
        if let Ok(d @ 1..=5) = class.parse::<i32>() {
            return Ok((d * 100, d * 100 + 99));
        }
    }
    match s.parse::<i32>() {
        Ok(n @ 100..=599) => Ok((n, n)),
        _ => Err(format!(
            "{s:?} is not a status: give 409, say, or a class like 4xx"
        )),
    }
}

/// Parses `--since`: an RFC 3339 time, or an age such as `90m`, `24h`, `7d`.
///
/// # Errors
/// Anything else.
pub fn since_filter(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(t) = normalize_time(s) {
        return Ok(t);
    }
    let not_a_time = || format!("{s:?} is not a time: give 2026-11-23T10:00:00Z, or 90m, 24h, 7d");
    // The unit is the last character, whatever its width; the number is what comes before.
    let (at, _) = s.char_indices().last().ok_or_else(not_a_time)?;
    let (n, unit) = s.split_at(at);
    let n: i64 = n.parse().map_err(|_| not_a_time())?;
    let seconds = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is m, h or d")),
    };
    // An age the clock cannot go back by is refused, not computed.
    n.checked_mul(seconds)
        .filter(|secs| *secs >= 0)
        .and_then(|secs| time::OffsetDateTime::now_utc().checked_sub(time::Duration::seconds(secs)))
        .map(format_time)
        .ok_or_else(|| format!("{s:?} reaches back further than any time"))
}

/// A page of a tenant's entries, newest first, and the `before` of the next page.
///
/// # Errors
/// Database errors.
pub fn list(
    c: &mut DbConn,
    tenant: &TenantId,
    q: &Query,
) -> Result<(Vec<Stored>, Option<i64>), Error> {
    let limit = q.limit.clamp(1, 1000);
    let mut query = a::table.filter(a::tenant_id.eq(tenant)).into_boxed();
    if let Some(since) = &q.since {
        query = query.filter(a::at.ge(since.clone()));
    }
    if let Some(user) = &q.user_id {
        query = query.filter(a::user_id.eq(user.clone()));
    }
    if let Some((lo, hi)) = q.status {
        query = query.filter(a::status.between(lo, hi));
    }
    if let Some(kind) = &q.kind {
        query = query.filter(a::kind.eq(kind.clone()));
    }
    if let Some(before) = q.before {
        query = query.filter(a::id.lt(before));
    }
    let mut rows: Vec<Stored> = query.order(a::id.desc()).limit(limit + 1).load(c)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = rows.last().filter(|_| more).map(|r| r.id);
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(status_filter("4xx"), Ok((400, 499)));
        assert_eq!(status_filter("409"), Ok((409, 409)));
        assert!(status_filter("teapot").is_err());
        assert!(since_filter("24h").is_ok());
        assert!(since_filter("2026-11-23T10:00:00Z").is_ok());
        assert!(since_filter("yesterday").is_err());
        // Input that once panicked: a wide unit character, an age past any time.
        for bad in ["é", "9é", "99999999999999d", "-5d", ""] {
            assert!(since_filter(bad).is_err(), "{bad}");
        }
    }
}
