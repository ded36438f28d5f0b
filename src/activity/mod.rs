//! The provisioning activity log: every SCIM request of a tenant (who, what, the outcome, and a
//! summary of what changed), its sign-ins and the admin actions on it.
//!
//! Requests hand entries to an in-process queue and go on; one writer per process stores them
//! in batches on the write connection, so a SCIM GET never becomes a database write of its own
//! and a burst of requests shares one transaction. A graceful shutdown stores what is queued; a
//! crash can lose the last fraction of a second of entries, never a user write. Values of
//! secrets (passwords, tokens) never reach an entry: summaries name attributes, and show values
//! only of a few harmless ones.

pub mod describe;
pub mod query;

pub use describe::{describe_bulk, describe_patch, describe_resource};
pub use query::{list, since_filter, status_filter, Query, Stored};

use crate::db::schema::activity as a;
use crate::db::time::format_time;
use crate::db::{Db, DbConn, DbError};
use crate::ids::{TenantId, TenantSlug};
use actix_web::{HttpMessage, HttpRequest};
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};

/// Entries waiting for the writer; a full queue makes requests wait (nothing is dropped).
const QUEUE: usize = 10_000;
/// Most entries stored in one transaction.
const BATCH: usize = 5_000;
/// How long the writer waits for more entries before storing a batch.
const GATHER: Duration = Duration::from_secs(1);
/// Entries a tenant gets per minute, per process, for requests without a valid credential:
/// enough to see a misconfigured IdP, too few for anyone to fill the log with noise.
pub const ANONYMOUS_PER_MINUTE: u32 = 20;
/// Tenants (named by whoever calls) counted per minute; beyond it, nothing anonymous is kept.
const ANONYMOUS_TENANTS: usize = 10_000;

/// One thing that happened in a tenant.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The tenant's id, when the request got far enough to know it; else found by `tenant`.
    pub tenant_id: Option<TenantId>,
    pub tenant: TenantSlug,
    pub at: String,
    /// `scim`, `sign-in`, `account` or `admin`.
    pub kind: &'static str,
    pub actor: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub resource_id: Option<String>,
    pub user_id: Option<String>,
    pub summary: String,
    pub request_id: Option<String>,
}

impl Entry {
    /// An entry stamped now.
    pub fn new(kind: &'static str, tenant: &TenantSlug) -> Entry {
        Entry {
            kind,
            tenant: tenant.clone(),
            at: format_time(time::OffsetDateTime::now_utc()),
            ..Entry::default()
        }
    }
}

/// The handle requests record through; cheap to clone.
#[derive(Clone)]
pub struct Log {
    tx: Option<mpsc::Sender<Entry>>,
    rx: Arc<std::sync::Mutex<Option<mpsc::Receiver<Entry>>>>,
    stopping: Arc<watch::Sender<bool>>,
    running: Arc<Mutex<()>>,
    /// This minute's count of entries without a valid credential, by tenant slug.
    anonymous: Arc<std::sync::Mutex<(i64, HashMap<String, u32>)>>,
}

impl Log {
    /// A log; `enabled: false` records nothing (the benchmark's baseline).
    pub fn new(enabled: bool) -> Log {
        let (tx, rx) = mpsc::channel(QUEUE);
        Log {
            tx: enabled.then_some(tx),
            rx: Arc::new(std::sync::Mutex::new(enabled.then_some(rx))),
            stopping: Arc::new(watch::channel(false).0),
            running: Arc::new(Mutex::new(())),
            anonymous: Arc::default(),
        }
    }

    /// Whether an entry for a request without a valid credential may be kept: at most
    /// [`ANONYMOUS_PER_MINUTE`] per tenant and minute in this process.
    pub fn admit_anonymous(&self, tenant: &TenantSlug) -> bool {
        let minute = time::OffsetDateTime::now_utc().unix_timestamp() / 60;
        let Ok(mut guard) = self.anonymous.lock() else {
            return false;
        };
        let (at, counts) = &mut *guard;
        if *at != minute {
            *at = minute;
            counts.clear();
        }
        if counts.len() >= ANONYMOUS_TENANTS && !counts.contains_key(tenant.as_str()) {
            return false;
        }
        let n = counts.entry(tenant.as_str().to_owned()).or_insert(0);
        *n += 1;
        *n <= ANONYMOUS_PER_MINUTE
    }

    /// Whether entries are recorded at all.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues an entry; waits only when the writer is a whole queue behind.
    pub async fn record(&self, e: Entry) {
        if let Some(tx) = &self.tx {
            if tx.send(e).await.is_err() {
                tracing::warn!("activity entry after the log stopped");
            }
        }
    }

    /// Stores what is queued and stops the writer.
    pub async fn stop(&self) {
        self.stopping.send_replace(true);
        let _idle = self.running.lock().await;
    }
}

/// Stores queued entries in batches until stopped (one per process, started with the server).
pub async fn writer(db: Db, log: Log) {
    let taken = log.rx.lock().ok().and_then(|mut r| r.take());
    let Some(mut rx) = taken else { return };
    let _running = log.running.lock().await;
    let mut stopping = log.stopping.subscribe();
    loop {
        let first = tokio::select! {
            e = rx.recv() => e,
            _ = stopping.wait_for(|s| *s) => None,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                _ => break,
            }
        }
        store(&db, batch).await;
    }
    let mut rest = Vec::new();
    while let Ok(e) = rx.try_recv() {
        rest.push(e);
    }
    if !rest.is_empty() {
        store(&db, rest).await;
    }
}

/// A row as inserted.
#[derive(Insertable)]
#[diesel(table_name = a, treat_none_as_default_value = false)]
struct Row<'e> {
    tenant_id: &'e str,
    at: &'e str,
    kind: &'e str,
    actor: &'e str,
    method: &'e str,
    path: &'e str,
    status: i32,
    scim_type: Option<&'e str>,
    resource_id: Option<&'e str>,
    user_id: Option<&'e str>,
    summary: &'e str,
    request_id: Option<&'e str>,
}

impl<'e> Row<'e> {
    fn of(tenant_id: &'e TenantId, e: &'e Entry) -> Row<'e> {
        Row {
            tenant_id: tenant_id.as_str(),
            at: &e.at,
            kind: e.kind,
            actor: &e.actor,
            method: &e.method,
            path: &e.path,
            status: i32::from(e.status),
            scim_type: e.scim_type.as_deref(),
            resource_id: e.resource_id.as_deref(),
            user_id: e.user_id.as_deref(),
            summary: &e.summary,
            request_id: e.request_id.as_deref(),
        }
    }
}

/// Inserts rows with one multi-row statement per 200: per-statement costs, not per-row ones,
/// are most of what an insert costs.
fn insert_rows(c: &mut DbConn, rows: &[Row<'_>]) -> Result<(), diesel::result::Error> {
    for chunk in rows.chunks(200) {
        match c {
            DbConn::Sqlite(c) => diesel::insert_into(a::table).values(chunk).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(a::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}

async fn store(db: &Db, batch: Vec<Entry>) {
    let n = batch.len();
    let stored = db
        .run_write(move |c| {
            let mut ids: HashMap<TenantSlug, Option<TenantId>> = HashMap::new();
            for e in &batch {
                if e.tenant_id.is_none() && !ids.contains_key(&e.tenant) {
                    let id = crate::tenants::by_slug(c, &e.tenant).ok().map(|t| t.id);
                    ids.insert(e.tenant.clone(), id);
                }
            }
            // Requests for a tenant that does not exist belong to no one's log.
            let rows: Vec<Row<'_>> = batch
                .iter()
                .filter_map(|e| {
                    let tid = e
                        .tenant_id
                        .as_ref()
                        .or_else(|| ids.get(&e.tenant).and_then(Option::as_ref))?;
                    Some(Row::of(tid, e))
                })
                .collect();
            crate::db::write_tx(c, |c| insert_rows(c, &rows).map_err(DbError::from))
        })
        .await;
    match stored {
        Ok(()) => metrics::counter!("muster_activity_entries_total").increment(n as u64),
        Err(e) => tracing::error!(error = %e, entries = n, "activity entries could not be stored"),
    }
}

/// Stores one entry now (the command line, which runs no writer).
///
/// # Errors
/// Database errors.
pub fn insert(c: &mut DbConn, tenant: &TenantId, e: &Entry) -> Result<(), diesel::result::Error> {
    insert_rows(c, &[Row::of(tenant, e)])
}

/// Deletes entries older than the retention, hourly, in slices that keep each transaction
/// short. Every process may run it; deleting twice is harmless.
pub async fn prune_loop(db: Db, days: u32) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cutoff =
            format_time(time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)));
        loop {
            let c2 = cutoff.clone();
            let deleted: Result<usize, DbError> = db
                .run_write(move |c| {
                    // Oldest first by id: the scan stops at the first young entry.
                    let old: Vec<(i64, String)> = a::table
                        .order(a::id)
                        .select((a::id, a::at))
                        .limit(5_000)
                        .load(c)?;
                    let old: Vec<i64> = old
                        .into_iter()
                        .take_while(|(_, at)| *at < c2)
                        .map(|(id, _)| id)
                        .collect();
                    Ok(diesel::delete(a::table.filter(a::id.eq_any(old))).execute(c)?)
                })
                .await;
            match deleted {
                Ok(n) if n > 0 => tracing::info!(entries = n, "old activity entries deleted"),
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "activity retention failed");
                    break;
                }
            }
        }
    }
}

/// The authenticated caller of a SCIM request, for its entry.
#[derive(Debug, Clone)]
pub struct Credential {
    pub tenant_id: TenantId,
    pub name: String,
}

/// What a SCIM write changes, noted by its handler once the body is read.
#[derive(Debug, Clone)]
pub struct Change(pub String);

/// Why a page refused someone, noted when the page is rendered.
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

/// The user a sign-in signed in, noted on the answer that starts their session.
#[derive(Debug, Clone)]
pub struct Subject(pub String);

/// The `scimType` of an error answer, noted when the error is rendered.
#[derive(Debug, Clone)]
pub struct ScimTypeTag(pub String);

/// Notes what a request changes, for its activity entry.
pub fn note(req: &HttpRequest, summary: String) {
    req.extensions_mut().insert(Change(summary));
}

/// Cuts a text to `n` characters, marking the cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}
