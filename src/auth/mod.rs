//! Credentials: every kind of secret that opens something in muster, how each is stored (only
//! as a hash, shown once), told apart, checked and revoked.
//!
//! - SCIM tokens (`mst_scim_…`) open one tenant's SCIM endpoint ([`scim_tokens`]);
//! - platform admin tokens (`mst_admin_…`) open the admin API for every tenant
//!   ([`admin_tokens`]);
//! - personal access tokens (`mst_pat_…`) act as their person ([`pats`]);
//! - sessions (`mss_…`, in a cookie) are a person signed in through a browser ([`session`]);
//! - JWTs are muster's own (access tokens, OAuth client tokens; see `issuer`) or the tenant's
//!   IdP's (TokenIntrospectors, see `sso::introspect`);
//! - external identities link an IdP's subject to a user ([`identities`]).
//!
//! [`classify`] tells a bearer's kind from its shape, with no lookup; who it belongs to is
//! decided in one place, `http::caller`.

pub mod admin_tokens;
pub mod identities;
pub mod password;
pub mod pats;
pub mod scim_tokens;
pub mod secret;
pub mod session;
mod shelf;

use crate::db::sql::Builder;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::UserId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The prefix of every SCIM token.
pub const SCIM_PREFIX: &str = "mst_scim_";
/// The prefix of every platform admin token.
pub const ADMIN_PREFIX: &str = "mst_admin_";
/// The prefix of every personal access token.
pub const PAT_PREFIX: &str = "mst_pat_";

/// What a bearer token is, by its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A tenant's SCIM token.
    Scim,
    /// A platform admin token.
    Admin,
    /// A personal access token.
    Personal,
    /// A JWT muster signed: an app's access token or an OAuth client's token.
    Muster,
    /// A JWT another issuer signed: the tenant's IdP, through a TokenIntrospector.
    Idp,
    /// Anything else: opens nothing.
    Unknown,
}

/// Tells what kind of credential a bearer is. A JWT is muster's own when its (unverified)
/// `iss` is `muster_issuer`; the signature is checked later, by whoever verifies that kind.
pub fn classify(bearer: &str, muster_issuer: &str) -> Kind {
    if bearer.starts_with(SCIM_PREFIX) {
        Kind::Scim
    } else if bearer.starts_with(ADMIN_PREFIX) {
        Kind::Admin
    } else if bearer.starts_with(PAT_PREFIX) {
        Kind::Personal
    } else if bearer.split('.').count() == 3 {
        match issuer_of(bearer) {
            Some(iss) if iss != muster_issuer => Kind::Idp,
            _ => Kind::Muster,
        }
    } else {
        Kind::Unknown
    }
}

/// The payload of a JWT, unverified: only to choose who should verify it.
pub fn peek(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The issuer a JWT claims, unverified.
pub fn issuer_of(token: &str) -> Option<String> {
    peek(token)?.get("iss")?.as_str().map(str::to_owned)
}

/// The `Authorization: Bearer` value of a request, if it has a non-empty one.
pub fn bearer(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        })
        .filter(|t| !t.is_empty())
}

/// A credential's name, trimmed: 1 to 100 characters.
///
/// # Errors
/// [`Error::Invalid`] (field `name`) for an empty or longer name.
pub fn credential_name(name: &str) -> Result<&str, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_field(
            "name",
            "give a name of 1 to 100 characters",
        ));
    }
    Ok(name)
}

/// A credential as listed: never its secret.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// Records that the credential `id` (the row of `table` whose `key` column is `id`) was used,
/// when its last recorded use is a minute old or more: authentication then does not turn
/// every read into a write.
///
/// # Errors
/// Database errors.
pub fn record_use(
    c: &mut DbConn,
    table: &'static str,
    key: &'static str,
    id: &str,
    last_used: Option<&str>,
) -> Result<(), Error> {
    let now = time::OffsetDateTime::now_utc();
    let stale = crate::db::time::format_time(now - time::Duration::minutes(1));
    if last_used.is_some_and(|t| t >= stale.as_str()) {
        return Ok(());
    }
    let mut b = Builder::new(c.dialect());
    b.push(&format!("UPDATE {table} SET last_used_at = "))
        .text(crate::db::time::format_time(now))
        .push(&format!(" WHERE {key} = "))
        .text(id);
    crate::db::sql::exec(c, &b.sql)?;
    Ok(())
}

/// What a user losing access means for their credentials, in the transaction that takes it
/// away: deactivated, their sessions end; deleted, their IdP links go too. The store calls
/// this, so SCIM, the admin API and sign-in all end access the same way.
///
/// # Errors
/// Database errors.
pub fn user_gone(c: &mut DbConn, user: &UserId, deleted: bool) -> Result<(), Error> {
    session::end_all(c, user)?;
    if deleted {
        identities::forget_user(c, user)?;
    }
    Ok(())
}

/// What a new password means, in the transaction that stores it: the person's sessions end
/// (whoever knew the old one is signed out) and their outstanding reset links stop working.
///
/// # Errors
/// Database errors.
pub fn password_changed(c: &mut DbConn, user: &UserId) -> Result<(), Error> {
    use crate::db::schema::password_resets as pr;
    use diesel::prelude::*;
    session::end_all(c, user)?;
    diesel::update(
        pr::table
            .filter(pr::user_id.eq(user))
            .filter(pr::used_at.is_null()),
    )
    .set(pr::used_at.eq(crate::db::time::now()))
    .execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearers_are_told_apart_by_shape() {
        let jwt = |iss: &str| {
            let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{iss}"}}"#));
            format!("eyJhbGciOiJFUzI1NiJ9.{payload}.sig")
        };
        let ours = "https://id.example";
        assert_eq!(classify("mst_scim_abc", ours), Kind::Scim);
        assert_eq!(classify("mst_admin_abc", ours), Kind::Admin);
        assert_eq!(classify("mst_pat_abc", ours), Kind::Personal);
        assert_eq!(classify(&jwt(ours), ours), Kind::Muster);
        assert_eq!(classify(&jwt("https://idp.example"), ours), Kind::Idp);
        assert_eq!(classify("a.b.c", ours), Kind::Muster);
        assert_eq!(classify("opaque", ours), Kind::Unknown);
    }
}
