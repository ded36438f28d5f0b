//! Server-side sessions. The browser holds a random id in an HttpOnly cookie; the database
//! holds only its hash, so a leaked table opens no session. A session is valid while it has
//! not expired and its user is active, checked on every use.

use crate::auth::secret;
use crate::db::schema::{sessions, users};
use crate::db::time::format_time;
use crate::db::DbConn;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use time::{Duration, OffsetDateTime};

/// The session cookie's name.
pub const COOKIE: &str = "muster_session";

/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::hours(12);

/// The signed-in user of a valid session.
#[derive(Debug, Clone)]
pub struct Session {
    pub tenant_id: String,
    pub user_id: String,
    pub idp_id: Option<String>,
    pub expires_at: String,
}

/// Starts a session and returns the id for the cookie (not stored; shown once).
///
/// # Errors
/// Database errors.
pub fn create(
    c: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    idp_id: Option<&str>,
) -> Result<String, DieselError> {
    let id = secret::generate("mss_");
    let now = OffsetDateTime::now_utc();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(secret::hash(&id)),
            sessions::tenant_id.eq(tenant_id),
            sessions::user_id.eq(user_id),
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
pub fn find(c: &mut DbConn, tenant_id: &str, id: &str) -> Result<Option<Session>, DieselError> {
    let now = format_time(OffsetDateTime::now_utc());
    let row: Option<(String, String, Option<String>, String)> = sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .filter(sessions::id_hash.eq(secret::hash(id)))
        .filter(sessions::tenant_id.eq(tenant_id))
        .filter(users::tenant_id.eq(tenant_id))
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
    Ok(row.map(|(tenant_id, user_id, idp_id, expires_at)| Session {
        tenant_id,
        user_id,
        idp_id,
        expires_at,
    }))
}

/// Ends one session (logout).
///
/// # Errors
/// Database errors.
pub fn end(c: &mut DbConn, id: &str) -> Result<(), DieselError> {
    diesel::delete(sessions::table.filter(sessions::id_hash.eq(secret::hash(id)))).execute(c)?;
    Ok(())
}

/// Ends every session of a user (deactivation, deletion, a new password).
///
/// # Errors
/// Database errors.
pub fn end_all(c: &mut DbConn, user_id: &str) -> Result<usize, DieselError> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(c)
}
