//! The provisioning activity log: every SCIM request of a tenant (who, what, the outcome, and a
//! summary of what changed), its sign-ins and the admin actions on it.
//!
//! Requests hand entries to an in-process queue and go on; one writer per process stores them
//! in batches on the write connection, so a SCIM GET never becomes a database write of its own
//! and a burst of requests shares one transaction. A graceful shutdown stores what is queued; a
//! crash can lose the last fraction of a second of entries, never a user write. Values of
//! secrets (passwords, tokens) never reach an entry: summaries name attributes, and show values
//! only of a few harmless ones.

use crate::db::schema::activity as a;
use crate::db::time::format_time;
use crate::db::{Db, DbConn, DbError};
use crate::error::Error;
use crate::scim::schema::Kind;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use diesel::prelude::*;
use serde_json::Value;
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

/// One thing that happened in a tenant.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The tenant's id, when the request got far enough to know it; else found by `tenant`.
    pub tenant_id: Option<String>,
    pub tenant: String,
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
    pub fn new(kind: &'static str, tenant: &str) -> Entry {
        Entry {
            kind,
            tenant: tenant.to_owned(),
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
        }
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
    fn of(tenant_id: &'e str, e: &'e Entry) -> Row<'e> {
        Row {
            tenant_id,
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
            let mut ids: HashMap<String, Option<String>> = HashMap::new();
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
                        .as_deref()
                        .or_else(|| ids.get(&e.tenant).and_then(|i| i.as_deref()))?;
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
pub fn insert(c: &mut DbConn, tenant_id: &str, e: &Entry) -> Result<(), diesel::result::Error> {
    insert_rows(c, &[Row::of(tenant_id, e)])
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
    pub tenant_id: String,
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

fn state_of(req: &HttpRequest) -> Option<crate::app::AppState> {
    req.app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map(|s| s.get_ref().clone())
}

/// The resource type a path is about, and the id it names: `/scim/v2/t/Users/<id>`
/// (`/Users/.search` names none).
fn resource_in_path(path: &str) -> Option<(Kind, Option<String>)> {
    let mut parts = path.split('/').skip(4);
    let kind = match parts.next()? {
        "Users" => Kind::User,
        "Groups" => Kind::Group,
        _ => return None,
    };
    let id = parts
        .next()
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
        .map(str::to_owned);
    Some((kind, id))
}

/// Middleware of the SCIM scope: records every request once it is answered.
///
/// # Errors
/// Those of the handler.
pub async fn scim(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = state_of(req.request()).filter(|s| s.activity.enabled()) else {
        return next.call(req).await;
    };
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let query = req.query_string().to_owned();
    let res = next.call(req).await?;
    let mut e = Entry::new("scim", path.split('/').nth(3).unwrap_or_default());
    e.status = res.status().as_u16();
    e.scim_type = res
        .response()
        .extensions()
        .get::<ScimTypeTag>()
        .map(|t| t.0.clone());
    {
        let ext = res.request().extensions();
        match ext.get::<Credential>() {
            Some(c) => {
                e.tenant_id = Some(c.tenant_id.clone());
                e.actor.clone_from(&c.name);
            }
            None => e.actor = "no valid credential".into(),
        }
        e.summary = ext.get::<Change>().map(|c| c.0.clone()).unwrap_or_default();
        e.request_id = ext.get::<crate::ops::RequestId>().map(|r| r.0.clone());
    }
    let (kind, named) = resource_in_path(&path).unzip();
    let created = || {
        res.headers()
            .get(actix_web::http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .map(str::to_owned)
    };
    e.resource_id = named.flatten().or_else(created);
    if kind == Some(Kind::User) {
        e.user_id.clone_from(&e.resource_id);
    }
    if e.summary.is_empty() && method == "DELETE" && e.status < 300 {
        e.summary = "deleted".into();
    }
    e.method = method;
    e.path = if query.is_empty() {
        path
    } else {
        // Filters name people (userName eq "..."): kept, for the admin who asks who looked.
        format!("{path}?{}", clip(&query, 300))
    };
    state.activity.record(e).await;
    Ok(res)
}

/// Middleware of the tenant pages: records sign-ins (password and SSO) and the account
/// forms (invitation, forgotten and new password), with the outcome. Paths are written as
/// their route pattern, so the secret in an invitation or reset link never reaches the log.
///
/// # Errors
/// Those of the handler.
pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let pattern = req.match_pattern().unwrap_or_default();
    let post = req.method() == actix_web::http::Method::POST;
    let what = match pattern.rsplit_once("/t/{tenant}").map_or("", |(_, p)| p) {
        "/login" if post => Some(("sign-in", "password".to_owned())),
        "/sso/{idp}/callback" | "/sso/{idp}/acs" => Some((
            "sign-in",
            // The scope's own middleware runs before `{idp}` is matched: read it off the path.
            format!(
                "sso {}",
                req.path()
                    .split("/sso/")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .unwrap_or_default()
            ),
        )),
        "/invite/{token}" if post => Some(("account", "invitation".to_owned())),
        "/forgot" if post => Some(("account", "forgotten password".to_owned())),
        "/reset/{token}" if post => Some(("account", "password reset".to_owned())),
        _ => None,
    };
    let state = state_of(req.request()).filter(|s| s.activity.enabled());
    let (Some((kind, actor)), Some(state)) = (what, state) else {
        return next.call(req).await;
    };
    let tenant = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_owned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let mut e = Entry::new(kind, &tenant);
    e.actor = actor;
    e.method = method;
    e.path = pattern;
    e.status = res.status().as_u16();
    {
        let ext = res.response().extensions();
        e.user_id = ext.get::<Subject>().map(|s| s.0.clone());
        e.summary = match (ext.get::<Refusal>(), &e.user_id, e.status) {
            (Some(r), _, _) => format!("refused: {}", clip(&r.0, 300)),
            (None, Some(_), _) => "signed in".to_owned(),
            (None, None, 401) => "refused: wrong name or password".to_owned(),
            (None, None, 429) => "refused: too many attempts (throttled)".to_owned(),
            (None, None, s) if s >= 400 => "refused".to_owned(),
            (None, None, _) => "answered".to_owned(),
        };
    }
    e.request_id = res
        .request()
        .extensions()
        .get::<crate::ops::RequestId>()
        .map(|r| r.0.clone());
    state.activity.record(e).await;
    Ok(res)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}

/// Attributes whose values an entry shows; every other attribute is named without its value.
const SHOWN: &[&str] = &["userName", "displayName", "externalId", "active"];

fn show(attr: &str, v: &Value) -> String {
    let base = attr.split(['.', '[']).next().unwrap_or(attr);
    if base.eq_ignore_ascii_case("password") {
        return format!("{base} (redacted)");
    }
    match SHOWN.iter().find(|s| s.eq_ignore_ascii_case(base)) {
        Some(_) if !v.is_object() && !v.is_array() => {
            format!("{attr}={}", clip(&v.to_string(), 80))
        }
        _ => attr.to_owned(),
    }
}

/// The attribute list of a created or replaced resource.
pub fn describe_resource(verb: &str, body: &Value) -> String {
    let Some(obj) = body.as_object() else {
        return verb.to_owned();
    };
    let mut parts = Vec::new();
    for (k, v) in obj {
        if k == "schemas" || k == "id" || k == "meta" {
            continue;
        }
        if k == "members" {
            let n = v.as_array().map_or(0, Vec::len);
            parts.push(format!("members ({n})"));
        } else if k.starts_with("urn:") {
            let names: Vec<String> = v
                .as_object()
                .map(|o| o.iter().map(|(k2, v2)| show(k2, v2)).collect())
                .unwrap_or_default();
            parts.push(format!("extension ({})", names.join(", ")));
        } else {
            parts.push(show(k, v));
        }
    }
    format!("{verb}: {}", parts.join(", "))
}

fn member_ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn listed(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    let more = ids.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// What a PATCH does, operation by operation: attributes added, replaced and removed, members
/// added and removed.
pub fn describe_patch(body: &Value) -> String {
    let Some(ops) = body.get("Operations").and_then(Value::as_array) else {
        return "patched".into();
    };
    let mut parts = Vec::new();
    for op in ops {
        let verb = op
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_ascii_lowercase();
        let path = op.get("path").and_then(Value::as_str);
        let value = op.get("value").unwrap_or(&Value::Null);
        match (verb.as_str(), path) {
            ("add", Some(p)) if p.eq_ignore_ascii_case("members") => {
                let ids = member_ids(value);
                parts.push(format!("members added ({}): {}", ids.len(), listed(&ids)));
            }
            ("remove", Some(p)) if p.to_ascii_lowercase().starts_with("members") => {
                let ids = member_ids(value);
                let ids = if ids.is_empty() {
                    // remove members[value eq "id"]
                    p.split('"')
                        .nth(1)
                        .map(|s| vec![s.to_owned()])
                        .unwrap_or_default()
                } else {
                    ids
                };
                if ids.is_empty() {
                    parts.push("all members removed".into());
                } else {
                    parts.push(format!("members removed ({}): {}", ids.len(), listed(&ids)));
                }
            }
            ("replace", Some(p)) if p.eq_ignore_ascii_case("members") => {
                let ids = member_ids(value);
                parts.push(format!(
                    "members replaced ({}): {}",
                    ids.len(),
                    listed(&ids)
                ));
            }
            ("remove", Some(p)) => parts.push(format!("removed {p}")),
            (v, Some(p)) => parts.push(format!("{v} {}", show(p, value))),
            (v, None) => {
                let names: Vec<String> = value
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, x)| {
                                if k.eq_ignore_ascii_case("members") {
                                    format!("members ({})", member_ids(x).len())
                                } else {
                                    show(k, x)
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                parts.push(format!("{v} {}", names.join(", ")));
            }
        }
    }
    parts.join("; ")
}

/// What a Bulk request asks for.
pub fn describe_bulk(body: &Value) -> String {
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let each: Vec<String> = ops
        .iter()
        .take(20)
        .map(|o| {
            format!(
                "{} {}",
                o.get("method").and_then(Value::as_str).unwrap_or("?"),
                o.get("path").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    let more = ops.len().saturating_sub(each.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "bulk of {} operations: {}{tail}",
        ops.len(),
        each.join(", ")
    )
}

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
    pub tenant_id: String,
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
    if let Some(t) = crate::db::time::normalize_time(s) {
        return Ok(t);
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a time: give 2026-11-23T10:00:00Z, or 90m, 24h, 7d"))?;
    let age = match unit {
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => return Err(format!("{s:?}: the unit is m, h or d")),
    };
    Ok(format_time(time::OffsetDateTime::now_utc() - age))
}

/// The user `--user` names: an id, a userName or an email address (a deleted user's id still
/// finds their entries).
///
/// # Errors
/// Database errors.
pub fn user_filter(c: &mut DbConn, tenant_id: &str, user: &str) -> Result<String, Error> {
    Ok(crate::people::users::find(c, tenant_id, user)?.unwrap_or_else(|| user.trim().to_owned()))
}

/// A page of a tenant's entries, newest first, and the `before` of the next page.
///
/// # Errors
/// Database errors.
pub fn list(
    c: &mut DbConn,
    tenant_id: &str,
    q: &Query,
) -> Result<(Vec<Stored>, Option<i64>), Error> {
    let limit = q.limit.clamp(1, 1000);
    let mut query = a::table.filter(a::tenant_id.eq(tenant_id)).into_boxed();
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
    use serde_json::json;

    #[test]
    fn summaries_name_changes_and_never_carry_secrets() {
        let created = describe_resource(
            "created",
            &json!({"schemas": [], "userName": "ada", "password": "hunter2-secret", "active": true, "name": {"givenName": "Ada"}}),
        );
        assert_eq!(
            created,
            "created: userName=\"ada\", password (redacted), active=true, name"
        );
        let patched = describe_patch(&json!({"Operations": [
            {"op": "Replace", "path": "active", "value": false},
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"},
            {"op": "replace", "value": {"password": "s3cret!", "displayName": "Ada L"}},
            {"op": "remove", "path": "title"},
        ]}));
        assert_eq!(
            patched,
            "replace active=false; members added (2): u1, u2; members removed (1): u3; \
             replace password (redacted), displayName=\"Ada L\"; removed title"
        );
        assert!(!patched.contains("s3cret") && !created.contains("hunter2"));
    }

    #[test]
    fn paths_name_their_resource() {
        assert_eq!(
            resource_in_path("/scim/v2/acme/Users/u1"),
            Some((Kind::User, Some("u1".to_owned())))
        );
        assert_eq!(
            resource_in_path("/scim/v2/acme/Groups"),
            Some((Kind::Group, None))
        );
        assert_eq!(
            resource_in_path("/scim/v2/acme/Users/.search"),
            Some((Kind::User, None))
        );
        assert_eq!(resource_in_path("/scim/v2/acme/Schemas/x"), None);
    }

    #[test]
    fn filters_parse() {
        assert_eq!(status_filter("4xx"), Ok((400, 499)));
        assert_eq!(status_filter("409"), Ok((409, 409)));
        assert!(status_filter("teapot").is_err());
        assert!(since_filter("24h").is_ok());
        assert!(since_filter("2026-11-23T10:00:00Z").is_ok());
        assert!(since_filter("yesterday").is_err());
    }
}
