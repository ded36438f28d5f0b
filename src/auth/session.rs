//! Server-side sessions. The browser holds a random id in an HttpOnly cookie; the database
//! holds only its hash, so a leaked table opens no session. A session is valid while it has
//! not expired and its user is active, checked on every use. (The cookie itself is
//! `http::session`'s.)

use super::secret;
use crate::db::schema::{sessions, users};
use crate::db::time::format_time;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::hours(12);

/// The signed-in user of a valid session.
#[derive(Debug, Clone)]
pub struct Session {
    pub tenant: TenantId,
    pub user: UserId,
    /// The identity provider the person signed in through; none for a password.
    pub idp_id: Option<String>,
    pub expires_at: String,
}

/// Starts a session and returns the id for the cookie (not stored; shown once).
///
/// # Errors
/// Database errors.
pub fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    user: &UserId,
    idp_id: Option<&str>,
) -> Result<String, Error> {
    let id = secret::generate("mss_");
    let now = OffsetDateTime::now_utc();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(secret::hash(&id)),
            sessions::tenant_id.eq(tenant),
            sessions::user_id.eq(user),
            sessions::idp_id.eq(idp_id),
            sessions::created_at.eq(format_time(now)),
            sessions::expires_at.eq(format_time(now + LIFETIME)),
        ))
        .execute(c)?;
    Ok(id)
}

/// The session behind a cookie value, if it belongs to this tenant, has not expired and its
/// user is still active.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant: &TenantId, id: &str) -> Result<Option<Session>, Error> {
    let now = format_time(OffsetDateTime::now_utc());
    let row: Option<(TenantId, UserId, Option<String>, String)> = sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .filter(sessions::id_hash.eq(secret::hash(id)))
        .filter(sessions::tenant_id.eq(tenant))
        .filter(users::tenant_id.eq(tenant))
        .filter(users::active.eq(true))
        .filter(sessions::expires_at.gt(&now))
        .select((
            sessions::tenant_id,
            sessions::user_id,
            sessions::idp_id,
            sessions::expires_at,
        ))
        .first(c)
        .optional()?;
    Ok(row.map(|(tenant, user, idp_id, expires_at)| Session {
        tenant,
        user,
        idp_id,
        expires_at,
    }))
}

/// Ends one session (logout).
///
/// # Errors
/// Database errors.
pub fn end(c: &mut DbConn, id: &str) -> Result<(), Error> {
    diesel::delete(sessions::table.filter(sessions::id_hash.eq(secret::hash(id)))).execute(c)?;
    Ok(())
}

/// Ends every session of a user (deactivation, deletion, a new password).
///
/// # Errors
/// Database errors.
pub fn end_all(c: &mut DbConn, user: &UserId) -> Result<usize, Error> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user))).execute(c)?)
}
