//! Platform admin tokens: bearers that act on every tenant through the admin API. Made on the
//! command line (`muster admin-token create`), the one place that needs no token to begin with.

use super::shelf::Shelf;
use super::{record_use, secret, Listed, ADMIN_PREFIX};
use crate::db::schema::admin_tokens as at;
use crate::db::DbConn;
use crate::error::Error;
use diesel::prelude::*;

/// Platform tokens belong to no tenant.
fn shelf() -> Shelf<'static> {
    Shelf {
        table: "admin_tokens",
        owner: Vec::new(),
    }
}

/// Makes a token and returns the secret, which is not stored and cannot be shown again.
///
/// # Errors
/// An empty or taken name.
pub fn create(c: &mut DbConn, name: &str) -> Result<String, Error> {
    let taken = |name: &str| {
        format!("there is already an admin token named {name:?}; pick another name or revoke it")
    };
    Ok(shelf().make(c, ADMIN_PREFIX, name, Vec::new(), taken)?.1)
}

/// Every admin token by name.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn) -> Result<Vec<Listed>, Error> {
    shelf().list(c, false, "name")
}

/// Revokes a token by name.
///
/// # Errors
/// [`Error::NotFound`].
pub fn revoke(c: &mut DbConn, name: &str) -> Result<(), Error> {
    if !shelf().revoke(c, "name", name)? {
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
