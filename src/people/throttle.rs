//! Throttling of guesses: attempts are counted in fixed windows per key (an account, a client
//! address), in the database, so the count holds across muster processes. Each attempt is
//! counted in one statement before it is checked, so parallel guesses cannot slip past the
//! limit between a read and a write.

use crate::db::sql::{self, Builder};
use crate::db::time::format_time;
use crate::db::{write_tx, DbConn};
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use time::{Duration, OffsetDateTime};

/// Attempts are counted in windows this long.
pub const WINDOW: Duration = Duration::minutes(15);

/// The key of an account: the user, whichever of their names was typed; a name nobody has is
/// counted by itself (so probing it costs the same).
pub fn account_key(tenant: &TenantId, user: Option<&UserId>, login: &str) -> String {
    match user {
        Some(id) => format!("acct:{tenant}:{id}"),
        None => format!(
            "acct:{tenant}:name:{}",
            crate::db::text::norm_str(login.trim(), false)
        ),
    }
}

/// The key of a client address.
pub fn address_key(addr: &str) -> String {
    format!("addr:{addr}")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Text)]
    window_start: String,
}

/// Counts an attempt against every key, then says whether it may go on: `Some(seconds to
/// wait)` when a key is past its limit. Each count is one conditional upsert, so of many
/// parallel attempts exactly `limit` go on.
///
/// # Errors
/// Database errors.
pub fn attempt(c: &mut DbConn, keys: &[(String, i32)]) -> Result<Option<i64>, Error> {
    let now = OffsetDateTime::now_utc();
    let (now_s, since) = (format_time(now), format_time(now - WINDOW));
    write_tx(c, |c| {
        let mut wait: Option<i64> = None;
        for (key, limit) in keys {
            let mut b = Builder::new(c.dialect());
            b.push("INSERT INTO login_failures (key, failures, window_start) VALUES (")
                .text(key.as_str())
                .push(", 1, ")
                .text(now_s.as_str())
                .push(") ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN login_failures.window_start > ")
                .text(since.as_str())
                .push(" THEN login_failures.failures + 1 ELSE 1 END, window_start = CASE WHEN login_failures.window_start > ")
                .text(since.as_str())
                .push(" THEN login_failures.window_start ELSE ")
                .text(now_s.as_str())
                .push(" END RETURNING failures, window_start");
            let counted: Vec<Count> = sql::load(c, &b.sql)?;
            let Some(count) = counted.into_iter().next() else {
                continue;
            };
            if count.failures > *limit {
                let start = OffsetDateTime::parse(
                    &count.window_start,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap_or(now);
                let secs = ((start + WINDOW) - now).whole_seconds().max(1);
                wait = Some(wait.map_or(secs, |w| w.max(secs)));
            }
        }
        // Old windows are dead weight.
        let mut b = Builder::new(c.dialect());
        b.push("DELETE FROM login_failures WHERE window_start < ")
            .text(since.as_str());
        sql::exec(c, &b.sql)?;
        Ok(wait)
    })
}

/// After an attempt that succeeded: the account's count starts over, and the address gets
/// its attempt back (a busy office behind one address is not locked out by signing in).
///
/// # Errors
/// Database errors.
pub fn succeeded(c: &mut DbConn, account: &str, address: &str) -> Result<(), Error> {
    write_tx(c, |c| {
        let mut b = Builder::new(c.dialect());
        b.push("DELETE FROM login_failures WHERE key = ")
            .text(account);
        sql::exec(c, &b.sql)?;
        let mut b = Builder::new(c.dialect());
        b.push("UPDATE login_failures SET failures = failures - 1 WHERE failures > 0 AND key = ")
            .text(address);
        sql::exec(c, &b.sql)?;
        Ok(())
    })
}
