//! The admin's actions on one user: find by userName or email, deactivate, reactivate, delete.
//! Deactivation goes through the same store path as SCIM `active=false`, which ends the user's
//! sessions in the same transaction.

use super::scim;
use crate::db::schema::{groups, members, users};
use crate::db::DbConn;
use crate::scim::index::norm_str;
use crate::scim::patch;
use crate::scim::schema::Kind;
use crate::scim::store::{self, Key, Precondition};
use crate::tenants::{now, TenantError};
use diesel::prelude::*;
use serde_json::json;

/// A user of the tenant by userName, or else by an email address only they have.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant_id: &str, login: &str) -> Result<Option<String>, TenantError> {
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
    crate::sso::link::by_email(c, tenant_id, login).map_err(|e| TenantError::Invalid(e.to_string()))
}

/// Like [`find`], or an error that names who was not found.
///
/// # Errors
/// No such user, database errors.
pub fn require(c: &mut DbConn, tenant_id: &str, login: &str) -> Result<String, TenantError> {
    find(c, tenant_id, login)?
        .ok_or_else(|| TenantError::Invalid(format!("no user {login:?} in this tenant")))
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
) -> Result<(), TenantError> {
    let ops = patch::parse_ops(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    }))
    .map_err(scim)?;
    let key = Key {
        tenant: tenant_id,
        kind: Kind::User,
        id: user_id,
    };
    store::patch(c, key, &ops, None, &Precondition::default(), &now()).map_err(scim)?;
    Ok(())
}

/// The display names of the groups a user is in.
///
/// # Errors
/// Database errors.
pub fn group_names(
    c: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<String>, TenantError> {
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
/// [`TenantError::Conflict`] naming the groups; database errors.
pub fn delete(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<(), TenantError> {
    let names = group_names(c, tenant_id, user_id)?;
    if !names.is_empty() {
        return Err(TenantError::Conflict(format!(
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
    store::delete(c, tenant_id, Kind::User, user_id, &Precondition::default()).map_err(scim)
}
