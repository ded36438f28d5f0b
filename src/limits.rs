//! SCIM rate limits per credential and per client address, in requests per minute, set per
//! tenant. Counts are shared by every muster process without a write per request: each
//! process decides on the total it last read plus what it counted since, and adds its counts
//! to the database about once a second. Between two syncs a process can let through what it
//! alone counts, so a limit may be exceeded by a second's worth of traffic; never by more.

use crate::db::schema::rate_counts as rc;
use crate::db::{Db, DbConn, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a process adds its counts to the shared ones.
const SYNC: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Count {
    window: i64,
    /// The shared count at the last sync (this process's synced requests included).
    shared: i64,
    /// Requests counted here since the last sync.
    pending: i64,
}

/// This process's view of the counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Limiter {
    counts: Arc<Mutex<HashMap<String, Count>>>,
}

fn window_now() -> (i64, i64) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (now.div_euclid(60), 60 - now.rem_euclid(60))
}

impl Limiter {
    /// Counts a request against the key `key()` names when `limit` (per minute) allows it;
    /// otherwise the seconds until the window ends. A limit of 0 or less is no limit, and then
    /// the key is never even made (most tenants set none).
    pub fn admit(&self, key: impl FnOnce() -> String, limit: i32) -> Result<(), i64> {
        if limit <= 0 {
            return Ok(());
        }
        let key = key();
        let (window, left) = window_now();
        let Ok(mut counts) = self.counts.lock() else {
            return Ok(());
        };
        let c = counts.entry(key).or_default();
        if c.window != window {
            *c = Count {
                window,
                ..Count::default()
            };
        }
        if c.shared + c.pending >= i64::from(limit) {
            return Err(left.max(1));
        }
        c.pending += 1;
        Ok(())
    }

    /// What to add to the shared counts, and the keys still being counted.
    fn take_pending(&self) -> Vec<(String, i64, i64)> {
        let (window, _) = window_now();
        let Ok(mut counts) = self.counts.lock() else {
            return Vec::new();
        };
        counts.retain(|_, c| c.window == window);
        counts
            .iter_mut()
            .map(|(k, c)| {
                let n = std::mem::take(&mut c.pending);
                (k.clone(), c.window, n)
            })
            .collect()
    }

    fn set_shared(&self, totals: Vec<(String, i64, i64)>) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        for (key, window, total) in totals {
            if let Some(c) = counts.get_mut(&key).filter(|c| c.window == window) {
                c.shared = total;
            }
        }
    }
}

/// Adds `n` to a shared count and returns the new total.
fn add(c: &mut DbConn, key: &str, window: i64, n: i64) -> Result<i64, diesel::result::Error> {
    let row = rc::table.find((key, window));
    if n > 0 {
        let updated = diesel::update(row)
            .set(rc::count.eq(rc::count + n))
            .execute(c)?;
        if updated == 0 {
            let inserted = diesel::insert_into(rc::table)
                .values((
                    rc::key.eq(key),
                    rc::window_start.eq(window),
                    rc::count.eq(n),
                ))
                .execute(c);
            match inserted {
                // Another process made the row first: add to it.
                Err(e) if crate::db::is_unique_violation(&e) => {
                    diesel::update(row)
                        .set(rc::count.eq(rc::count + n))
                        .execute(c)?;
                }
                other => {
                    other?;
                }
            }
        }
    }
    Ok(row.select(rc::count).first(c).optional()?.unwrap_or(0))
}

/// Syncs this process's counts with the shared ones, about once a second, and forgets
/// windows that have ended.
pub async fn sync_loop(db: Db, limiter: Limiter) {
    let mut tick = tokio::time::interval(SYNC);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pending = limiter.take_pending();
        if pending.is_empty() {
            continue;
        }
        let synced = db
            .run_write(move |c| {
                crate::db::write_tx(c, |c| {
                    let mut totals = Vec::with_capacity(pending.len());
                    for (key, window, n) in &pending {
                        totals.push((key.clone(), *window, add(c, key, *window, *n)?));
                    }
                    let (now, _) = window_now();
                    diesel::delete(rc::table.filter(rc::window_start.lt(now - 1))).execute(c)?;
                    Ok::<_, DbError>(totals)
                })
            })
            .await;
        match synced {
            Ok(totals) => limiter.set_shared(totals),
            Err(e) => tracing::warn!(error = %e, "rate counts could not be shared"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_admitted_up_to_its_limit() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert!(l.admit(|| "k".into(), 3).is_ok());
        }
        let wait = l.admit(|| "k".into(), 3).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.admit(|| "other".into(), 3).is_ok());
        assert!(l.admit(|| "k".into(), 0).is_ok(), "0 is no limit");
    }
}
