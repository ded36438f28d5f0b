//! External identities: which user an identity provider's subject is. A link is made at the
//! first sign-in (or token) that resolves to a user (see `sso::link`), and is what later
//! sign-ins find first.

use crate::db::schema::{external_identities as ext, users};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use diesel::prelude::*;

/// The user the subject is linked to at this provider of the tenant.
///
/// # Errors
/// Database errors.
pub fn linked(
    c: &mut DbConn,
    tenant: &TenantId,
    idp_id: &str,
    subject: &str,
) -> Result<Option<UserId>, Error> {
    Ok(ext::table
        .find((idp_id, subject))
        .filter(ext::tenant_id.eq(tenant))
        .select(ext::user_id)
        .first(c)
        .optional()?)
}

/// [`linked`], with whether that user is active, in one read.
///
/// # Errors
/// Database errors.
pub fn linked_active(
    c: &mut DbConn,
    tenant: &TenantId,
    idp_id: &str,
    subject: &str,
) -> Result<Option<(UserId, bool)>, Error> {
    Ok(ext::table
        .inner_join(users::table.on(users::id.eq(ext::user_id)))
        .filter(ext::idp_id.eq(idp_id))
        .filter(ext::subject.eq(subject))
        .filter(ext::tenant_id.eq(tenant))
        .select((ext::user_id, users::active))
        .first(c)
        .optional()?)
}

/// The subject a user is linked to at a provider, if any.
///
/// # Errors
/// Database errors.
pub fn subject_of(c: &mut DbConn, idp_id: &str, user: &UserId) -> Result<Option<String>, Error> {
    Ok(ext::table
        .filter(ext::idp_id.eq(idp_id))
        .filter(ext::user_id.eq(user))
        .select(ext::subject)
        .first(c)
        .optional()?)
}

/// Links a subject to a user. A concurrent first login of the same person may have linked
/// them already, which is fine.
///
/// # Errors
/// Database errors.
pub fn link(
    c: &mut DbConn,
    tenant: &TenantId,
    idp_id: &str,
    subject: &str,
    user: &UserId,
) -> Result<(), Error> {
    let stamp = now();
    let linked = diesel::insert_into(ext::table)
        .values((
            ext::idp_id.eq(idp_id),
            ext::subject.eq(subject),
            ext::tenant_id.eq(tenant),
            ext::user_id.eq(user),
            ext::created_at.eq(&stamp),
            ext::last_login_at.eq(&stamp),
        ))
        .execute(c);
    match linked {
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Records a sign-in through a link.
///
/// # Errors
/// Database errors.
pub fn touch(c: &mut DbConn, idp_id: &str, subject: &str) -> Result<(), Error> {
    diesel::update(ext::table.find((idp_id, subject)))
        .set(ext::last_login_at.eq(now()))
        .execute(c)?;
    Ok(())
}

/// Drops one link (its user was deleted).
///
/// # Errors
/// Database errors.
pub fn unlink(c: &mut DbConn, idp_id: &str, subject: &str) -> Result<(), Error> {
    diesel::delete(ext::table.find((idp_id, subject))).execute(c)?;
    Ok(())
}

/// Drops every link of a user (the user is deleted).
///
/// # Errors
/// Database errors.
pub fn forget_user(c: &mut DbConn, user: &UserId) -> Result<(), Error> {
    diesel::delete(ext::table.filter(ext::user_id.eq(user))).execute(c)?;
    Ok(())
}

/// Drops every link of a provider (the provider is removed; its users stay).
///
/// # Errors
/// Database errors.
pub fn forget_idp(c: &mut DbConn, idp_id: &str) -> Result<(), Error> {
    diesel::delete(ext::table.filter(ext::idp_id.eq(idp_id))).execute(c)?;
    Ok(())
}
