//! Who a person is in a tenant: found by userName or email, their role, whether they may sign
//! in, and the admin's deactivate, reactivate and delete. Deactivation goes through the same
//! store path as SCIM `active=false`, which ends the user's sessions in the same transaction.

use crate::db::schema::{attrs, groups, members, users};
use crate::db::text::{norm_str, same_identity};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::scim::patch;
use crate::scim::schema::Kind;
use crate::scim::store::{self, Key, Precondition};
use diesel::prelude::*;
use serde_json::{json, Value};

/// What a user may do in their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
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

crate::ids::stored_as_text!(Role);

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

/// The user whose userName is `name` (compared case-folded).
///
/// # Errors
/// Database errors.
pub fn by_user_name(
    c: &mut DbConn,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<UserId>, Error> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::user_name_key.eq(norm_str(name, false)))
        .select(users::id)
        .first(c)
        .optional()?)
}

/// Up to `limit` users with an email whose index key (case-folded) is `email`'s.
fn with_email_key(
    c: &mut DbConn,
    tenant: &TenantId,
    email: &str,
    limit: i64,
) -> Result<Vec<UserId>, Error> {
    Ok(attrs::table
        .filter(attrs::tenant_id.eq(tenant))
        .filter(attrs::rtype.eq(Kind::User.name()))
        .filter(attrs::path.eq("emails.value"))
        .filter(attrs::val.eq(norm_str(email, false)))
        .select(attrs::resource_id)
        .distinct()
        .limit(limit)
        .load(c)?)
}

/// The one user whose email is `email`; none when several share it (ambiguous, so no match).
///
/// # Errors
/// Database errors.
pub fn by_email(c: &mut DbConn, tenant: &TenantId, email: &str) -> Result<Option<UserId>, Error> {
    let ids = with_email_key(c, tenant, email, 2)?;
    Ok(match <[UserId; 1]>::try_from(ids) {
        Ok([one]) => Some(one),
        Err(_) => None,
    })
}

/// The user a sign-in may be linked to by userName: equal under [`same_identity`], which
/// folds ASCII case only, where [`by_user_name`] (the uniqueness key) folds all of Unicode.
///
/// # Errors
/// Database errors.
pub fn linkable_by_user_name(
    c: &mut DbConn,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<UserId>, Error> {
    let found: Option<(UserId, String)> = users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::user_name_key.eq(norm_str(name, false)))
        .select((users::id, users::user_name))
        .first(c)
        .optional()?;
    Ok(found
        .filter(|(_, stored)| same_identity(stored, name))
        .map(|(id, _)| id))
}

/// The one user a sign-in may be linked to by email: an address of theirs equal under
/// [`same_identity`], and no other user's. None when it is ambiguous.
///
/// # Errors
/// Database errors.
pub fn linkable_by_email(
    c: &mut DbConn,
    tenant: &TenantId,
    email: &str,
) -> Result<Option<UserId>, Error> {
    // The index folds more than linking may; it narrows the candidates, the documents decide.
    const CANDIDATES: i64 = 64;
    let ids = with_email_key(c, tenant, email, CANDIDATES)?;
    if ids.len() as i64 == CANDIDATES {
        return Ok(None);
    }
    let docs: Vec<(UserId, String)> = users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::doc))
        .load(c)?;
    let has = |doc: &str| {
        serde_json::from_str::<Value>(doc).is_ok_and(|d| {
            d["emails"].as_array().is_some_and(|list| {
                list.iter()
                    .filter_map(|e| e["value"].as_str())
                    .any(|v| same_identity(v.trim(), email))
            })
        })
    };
    let mut matching = docs.into_iter().filter(|(_, d)| has(d)).map(|(id, _)| id);
    Ok(match (matching.next(), matching.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    })
}

/// The one user whose SCIM `externalId` is exactly `value` (externalId is case-exact); none
/// when several share it.
///
/// # Errors
/// Database errors.
pub fn by_external_id(
    c: &mut DbConn,
    tenant: &TenantId,
    value: &str,
) -> Result<Option<UserId>, Error> {
    let ids: Vec<UserId> = users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::external_id.eq(value))
        .select(users::id)
        .limit(2)
        .load(c)?;
    Ok(match <[UserId; 1]>::try_from(ids) {
        Ok([one]) => Some(one),
        Err(_) => None,
    })
}

/// A user of the tenant by userName, or else by an email address only they have.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant: &TenantId, login: &str) -> Result<Option<UserId>, Error> {
    let login = login.trim();
    if login.is_empty() {
        return Ok(None);
    }
    match by_user_name(c, tenant, login)? {
        Some(id) => Ok(Some(id)),
        None => by_email(c, tenant, login),
    }
}

/// Like [`find`], or an error that names who was not found.
///
/// # Errors
/// No such user, database errors.
pub fn require(c: &mut DbConn, tenant: &TenantId, login: &str) -> Result<UserId, Error> {
    find(c, tenant, login)?
        .ok_or_else(|| Error::NotFound(format!("no user {login:?} in this tenant")))
}

/// The user `who` names: a userName, an email address, or else an id as given (a deleted
/// user's id still finds their activity entries).
///
/// # Errors
/// Database errors.
pub fn named(c: &mut DbConn, tenant: &TenantId, who: &str) -> Result<UserId, Error> {
    Ok(find(c, tenant, who)?.unwrap_or_else(|| UserId::from(who.trim())))
}

/// Whether a user of the tenant is active; `None` when there is no such user.
///
/// # Errors
/// Database errors.
pub fn active(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Option<bool>, Error> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::id.eq(user))
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
    tenant: &TenantId,
    user: &UserId,
    active: bool,
) -> Result<(), Error> {
    let ops = patch::parse_ops(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    }))?;
    let key = Key {
        tenant,
        kind: Kind::User,
        id: user.as_str(),
    };
    store::patch(c, key, &ops, None, &Precondition::default(), &now())?;
    Ok(())
}

/// The display names of the groups a user is in.
///
/// # Errors
/// Database errors.
pub fn group_names(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Vec<String>, Error> {
    Ok(members::table
        .inner_join(groups::table.on(groups::id.eq(members::group_id)))
        .filter(members::member_id.eq(user))
        .filter(groups::tenant_id.eq(tenant))
        .order(groups::display_name)
        .select(groups::display_name)
        .load(c)?)
}

/// An admin's delete: refused while the user is in a group, which the admin removes them from
/// first (a SCIM DELETE from the IdP, the source of truth, always succeeds).
///
/// # Errors
/// [`Error::Conflict`] naming the groups; database errors.
pub fn delete(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<(), Error> {
    let names = group_names(c, tenant, user)?;
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
    store::delete(
        c,
        tenant,
        Kind::User,
        user.as_str(),
        &Precondition::default(),
    )?;
    Ok(())
}

/// A user's userName and role; `None` when the tenant has no such user.
///
/// # Errors
/// Database errors, a stored role muster does not know.
pub fn name_and_role(
    c: &mut DbConn,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Option<(String, Role)>, Error> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::id.eq(user))
        .select((users::user_name, users::role))
        .first(c)
        .optional()?)
}

/// Gives a user a role.
///
/// # Errors
/// [`Error::NotFound`] for an unknown user.
pub fn set_role(c: &mut DbConn, tenant: &TenantId, user: &UserId, role: Role) -> Result<(), Error> {
    let n = diesel::update(
        users::table
            .filter(users::tenant_id.eq(tenant))
            .filter(users::id.eq(user)),
    )
    .set(users::role.eq(role))
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "no user with id {user:?} in this tenant"
        )));
    }
    Ok(())
}

/// Who a user is, as tokens, userinfo, emails and the account page show them.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: UserId,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub groups: Vec<String>,
}

/// The primary email of a User document, or its first.
pub fn primary_email(doc: &Value) -> Option<String> {
    let emails = doc.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.first())?
        .get("value")?
        .as_str()
        .map(str::to_owned)
}

/// Reads a user of the tenant, with the display names of their groups.
///
/// # Errors
/// Database errors.
pub fn person(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Option<Person>, Error> {
    let Some(stored) = store::find(c, tenant, Kind::User, user.as_str())? else {
        return Ok(None);
    };
    let doc = Value::Object(stored.doc);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    Ok(Some(Person {
        id: user.clone(),
        user_name: text(doc.get("userName")),
        display_name: text(doc.get("displayName")),
        given_name: text(doc.get("name").and_then(|n| n.get("givenName"))),
        family_name: text(doc.get("name").and_then(|n| n.get("familyName"))),
        email: primary_email(&doc),
        active: doc.get("active") != Some(&Value::Bool(false)),
        groups: group_names(c, tenant, user)?,
    }))
}
