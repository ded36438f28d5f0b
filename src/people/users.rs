//! The admin's actions on one user: find by userName or email, deactivate, reactivate, delete.
//! Deactivation goes through the same store path as SCIM `active=false`, which ends the user's
//! sessions in the same transaction.

use crate::db::schema::{groups, members, users};
use crate::db::text::norm_str;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::scim::patch;
use crate::scim::schema::Kind;
use crate::scim::store::{self, Key, Precondition};
use diesel::prelude::*;
use serde_json::json;

/// A user of the tenant by userName, or else by an email address only they have.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant_id: &str, login: &str) -> Result<Option<String>, Error> {
    let login = login.trim();
    if login.is_empty() {
        return Ok(None);
    }
    let by_name: Option<String> = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::user_name_key.eq(norm_str(login, false)))
        .select(users::id)
        .first(c)
        .optional()?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    crate::sso::link::by_email(c, tenant_id, login).map_err(|e| Error::invalid(e.to_string()))
}

/// Like [`find`], or an error that names who was not found.
///
/// # Errors
/// No such user, database errors.
pub fn require(c: &mut DbConn, tenant_id: &str, login: &str) -> Result<String, Error> {
    find(c, tenant_id, login)?
        .ok_or_else(|| Error::NotFound(format!("no user {login:?} in this tenant")))
}

/// Whether a user of the tenant is active; `None` when there is no such user.
///
/// # Errors
/// Database errors.
pub fn active(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<Option<bool>, Error> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(user_id))
        .select(users::active)
        .first(c)
        .optional()?)
}

/// Sets `active`; deactivating ends every session of the user at once.
///
/// # Errors
/// Database and store errors.
pub fn set_active(
    c: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    active: bool,
) -> Result<(), Error> {
    let ops = patch::parse_ops(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    }))
    .map_err(Error::from)?;
    let key = Key {
        tenant: tenant_id,
        kind: Kind::User,
        id: user_id,
    };
    store::patch(c, key, &ops, None, &Precondition::default(), &now()).map_err(Error::from)?;
    Ok(())
}

/// The display names of the groups a user is in.
///
/// # Errors
/// Database errors.
pub fn group_names(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<Vec<String>, Error> {
    Ok(members::table
        .inner_join(groups::table.on(groups::id.eq(members::group_id)))
        .filter(members::member_id.eq(user_id))
        .filter(groups::tenant_id.eq(tenant_id))
        .order(groups::display_name)
        .select(groups::display_name)
        .load(c)?)
}

/// An admin's delete: refused while the user is in a group, which the admin removes them from
/// first (a SCIM DELETE from the IdP, the source of truth, always succeeds).
///
/// # Errors
/// [`Error::Conflict`] naming the groups; database errors.
pub fn delete(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<(), Error> {
    let names = group_names(c, tenant_id, user_id)?;
    if !names.is_empty() {
        return Err(Error::Conflict(format!(
            "the user is still a member of {}; remove them from {} first",
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            if names.len() == 1 {
                "it"
            } else {
                "those groups"
            }
        )));
    }
    store::delete(c, tenant_id, Kind::User, user_id, &Precondition::default()).map_err(Error::from)
}

/// What a user may do in their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Signs in and manages their own tokens.
    Member,
    /// Administers the tenant through the admin API.
    Admin,
}

impl Role {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: use member or admin")),
        }
    }
}

/// A user's userName and role; `None` when the tenant has no such user.
///
/// # Errors
/// Database errors.
pub fn name_and_role(
    c: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<(String, Role)>, Error> {
    let stored: Option<(String, String)> = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(user_id))
        .select((users::user_name, users::role))
        .first(c)
        .optional()?;
    Ok(stored.map(|(name, r)| (name, r.parse().unwrap_or(Role::Member))))
}

/// Gives a user a role.
///
/// # Errors
/// [`Error::NotFound`] for an unknown user.
pub fn set_role(c: &mut DbConn, tenant_id: &str, user_id: &str, role: Role) -> Result<(), Error> {
    let n = diesel::update(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(user_id)),
    )
    .set(users::role.eq(role.as_str()))
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "no user with id {user_id:?} in this tenant"
        )));
    }
    Ok(())
}

/// A user as the admin API lists them.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub role: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Which users to list: `q` is a case-insensitive part of the userName, display name or an
/// email address; `after` is the cursor of the previous page.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub after: Option<String>,
    pub limit: i64,
}

/// One page of a tenant's users in userName order, and the cursor of the next page (the last
/// userName key of this one) when there may be more.
///
/// # Errors
/// Database errors.
pub fn list(
    c: &mut DbConn,
    tenant_id: &str,
    s: &Search,
) -> Result<(Vec<Listed>, Option<String>), Error> {
    use crate::db::schema::attrs;
    let mut query = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .into_boxed();
    if let Some(q) = s.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = crate::db::text::contains_pattern(&norm_str(q, false));
        let by_email = attrs::table
            .filter(attrs::tenant_id.eq(tenant_id))
            .filter(attrs::rtype.eq(Kind::User.name()))
            .filter(attrs::path.eq("emails.value"))
            .filter(attrs::val.like(pattern.clone()).escape('\\'))
            .select(attrs::resource_id);
        query = query.filter(
            users::user_name_key
                .like(pattern.clone())
                .escape('\\')
                .or(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("lower(display_name) LIKE ")
                        .bind::<diesel::sql_types::Text, _>(pattern)
                        .sql(" ESCAPE '\\'"),
                )
                .or(users::id.eq_any(by_email)),
        );
    }
    if let Some(active) = s.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(role) = s.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    if let Some(after) = &s.after {
        query = query.filter(users::user_name_key.gt(after.clone()));
    }
    let limit = s.limit.clamp(1, 500);
    let rows: Vec<(String, Row)> = query
        .order(users::user_name_key)
        .limit(limit + 1)
        .select((users::user_name_key, COLUMNS))
        .load(c)?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let mut next = None;
    let mut out = Vec::with_capacity(rows.len());
    for (key, row) in rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
    {
        next = Some(key);
        out.push(listed(row));
    }
    Ok((out, next.filter(|_| more)))
}

/// The primary email of a User document, or its first.
pub fn primary_email(doc: &serde_json::Value) -> Option<String> {
    let emails = doc.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&serde_json::Value::Bool(true)))
        .or_else(|| emails.first())?
        .get("value")?
        .as_str()
        .map(str::to_owned)
}

/// One user by id.
///
/// # Errors
/// [`Error::NotFound`].
pub fn get(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<Listed, Error> {
    let row: Row = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(user_id))
        .select(COLUMNS)
        .first(c)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("no user with id {user_id:?} in this tenant")))?;
    Ok(listed(row))
}

/// id, userName, displayName, externalId, active, role, created, updated, document.
type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
    String,
    String,
    String,
    String,
);

type Columns = (
    users::id,
    users::user_name,
    users::display_name,
    users::external_id,
    users::active,
    users::role,
    users::created_at,
    users::updated_at,
    users::doc,
);

const COLUMNS: Columns = (
    users::id,
    users::user_name,
    users::display_name,
    users::external_id,
    users::active,
    users::role,
    users::created_at,
    users::updated_at,
    users::doc,
);

fn listed(row: Row) -> Listed {
    let (id, user_name, display_name, external_id, active, role, created_at, updated_at, doc) = row;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
    Listed {
        id,
        user_name,
        display_name,
        email: primary_email(&doc),
        external_id,
        active,
        role,
        created_at,
        updated_at,
    }
}
