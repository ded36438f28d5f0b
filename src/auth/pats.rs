//! Personal access tokens: bearer secrets a person makes for their own scripts. A token acts as
//! its user (with their role) on `/t/{tenant}/userinfo` and the admin API, and stops working
//! when it expires, is revoked, or its user is deactivated or deleted.

use super::{record_use, secret, Listed, PAT_PREFIX};
use crate::db::schema::{personal_tokens as pt, tenants, users};
use crate::db::time::{format_time, now};
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::tenants::Tenant;
use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

/// The longest lifetime a token may be given.
pub const MAX_DAYS: u16 = 366;

/// A new token: the secret is shown here once and never again.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub token: String,
    pub expires_at: Option<String>,
}

/// Makes a token for a user; `days` of lifetime, or none for a token that lasts until revoked.
///
/// # Errors
/// An empty or taken name, a lifetime over [`MAX_DAYS`].
pub fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    user: &UserId,
    name: &str,
    days: Option<u16>,
) -> Result<Created, Error> {
    let name = super::credential_name(name)?;
    let expires_at = match days {
        Some(d) if d == 0 || d > MAX_DAYS => {
            return Err(Error::invalid(format!(
                "a token lasts 1 to {MAX_DAYS} days, or until revoked"
            )))
        }
        Some(d) => Some(format_time(
            OffsetDateTime::now_utc() + Duration::days(i64::from(d)),
        )),
        None => None,
    };
    let made = Created {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        token: secret::generate(PAT_PREFIX),
        expires_at,
    };
    diesel::insert_into(pt::table)
        .values((
            pt::id.eq(&made.id),
            pt::tenant_id.eq(tenant),
            pt::user_id.eq(user),
            pt::name.eq(&made.name),
            pt::token_hash.eq(secret::hash(&made.token)),
            pt::created_at.eq(now()),
            pt::expires_at.eq(&made.expires_at),
        ))
        .execute(c)
        .map_err(|e| match e {
            e if crate::db::is_unique_violation(&e) => Error::Taken(format!(
                "there is already a token named {name:?}; pick another name or revoke it"
            )),
            e => e.into(),
        })?;
    Ok(made)
}

/// A user's tokens, newest first.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Vec<Listed>, Error> {
    type Row = (String, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = pt::table
        .filter(pt::tenant_id.eq(tenant))
        .filter(pt::user_id.eq(user))
        .order((pt::created_at.desc(), pt::name))
        .select((
            pt::id,
            pt::name,
            pt::created_at,
            pt::expires_at,
            pt::last_used_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, expires_at, last_used_at)| Listed {
            id,
            name,
            created_at,
            expires_at,
            last_used_at,
        })
        .collect())
}

/// Revokes one of a user's tokens; requests bearing it fail from the next one on.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such token.
pub fn revoke(c: &mut DbConn, tenant: &TenantId, user: &UserId, id: &str) -> Result<(), Error> {
    let n = diesel::delete(
        pt::table
            .filter(pt::tenant_id.eq(tenant))
            .filter(pt::user_id.eq(user))
            .filter(pt::id.eq(id)),
    )
    .execute(c)?;
    if n == 0 {
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
