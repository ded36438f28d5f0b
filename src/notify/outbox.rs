//! The outbox (the seeds' Notification): an email is a row written in the same transaction as
//! what caused it, so an acknowledged invite cannot lose its email. A worker in every muster
//! process claims due rows one by one with a conditional update (only one process wins a row),
//! sends, and marks them sent; a failure is retried with exponential backoff, so emails wait
//! out an SMTP outage and a restart. Once sent, failed for good, or past the expiry of the link
//! it carries, the body (which may hold a link) is erased.

use super::mailer::Mailer;
use super::{Kind, Rendered};
use crate::db::schema::notifications as n;
use crate::db::time::format_time;
use crate::db::{Db, DbConn};
use crate::ids::TenantId;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};

/// How long a claimed email is its worker's before another may take it over.
const LEASE: Duration = Duration::minutes(2);

/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 300;

/// After this many attempts an email is marked failed (about a day and a half of retries).
pub const MAX_ATTEMPTS: i32 = 400;

/// How often an idle worker looks for due emails.
const POLL: StdDuration = StdDuration::from_millis(500);

/// Writes an email to the outbox; call inside the transaction that causes it. `expires` is
/// when the link in it stops working: unsent by then, the email is given up.
///
/// # Errors
/// Database errors.
pub fn enqueue(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    recipient: &str,
    r: &Rendered,
    expires: OffsetDateTime,
) -> Result<String, DieselError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = format_time(OffsetDateTime::now_utc());
    diesel::insert_into(n::table)
        .values((
            n::id.eq(&id),
            n::tenant_id.eq(tenant),
            n::kind.eq(kind.name()),
            n::recipient.eq(recipient),
            n::subject.eq(&r.subject),
            n::html.eq(&r.html),
            n::text.eq(&r.text),
            n::status.eq("pending"),
            n::attempts.eq(0),
            n::next_attempt_at.eq(&now),
            n::created_at.eq(&now),
            n::expires_at.eq(format_time(expires)),
        ))
        .execute(c)?;
    crate::ops::email("queued");
    Ok(id)
}

/// An email this worker now owns.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub recipient: String,
    pub rendered: Rendered,
    pub attempts: i32,
}

/// Claims up to `limit` due emails. Each is taken by an update that only succeeds while the
/// row is still due and unleased, so two processes never both own one.
///
/// # Errors
/// Database errors.
pub fn claim(c: &mut DbConn, limit: i64) -> Result<Vec<Claimed>, DieselError> {
    let now = OffsetDateTime::now_utc();
    let now_s = format_time(now);
    let expired = diesel::update(
        n::table
            .filter(n::status.eq("pending"))
            .filter(n::expires_at.lt(&now_s))
            .filter(n::locked_until.is_null().or(n::locked_until.le(&now_s))),
    )
    .set((
        n::status.eq("failed"),
        n::last_error.eq("the link in it expired before it could be sent"),
        n::html.eq(""),
        n::text.eq(""),
    ))
    .execute(c)?;
    for _ in 0..expired {
        crate::ops::email("failed");
    }
    let due: Vec<String> = n::table
        .filter(n::status.eq("pending"))
        .filter(n::next_attempt_at.le(&now_s))
        .filter(n::locked_until.is_null().or(n::locked_until.le(&now_s)))
        .order(n::next_attempt_at)
        .limit(limit)
        .select(n::id)
        .load(c)?;
    let lease = format_time(now + LEASE);
    let mut mine = Vec::new();
    for id in due {
        let won = diesel::update(
            n::table
                .filter(n::id.eq(&id))
                .filter(n::status.eq("pending"))
                .filter(n::locked_until.is_null().or(n::locked_until.le(&now_s))),
        )
        .set((n::locked_until.eq(&lease), n::attempts.eq(n::attempts + 1)))
        .execute(c)?;
        if won == 1 {
            mine.push(id);
        }
    }
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, String, String, i32)> = n::table
        .filter(n::id.eq_any(&mine))
        .select((
            n::id,
            n::recipient,
            n::subject,
            n::html,
            n::text,
            n::attempts,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, recipient, subject, html, text, attempts)| Claimed {
            id,
            recipient,
            rendered: Rendered {
                subject,
                html,
                text,
            },
            attempts,
        })
        .collect())
}

/// Marks an email sent and erases its body.
///
/// # Errors
/// Database errors.
pub fn sent(c: &mut DbConn, id: &str) -> Result<(), DieselError> {
    diesel::update(n::table.find(id))
        .set((
            n::status.eq("sent"),
            n::sent_at.eq(format_time(OffsetDateTime::now_utc())),
            n::locked_until.eq(None::<String>),
            n::last_error.eq(None::<String>),
            n::html.eq(""),
            n::text.eq(""),
        ))
        .execute(c)?;
    crate::ops::email("sent");
    Ok(())
}

/// Records a failed attempt: retried later, or failed for good.
///
/// # Errors
/// Database errors.
pub fn failed(
    c: &mut DbConn,
    id: &str,
    attempts: i32,
    error: &str,
    permanent: bool,
) -> Result<(), DieselError> {
    let give_up = permanent || attempts >= MAX_ATTEMPTS;
    crate::ops::email(if give_up { "failed" } else { "retried" });
    let wait = (1_i64 << attempts.clamp(0, 9)).min(MAX_BACKOFF_SECS);
    let next = OffsetDateTime::now_utc() + Duration::seconds(wait);
    diesel::update(n::table.find(id))
        .set((
            n::status.eq(if give_up { "failed" } else { "pending" }),
            n::last_error.eq(error.chars().take(500).collect::<String>()),
            n::next_attempt_at.eq(format_time(next)),
            n::locked_until.eq(None::<String>),
        ))
        .execute(c)?;
    if give_up {
        // A failed email is never sent: its link need not wait in the database.
        diesel::update(n::table.find(id))
            .set((n::html.eq(""), n::text.eq("")))
            .execute(c)?;
    }
    Ok(())
}

/// Lets a shutdown wait for the email being sent, and stop the worker before the next.
#[derive(Clone, Default)]
pub struct Stop {
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sending: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Stop {
    /// Stops the worker(s) between two messages; returns once none is mid-message.
    pub async fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _idle = self.sending.lock().await;
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Delivers the outbox until stopped: one email at a time, each sent and recorded while
/// holding `stop`'s lock, so a shutdown stops it between two messages.
pub async fn worker(db: Db, mailer: Mailer, from: String, stop: Stop) {
    while !stop.stopping() {
        let batch = db
            .run_write(|c| claim(c, 10).map_err(crate::db::DbError::from))
            .await;
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the email outbox");
                tokio::time::sleep(POLL * 4).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::time::sleep(POLL).await;
            continue;
        }
        for e in batch {
            let _sending = stop.sending.lock().await;
            if stop.stopping() {
                // Claimed but not sent: the lease runs out and another worker takes it.
                return;
            }
            let result = mailer.send(&from, &e.recipient, &e.id, &e.rendered).await;
            let id = e.id.clone();
            let recorded = match result {
                Ok(()) => {
                    db.run_write(move |c| sent(c, &id).map_err(crate::db::DbError::from))
                        .await
                }
                Err(err) => {
                    tracing::warn!(
                        email = %e.id, attempt = e.attempts, permanent = err.permanent,
                        error = %err.message, "email not delivered"
                    );
                    db.run_write(move |c| {
                        failed(c, &id, e.attempts, &err.message, err.permanent)
                            .map_err(crate::db::DbError::from)
                    })
                    .await
                }
            };
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "could not record an email's delivery");
            }
        }
    }
}
