//! Users and Groups in the database: the resource row (hot columns plus the document), its
//! filter-index rows, and membership rows ([`members`]); lists in [`list`]. Every write is one transaction that locks the
//! resource first (`BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL), so concurrent
//! PATCHes serialise instead of losing each other's changes.

mod list;
mod members;
mod password;

pub use list::{list, page_sql, ListQuery};
pub use members::related;
pub use password::Password;

use crate::db::sql::{self, Bind, Builder};
use crate::db::text::norm_str;
use crate::db::{is_unique_violation, write_tx, DbConn, Dialect};
use crate::ids::{TenantId, UserId};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::index;
use crate::scim::patch::{self, MemberOp, Op};
use crate::scim::resource::{Doc, Incoming};
use crate::scim::response::etag;
use crate::scim::schema::Kind;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use members::{add_members, apply_members};
use serde_json::Value;

/// Rows per multi-row INSERT / IN list: 1,000 members are one statement, and 7 columns of
/// 1,000 rows stay well under both backends' bind limits (32,766 and 65,535).
pub(super) const CHUNK: usize = 1000;

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
pub(super) struct Row {
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
    pub(super) fn into_stored(self) -> ScimResult<Stored> {
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

pub(super) fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "users",
        Kind::Group => "groups",
    }
}

pub(super) const COLUMNS: &str = "r.id, r.doc, r.version, r.created_at, r.updated_at";

/// A `COUNT(*) AS n`.
#[derive(QueryableByName)]
pub(super) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

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

/// Creates a resource. A password is already hashed (argon2 runs outside the transaction).
///
/// # Errors
/// 409 `uniqueness` for a taken userName; 400 `invalidValue` for unknown member ids or a
/// password that fails the policy.
pub fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    incoming: Incoming,
    password: Option<Password>,
    now: &str,
) -> ScimResult<Stored> {
    let id = uuid::Uuid::new_v4().to_string();
    let doc = incoming.doc;
    write_tx(c, |c| {
        let password_hash = password::to_store(c, tenant, None, &doc, password)?;
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
    password: Option<Password>,
    now: &str,
) -> ScimResult<()> {
    let hash = match kind {
        Kind::User => password::to_store(c, tenant, Some(&cur.id), &doc, password)?,
        Kind::Group => None,
    };
    let new_password = hash.is_some();
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
    if new_password {
        password::changed(c, &cur.id)?;
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
    password: Option<Password>,
    pre: &Precondition,
    now: &str,
) -> ScimResult<Stored> {
    write_tx(c, |c| {
        let mut cur = locked(c, tenant, kind, id, pre)?;
        save(c, tenant, kind, &mut cur, incoming.doc, password, now)?;
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
    password: Option<Password>,
    pre: &Precondition,
    now: &str,
) -> ScimResult<Stored> {
    write_tx(c, |c| {
        let mut cur = locked(c, tenant, kind, id, pre)?;
        let patched = patch::apply(kind, &cur.doc, ops)?;
        let members_changed = apply_members(c, tenant, id, &patched.members)?;
        if patched.doc != cur.doc || password.is_some() {
            save(c, tenant, kind, &mut cur, patched.doc, password, now)?;
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
