//! Users and Groups in the database: the resource row (hot columns plus the document), its
//! filter-index rows, and membership rows. Every write is one transaction that locks the
//! resource first (`BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL), so concurrent
//! PATCHes serialise instead of losing each other's changes.

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::Filter;
use super::index;
use super::patch::{self, MemberOp, Op};
use super::query::{sort_expr, FilterCompiler};
use super::resource::{etag, Doc, Incoming, Related};
use super::schema::Kind;
use crate::db::sql::{self, Bind, Builder, Sql};
use crate::db::text::norm_str;
use crate::db::{is_unique_violation, write_tx, DbConn, Dialect};
use crate::ids::{TenantId, UserId};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Rows per multi-row INSERT / IN list: 1,000 members are one statement, and 7 columns of
/// 1,000 rows stay well under both backends' bind limits (32,766 and 65,535).
const CHUNK: usize = 1000;

/// A resource as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub doc: Doc,
    pub version: i64,
    pub created: String,
    pub updated: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    doc: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Text)]
    updated_at: String,
}

impl Row {
    fn into_stored(self) -> ScimResult<Stored> {
        let doc = match serde_json::from_str(&self.doc) {
            Ok(Value::Object(doc)) => doc,
            _ => {
                return Err(ScimError::internal(&format!(
                    "corrupt document {}",
                    self.id
                )))
            }
        };
        Ok(Stored {
            id: self.id,
            doc,
            version: self.version,
            created: self.created_at,
            updated: self.updated_at,
        })
    }
}

fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "users",
        Kind::Group => "groups",
    }
}

const COLUMNS: &str = "r.id, r.doc, r.version, r.created_at, r.updated_at";

/// Which resource a write is for.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub tenant: &'a TenantId,
    pub kind: Kind,
    pub id: &'a str,
}

/// The conditions under which a write goes ahead (RFC 7644 §3.14).
#[derive(Debug, Clone, Default)]
pub struct Precondition {
    /// `If-Match`: the ETag the client last saw, or `*`.
    pub if_match: Option<String>,
}

impl Precondition {
    fn check(&self, current: &Stored) -> ScimResult<()> {
        match &self.if_match {
            Some(tags) if !tags.split(',').any(|t| etag_matches(t, current.version)) => {
                Err(ScimError::status(
                    412,
                    format!(
                        "the resource changed: its version is now {}",
                        etag(current.version)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Weak comparison (RFC 9110 §8.8.3.2): `W/"3"`, `"3"` and `*` all match version 3.
pub fn etag_matches(tag: &str, version: i64) -> bool {
    let tag = tag.trim();
    tag == "*" || tag.trim_start_matches("W/") == etag(version).trim_start_matches("W/")
}

/// Reads one resource of a tenant.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant: &TenantId, kind: Kind, id: &str) -> ScimResult<Option<Stored>> {
    find_inner(c, tenant, kind, id, false)
}

fn find_inner(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
    for_update: bool,
) -> ScimResult<Option<Stored>> {
    let mut b = Builder::new(c.dialect());
    b.push(&format!(
        "SELECT {COLUMNS} FROM {} r WHERE r.tenant_id = ",
        table(kind)
    ));
    b.text(tenant).push(" AND r.id = ").text(id);
    if for_update && c.dialect() == Dialect::Postgres {
        b.push(" FOR UPDATE");
    }
    let rows: Vec<Row> = sql::load(c, &b.sql)?;
    rows.into_iter().next().map(Row::into_stored).transpose()
}

fn locked(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
    pre: &Precondition,
) -> ScimResult<Stored> {
    let current = find_inner(c, tenant, kind, id, true)?
        .ok_or_else(|| ScimError::not_found(kind.name(), id))?;
    pre.check(&current)?;
    Ok(current)
}

/// The hot columns of a user row, derived from its document.
struct UserColumns {
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    active: bool,
}

fn user_columns(doc: &Doc) -> UserColumns {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    UserColumns {
        user_name: s("userName").unwrap_or_default(),
        external_id: s("externalId"),
        display_name: s("displayName"),
        active: doc.get("active") != Some(&Value::Bool(false)),
    }
}

fn doc_text(doc: &Doc) -> String {
    Value::Object(doc.clone()).to_string()
}

fn uniqueness(e: diesel::result::Error, doc: &Doc) -> ScimError {
    if is_unique_violation(&e) {
        let name = doc
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        ScimError::conflict(format!("userName {name:?} is already taken in this tenant"))
    } else {
        ScimError::from(e)
    }
}

/// Creates a resource. `password_hash` is already computed (argon2 runs outside the
/// transaction).
///
/// # Errors
/// 409 `uniqueness` for a taken userName; 400 `invalidValue` for unknown member ids.
pub fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    incoming: Incoming,
    password_hash: Option<String>,
    now: &str,
) -> ScimResult<Stored> {
    let id = uuid::Uuid::new_v4().to_string();
    let doc = incoming.doc;
    write_tx(c, |c| {
        let mut b = Builder::new(c.dialect());
        match kind {
            Kind::User => {
                let u = user_columns(&doc);
                b.push("INSERT INTO users (id, tenant_id, user_name, user_name_key, external_id, \
                        display_name, active, doc, password_hash, version, created_at, updated_at) VALUES (");
                b.text(&id)
                    .push(", ")
                    .text(tenant)
                    .push(", ")
                    .text(&u.user_name)
                    .push(", ");
                b.text(norm_str(&u.user_name, false))
                    .push(", ")
                    .bind(Bind::OptText(u.external_id))
                    .push(", ");
                b.bind(Bind::OptText(u.display_name))
                    .push(", ")
                    .bind(Bind::Bool(u.active))
                    .push(", ");
                b.text(doc_text(&doc))
                    .push(", ")
                    .bind(Bind::OptText(password_hash))
                    .push(", 1, ");
                b.text(now).push(", ").text(now).push(")");
            }
            Kind::Group => {
                let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
                b.push(
                    "INSERT INTO groups (id, tenant_id, display_name, external_id, doc, version, \
                        created_at, updated_at) VALUES (",
                );
                b.text(&id)
                    .push(", ")
                    .text(tenant)
                    .push(", ")
                    .text(s("displayName").unwrap_or_default());
                b.push(", ")
                    .bind(Bind::OptText(s("externalId")))
                    .push(", ")
                    .text(doc_text(&doc));
                b.push(", 1, ").text(now).push(", ").text(now).push(")");
            }
        }
        sql::exec(c, &b.sql).map_err(|e| uniqueness(e, &doc))?;
        write_index(c, tenant, kind, &id, &doc, false)?;
        if let Some(members) = &incoming.members {
            add_members(c, tenant, &id, members)?;
        }
        Ok(Stored {
            id: id.clone(),
            doc: doc.clone(),
            version: 1,
            created: now.to_owned(),
            updated: now.to_owned(),
        })
    })
}

/// Rewrites the index rows of a resource.
fn write_index(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
    doc: &Doc,
    existed: bool,
) -> ScimResult<()> {
    let dialect = c.dialect();
    if existed {
        let mut b = Builder::new(dialect);
        b.push("DELETE FROM attrs WHERE resource_id = ").text(id);
        sql::exec(c, &b.sql)?;
    }
    for chunk in index::rows(kind, doc).chunks(CHUNK) {
        let mut b = Builder::new(dialect);
        b.push("INSERT INTO attrs (tenant_id, rtype, resource_id, path, elem, val, num) VALUES ");
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.push("(")
                .text(tenant)
                .push(", ")
                .text(kind.name())
                .push(", ")
                .text(id)
                .push(", ");
            b.text(row.path.as_str())
                .push(", ")
                .bind(Bind::Int(i64::from(row.elem)))
                .push(", ");
            b.bind(Bind::OptText(row.val.clone()))
                .push(", ")
                .bind(Bind::OptNum(row.num))
                .push(")");
        }
        sql::exec(c, &b.sql)?;
    }
    Ok(())
}

/// Saves a changed document and bumps the version.
fn save(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    cur: &mut Stored,
    doc: Doc,
    hash: Option<String>,
    now: &str,
) -> ScimResult<()> {
    let mut b = Builder::new(c.dialect());
    b.push(&format!("UPDATE {} SET doc = ", table(kind)));
    b.text(doc_text(&doc))
        .push(", version = version + 1, updated_at = ")
        .text(now);
    match kind {
        Kind::User => {
            let u = user_columns(&doc);
            b.push(", user_name = ")
                .text(&u.user_name)
                .push(", user_name_key = ")
                .text(norm_str(&u.user_name, false));
            b.push(", external_id = ")
                .bind(Bind::OptText(u.external_id));
            b.push(", display_name = ")
                .bind(Bind::OptText(u.display_name));
            b.push(", active = ").bind(Bind::Bool(u.active));
            if let Some(h) = hash {
                b.push(", password_hash = ").text(h);
            }
        }
        Kind::Group => {
            let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
            b.push(", display_name = ")
                .text(s("displayName").unwrap_or_default());
            b.push(", external_id = ")
                .bind(Bind::OptText(s("externalId")));
        }
    }
    b.push(" WHERE tenant_id = ")
        .text(tenant)
        .push(" AND id = ")
        .text(&cur.id);
    sql::exec(c, &b.sql).map_err(|e| uniqueness(e, &doc))?;
    if doc != cur.doc {
        write_index(c, tenant, kind, &cur.id, &doc, true)?;
    }
    // Deprovisioning takes effect at once: an inactive user keeps no session.
    if kind == Kind::User && !user_columns(&doc).active {
        crate::auth::user_gone(c, &UserId::from(cur.id.as_str()), false)?;
    }
    cur.doc = doc;
    cur.version += 1;
    now.clone_into(&mut cur.updated);
    Ok(())
}

/// PUT: replaces the document. A Group's members are replaced when the body names `members`
/// and left alone otherwise.
///
/// # Errors
/// 404, 412, 409 `uniqueness`, 400 `invalidValue` for unknown member ids.
pub fn replace(
    c: &mut DbConn,
    Key { tenant, kind, id }: Key<'_>,
    incoming: Incoming,
    password_hash: Option<String>,
    pre: &Precondition,
    now: &str,
) -> ScimResult<Stored> {
    write_tx(c, |c| {
        let mut cur = locked(c, tenant, kind, id, pre)?;
        save(c, tenant, kind, &mut cur, incoming.doc, password_hash, now)?;
        if let Some(members) = &incoming.members {
            apply_members(c, tenant, id, &[MemberOp::Replace(members.clone())])?;
        }
        Ok(cur)
    })
}

/// PATCH: applies the operations atomically. Nothing changes (not even the version) when the
/// operations leave the resource as it was.
///
/// # Errors
/// Those of [`patch::apply`], 404, 412, 409, and unknown member ids.
pub fn patch(
    c: &mut DbConn,
    Key { tenant, kind, id }: Key<'_>,
    ops: &[Op],
    password_hash: Option<String>,
    pre: &Precondition,
    now: &str,
) -> ScimResult<Stored> {
    write_tx(c, |c| {
        let mut cur = locked(c, tenant, kind, id, pre)?;
        let patched = patch::apply(kind, &cur.doc, ops)?;
        let members_changed = apply_members(c, tenant, id, &patched.members)?;
        if patched.doc != cur.doc || password_hash.is_some() {
            save(c, tenant, kind, &mut cur, patched.doc, password_hash, now)?;
        } else if members_changed {
            touch(c, tenant, &mut cur, now)?;
        }
        Ok(cur)
    })
}

/// Bumps a group's version after a membership change.
fn touch(c: &mut DbConn, tenant: &TenantId, cur: &mut Stored, now: &str) -> ScimResult<()> {
    let mut b = Builder::new(c.dialect());
    b.push("UPDATE groups SET version = version + 1, updated_at = ")
        .text(now);
    b.push(" WHERE tenant_id = ")
        .text(tenant)
        .push(" AND id = ")
        .text(&cur.id);
    sql::exec(c, &b.sql)?;
    cur.version += 1;
    now.clone_into(&mut cur.updated);
    Ok(())
}

/// DELETE: removes the resource, its index rows and its memberships (both directions).
///
/// # Errors
/// 404, 412.
pub fn delete(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
    pre: &Precondition,
) -> ScimResult<()> {
    write_tx(c, |c| {
        locked(c, tenant, kind, id, pre)?;
        let dialect = c.dialect();
        for stmt in [
            "DELETE FROM attrs WHERE resource_id = ",
            "DELETE FROM members WHERE member_id = ",
            "DELETE FROM members WHERE group_id = ",
        ] {
            let mut b = Builder::new(dialect);
            b.push(stmt).text(id);
            sql::exec(c, &b.sql)?;
        }
        if kind == Kind::User {
            crate::auth::user_gone(c, &UserId::from(id), true)?;
        }
        let mut b = Builder::new(dialect);
        b.push(&format!("DELETE FROM {} WHERE tenant_id = ", table(kind)));
        b.text(tenant).push(" AND id = ").text(id);
        sql::exec(c, &b.sql)?;
        Ok(())
    })
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The ids among `ids` that are neither a user nor a group of the tenant.
fn unknown_ids(c: &mut DbConn, tenant: &TenantId, ids: &[String]) -> ScimResult<Vec<String>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(c.dialect());
        tenant_ids(&mut b, tenant, chunk, |b, _| {
            b.push("id");
        });
        found.extend(sql::load::<Id>(c, &b.sql)?.into_iter().map(|r| r.id));
    }
    Ok(ids
        .iter()
        .filter(|i| !found.contains(*i))
        .cloned()
        .collect())
}

/// `SELECT <columns> FROM users WHERE tenant_id = ? AND id IN (ids) UNION ALL` the same for
/// groups: the ids that exist in the tenant, whichever kind they are. `columns` writes the
/// select list for each kind.
fn tenant_ids(
    b: &mut Builder,
    tenant: &TenantId,
    ids: &[String],
    columns: impl Fn(&mut Builder, Kind),
) {
    for (i, kind) in [Kind::User, Kind::Group].into_iter().enumerate() {
        if i > 0 {
            b.push(" UNION ALL ");
        }
        kind_ids(b, kind, tenant, ids, &columns);
    }
}

/// `SELECT <columns> FROM <kind's table> WHERE tenant_id = ? AND id IN (ids)`.
fn kind_ids(
    b: &mut Builder,
    kind: Kind,
    tenant: &TenantId,
    ids: &[String],
    columns: impl Fn(&mut Builder, Kind),
) {
    b.push("SELECT ");
    columns(b, kind);
    b.push(&format!(" FROM {} WHERE tenant_id = ", table(kind)));
    b.text(tenant).push(" AND id IN (");
    in_list(b, ids);
    b.push(")");
}

fn in_list(b: &mut Builder, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.text(id.as_str());
    }
}

/// Adds members with `INSERT ... SELECT`: the database finds each id among the tenant's users
/// (then, for ids not found there, its groups), which also gives its type, and skips rows
/// already there, so adding 1,000 members moves no rows through muster. Only when fewer rows
/// went in than ids came does it count what is there, and only when ids are missing does it
/// look for which. Returns whether any row was added.
fn add_members(c: &mut DbConn, tenant: &TenantId, group: &str, ids: &[String]) -> ScimResult<bool> {
    let mut added = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut inserted = 0;
        for kind in [Kind::User, Kind::Group] {
            let mut b = Builder::new(c.dialect());
            b.push("INSERT INTO members (tenant_id, group_id, member_id, member_type) ");
            kind_ids(&mut b, kind, tenant, chunk, |b, kind| {
                b.text(tenant).push(", ").text(group);
                b.push(&format!(", id, '{}'", kind.name()));
            });
            b.push(" ON CONFLICT DO NOTHING");
            inserted += sql::exec(c, &b.sql)?;
            if inserted == chunk.len() {
                break;
            }
        }
        added += inserted;
        if inserted == chunk.len() {
            continue;
        }
        // Some ids were already members, or are unknown: count the rows now there.
        let mut b = Builder::new(c.dialect());
        b.push("SELECT COUNT(*) AS n FROM members WHERE group_id = ")
            .text(group);
        b.push(" AND member_id IN (");
        in_list(&mut b, chunk);
        b.push(")");
        let present = sql::load::<Count>(c, &b.sql)?.first().map_or(0, |r| r.n);
        if usize::try_from(present).ok() != Some(chunk.len()) {
            let unknown = unknown_ids(c, tenant, chunk)?;
            let shown: Vec<&str> = unknown.iter().take(10).map(String::as_str).collect();
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("members not found in this tenant: {}", shown.join(", ")),
            ));
        }
    }
    Ok(added > 0)
}

fn remove_members(c: &mut DbConn, group: &str, ids: Option<&[String]>) -> ScimResult<bool> {
    let dialect = c.dialect();
    let Some(ids) = ids else {
        let mut b = Builder::new(dialect);
        b.push("DELETE FROM members WHERE group_id = ").text(group);
        return Ok(sql::exec(c, &b.sql)? > 0);
    };
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(dialect);
        b.push("DELETE FROM members WHERE group_id = ")
            .text(group)
            .push(" AND member_id IN (");
        in_list(&mut b, chunk);
        b.push(")");
        removed += sql::exec(c, &b.sql)?;
    }
    Ok(removed > 0)
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    other: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    display: Option<String>,
}

fn current_members(c: &mut DbConn, group: &str) -> ScimResult<Vec<MemberRow>> {
    let mut b = Builder::new(c.dialect());
    b.push(
        "SELECT group_id AS owner, member_id AS other, member_type AS kind, NULL AS display \
            FROM members WHERE group_id = ",
    )
    .text(group);
    Ok(sql::load(c, &b.sql)?)
}

/// Applies membership changes in order; returns whether anything changed.
fn apply_members(
    c: &mut DbConn,
    tenant: &TenantId,
    group: &str,
    ops: &[MemberOp],
) -> ScimResult<bool> {
    let mut changed = false;
    for op in ops {
        changed |= match op {
            MemberOp::Add(ids) => add_members(c, tenant, group, ids)?,
            MemberOp::Remove(ids) => remove_members(c, group, Some(ids))?,
            MemberOp::RemoveAll => remove_members(c, group, None)?,
            MemberOp::Replace(ids) => {
                // A diff, so replacing 1,000 members with the same 1,000 writes nothing.
                let have: Vec<String> = current_members(c, group)?
                    .into_iter()
                    .map(|m| m.other)
                    .collect();
                let gone: Vec<String> = have.iter().filter(|h| !ids.contains(h)).cloned().collect();
                let new: Vec<String> = ids.iter().filter(|i| !have.contains(i)).cloned().collect();
                let a = remove_members(c, group, Some(&gone))?;
                add_members(c, tenant, group, &new)? || a
            }
            MemberOp::RemoveWhere(f) => {
                let hits: Vec<String> = current_members(c, group)?
                    .into_iter()
                    .filter(|m| {
                        let el = serde_json::json!({"value": m.other, "type": m.kind});
                        super::filter::matches(f, &el, &|p| p.name.eq_ignore_ascii_case("value"))
                    })
                    .map(|m| m.other)
                    .collect();
                remove_members(c, group, Some(&hits))?
            }
        };
    }
    Ok(changed)
}

/// A Group's members or a User's groups, for a page of resources, in one query.
///
/// # Errors
/// Database errors.
pub fn related(
    c: &mut DbConn,
    kind: Kind,
    ids: &[String],
) -> ScimResult<HashMap<String, Vec<Related>>> {
    let mut out: HashMap<String, Vec<Related>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(c.dialect());
        match kind {
            // members[].display is optional (RFC 7643 §4.2) and left out: clients that
            // compare members with what they sent expect none, and it saves two joins.
            Kind::Group => b.push(
                "SELECT m.group_id AS owner, m.member_id AS other, m.member_type AS kind, \
                 NULL AS display FROM members m WHERE m.group_id IN (",
            ),
            Kind::User => b.push(
                "SELECT m.member_id AS owner, m.group_id AS other, 'Group' AS kind, \
                 g.display_name AS display FROM members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.member_id IN (",
            ),
        };
        in_list(&mut b, chunk);
        b.push(") ORDER BY 1, 2");
        for row in sql::load::<MemberRow>(c, &b.sql)? {
            out.entry(row.owner).or_default().push(Related {
                id: row.other,
                kind: if row.kind == "Group" {
                    Kind::Group
                } else {
                    Kind::User
                },
                display: row.display,
            });
        }
    }
    Ok(out)
}

/// A list request, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<String>,
    pub descending: bool,
    /// 1-based.
    pub start: i64,
    pub count: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn list_from(b: &mut Builder, tenant: &TenantId, kind: Kind, q: &ListQuery) -> ScimResult<()> {
    b.push(&format!(" FROM {} r WHERE r.tenant_id = ", table(kind)))
        .text(tenant);
    if let Some(f) = &q.filter {
        b.push(" AND ");
        FilterCompiler { b, tenant, kind }.compile(f)?;
    }
    Ok(())
}

/// The SQL of one page of a list (exposed so tests can ask the planner how it runs).
///
/// # Errors
/// `invalidFilter`, `invalidValue` for an unknown `sortBy`.
pub fn page_sql(dialect: Dialect, tenant: &TenantId, kind: Kind, q: &ListQuery) -> ScimResult<Sql> {
    let mut b = Builder::new(dialect);
    b.push(&format!("SELECT {COLUMNS}"));
    list_from(&mut b, tenant, kind, q)?;
    b.push(" ORDER BY ");
    if let Some(sort_by) = &q.sort_by {
        let expr = sort_expr(kind, sort_by)?;
        // NULLs last in both directions, the same on both backends.
        let dir = if q.descending { "DESC" } else { "ASC" };
        b.push(&format!("({expr}) IS NULL, {expr} {dir}, "));
    }
    b.push("r.created_at, r.id LIMIT ");
    b.bind(Bind::Int(q.count))
        .push(" OFFSET ")
        .bind(Bind::Int(q.start - 1));
    Ok(b.sql)
}

/// Runs a filtered, sorted, paged list in the database: one COUNT and one page query.
///
/// # Errors
/// `invalidFilter` for filters that do not compile; database errors.
pub fn list(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    q: &ListQuery,
) -> ScimResult<(i64, Vec<Stored>)> {
    let mut b = Builder::new(c.dialect());
    b.push("SELECT COUNT(*) AS n");
    list_from(&mut b, tenant, kind, q)?;
    let total = sql::load::<Count>(c, &b.sql)?.first().map_or(0, |r| r.n);
    if q.count == 0 || q.start > total {
        return Ok((total, Vec::new()));
    }
    let rows: Vec<Row> = sql::load(c, &page_sql(c.dialect(), tenant, kind, q)?)?;
    let items = rows
        .into_iter()
        .map(Row::into_stored)
        .collect::<ScimResult<Vec<_>>>()?;
    Ok((total, items))
}
