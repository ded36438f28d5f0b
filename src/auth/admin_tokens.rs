//! Platform admin tokens: bearers that act on every tenant through the admin API. Made on the
//! command line (`muster admin-token create`), the one place that needs no token to begin with.

use super::{record_use, secret, Listed, ADMIN_PREFIX};
use crate::db::schema::admin_tokens as at;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use diesel::prelude::*;

/// Makes a token and returns the secret, which is not stored and cannot be shown again.
///
/// # Errors
/// An empty or taken name.
pub fn create(c: &mut DbConn, name: &str) -> Result<String, Error> {
    let name = super::credential_name(name)?;
    let token = secret::generate(ADMIN_PREFIX);
    diesel::insert_into(at::table)
        .values((
            at::id.eq(uuid::Uuid::new_v4().to_string()),
            at::name.eq(name),
            at::token_hash.eq(secret::hash(&token)),
            at::created_at.eq(now()),
        ))
        .execute(c)
        .map_err(|e| match e {
            e if crate::db::is_unique_violation(&e) => Error::Taken(format!(
                "there is already an admin token named {name:?}; pick another name or revoke it"
            )),
            e => e.into(),
        })?;
    Ok(token)
}

/// Every admin token by name.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn) -> Result<Vec<Listed>, Error> {
    let rows: Vec<(String, String, String, Option<String>)> = at::table
        .order(at::name)
        .select((at::id, at::name, at::created_at, at::last_used_at))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at)| Listed {
            id,
            name,
            created_at,
            expires_at: None,
            last_used_at,
        })
        .collect())
}

/// Revokes a token by name.
///
/// # Errors
/// [`Error::NotFound`].
pub fn revoke(c: &mut DbConn, name: &str) -> Result<(), Error> {
    let n = diesel::delete(at::table.filter(at::name.eq(name))).execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!("no admin token named {name:?}")));
    }
    Ok(())
}

/// The name of the admin token `token`, if it is one.
///
/// # Errors
/// Database errors.
pub fn authenticate(c: &mut DbConn, token: &str) -> Result<Option<String>, Error> {
    let found: Option<(String, String, Option<String>)> = at::table
        .filter(at::token_hash.eq(secret::hash(token)))
        .select((at::id, at::name, at::last_used_at))
        .first(c)
        .optional()?;
    let Some((id, name, last_used)) = found else {
        return Ok(None);
    };
    record_use(c, "admin_tokens", "id", &id, last_used.as_deref())?;
    Ok(Some(name))
}
