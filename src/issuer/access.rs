//! Access tokens for a tenant's apps: a signed-in person trades their session for a
//! short-lived ES256 JWT, which apps check against `/.well-known/jwks.json` and which
//! `GET /t/{tenant}/userinfo` and SCIM `/Me` accept.
//!
//! `iss` is muster's public URL (one JWKS for every tenant); `aud` is the tenant's URL and the
//! `tenant` claim its slug, so a token of one tenant is worth nothing at another.

use super::{issuer, keys, LEEWAY_SECS};
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::TenantSlug;
use crate::people::users::Person;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

/// How long an access token lives, in seconds.
pub const LIFETIME_SECS: i64 = 900;

/// What a muster access token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The audience of a tenant's tokens: the tenant's URL.
pub fn audience(public_url: &str, tenant: &TenantSlug) -> String {
    format!("{}/t/{tenant}", issuer(public_url))
}

/// Signs an access token for an active person of the tenant.
///
/// # Errors
/// [`Error::Unauthenticated`] for an inactive person; key errors.
pub fn issue(
    c: &mut DbConn,
    public_url: &str,
    tenant: &TenantSlug,
    person: Person,
) -> Result<(String, AccessClaims), Error> {
    if !person.active {
        return Err(Error::Unauthenticated("the user is not active".into()));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = AccessClaims {
        iss: issuer(public_url),
        sub: person.id.into_string(),
        aud: audience(public_url, tenant),
        exp: now + LIFETIME_SECS,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.to_string(),
        preferred_username: person.user_name,
        email: person.email,
        name: person.display_name,
        groups: person.groups,
    };
    let jwt = keys::sign(c, &claims)?;
    Ok((jwt, claims))
}

/// Checks a token for the tenant: muster's key by `kid`, ES256 only, issuer, audience, expiry,
/// tenant. Whether its user is still active is the caller's question.
///
/// # Errors
/// [`Error::Unauthenticated`] with the reason.
pub fn verify(
    c: &mut DbConn,
    public_url: &str,
    tenant: &TenantSlug,
    token: &str,
) -> Result<AccessClaims, Error> {
    let mut v = Validation::new(Algorithm::ES256);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[issuer(public_url)]);
    v.set_audience(&[audience(public_url, tenant)]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims: AccessClaims = keys::verify(c, token, &v)?.map_err(Error::Unauthenticated)?;
    if claims.tenant != tenant.as_str() {
        return Err(Error::Unauthenticated(
            "the token belongs to another tenant".into(),
        ));
    }
    Ok(claims)
}
