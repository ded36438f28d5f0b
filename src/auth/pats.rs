//! Personal access tokens: bearer secrets a person makes for their own scripts. A token acts as
//! its user (with their role) on `/t/{tenant}/userinfo` and the admin API, and stops working
//! when it expires, is revoked, or its user is deactivated or deleted.

use super::shelf::Shelf;
use super::{record_use, secret, Listed, PAT_PREFIX};
use crate::db::schema::{personal_tokens as pt, tenants, users};
use crate::db::sql::Bind;
use crate::db::time::{format_time, now};
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::tenants::Tenant;
use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

/// A new token: the secret is shown here once and never again.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub token: String,
    pub expires_at: String,
}

/// How long a new token may work, in days (the server's settings).
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub default: u32,
    pub max: u32,
}

fn shelf<'a>(tenant: &'a TenantId, user: &'a UserId) -> Shelf<'a> {
    Shelf {
        table: "personal_tokens",
        owner: vec![("tenant_id", tenant.as_str()), ("user_id", user.as_str())],
    }
}

/// Makes a token for a user, working for `days` (the server's default when `None`). Every
/// token expires: a token that escapes must stop working on its own.
///
/// # Errors
/// An empty or taken name (`Invalid`/`Taken`), a lifetime outside 1 to `lifetime.max` days
/// (`Invalid { field: "days" }`).
pub fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    user: &UserId,
    name: &str,
    days: Option<u32>,
    lifetime: Lifetime,
) -> Result<Created, Error> {
    let name = super::credential_name(name)?;
    let days = days.unwrap_or(lifetime.default);
    if days == 0 || days > lifetime.max {
        return Err(Error::invalid_field(
            "days",
            format!("a token lasts 1 to {} days", lifetime.max),
        ));
    }
    let expires_at = format_time(OffsetDateTime::now_utc() + Duration::days(i64::from(days)));
    let taken = |name: &str| {
        format!("there is already a token named {name:?}; pick another name or revoke it")
    };
    let extra = vec![("expires_at", Bind::Text(expires_at.clone()))];
    let (id, token) = shelf(tenant, user).make(c, PAT_PREFIX, name, extra, taken)?;
    Ok(Created {
        id,
        name: name.to_owned(),
        token,
        expires_at,
    })
}

/// A user's tokens, newest first.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Vec<Listed>, Error> {
    shelf(tenant, user).list(c, true, "created_at DESC, name")
}

/// Revokes one of a user's tokens; requests bearing it fail from the next one on.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such token.
pub fn revoke(c: &mut DbConn, tenant: &TenantId, user: &UserId, id: &str) -> Result<(), Error> {
    if !shelf(tenant, user).revoke(c, "id", id)? {
        return Err(Error::NotFound(format!(
            "the user has no token with id {id:?}"
        )));
    }
    Ok(())
}

/// The person behind a token, with their tenant, while it is unexpired and its user active.
///
/// # Errors
/// Database errors; `Ok(None)` for a token that opens nothing.
pub fn authenticate(c: &mut DbConn, token: &str) -> Result<Option<(Tenant, UserId)>, Error> {
    let stamp = now();
    let found: Option<(String, Tenant, UserId, Option<String>)> = pt::table
        .inner_join(users::table.on(users::id.eq(pt::user_id)))
        .inner_join(tenants::table.on(tenants::id.eq(pt::tenant_id)))
        .filter(pt::token_hash.eq(secret::hash(token)))
        .filter(users::active.eq(true))
        .filter(pt::expires_at.is_null().or(pt::expires_at.gt(&stamp)))
        .select((pt::id, Tenant::as_select(), pt::user_id, pt::last_used_at))
        .first(c)
        .optional()?;
    let Some((id, tenant, user, last_used)) = found else {
        return Ok(None);
    };
    record_use(c, "personal_tokens", "id", &id, last_used.as_deref())?;
    Ok(Some((tenant, user)))
}
