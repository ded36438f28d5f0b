//! Access tokens for a tenant's apps: a signed-in person trades their session for a
//! short-lived ES256 JWT (`POST /t/{tenant}/token`), which apps check against
//! `/.well-known/jwks.json` and which `GET /t/{tenant}/userinfo` and SCIM `/Me` accept.
//!
//! `iss` is muster's public URL (one JWKS for every tenant); `aud` is the tenant's URL and the
//! `tenant` claim its slug, so a token of one tenant is worth nothing at another.

use super::session;
use crate::app::AppState;
use crate::db::DbConn;
use crate::keys;
use crate::scim::schema::Kind;
use crate::scim::store;
use crate::tenants::{self, Tenant};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long an access token lives, in seconds.
pub const LIFETIME_SECS: i64 = 900;

/// Clock skew tolerated when checking `exp`.
const LEEWAY_SECS: u64 = 30;

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

/// Why a token or a request for one is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not signed in (no session, or no valid bearer).
    #[error("{0}")]
    Unauthenticated(String),
    /// A token that does not verify.
    #[error("{0}")]
    Invalid(String),
    /// muster cannot serve the request now; retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<keys::KeyError> for TokenError {
    fn from(e: keys::KeyError) -> TokenError {
        TokenError::Internal(e.to_string())
    }
}

impl From<crate::error::Error> for TokenError {
    fn from(e: crate::error::Error) -> TokenError {
        use crate::error::Error;
        match e {
            // The tenant in the URL does not exist: nobody can be signed in to it.
            Error::NotFound(m) => TokenError::Unauthenticated(m),
            Error::Unavailable(m) => TokenError::Unavailable(m),
            other => TokenError::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for TokenError {
    fn from(e: crate::db::DbError) -> TokenError {
        crate::error::Error::from(e).into()
    }
}

impl From<diesel::result::Error> for TokenError {
    fn from(e: diesel::result::Error) -> TokenError {
        crate::error::Error::from(e).into()
    }
}

impl From<crate::scim::error::ScimError> for TokenError {
    fn from(e: crate::scim::error::ScimError) -> TokenError {
        TokenError::Internal(e.to_string())
    }
}

impl actix_web::ResponseError for TokenError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            TokenError::Unauthenticated(_) | TokenError::Invalid(_) => {
                actix_web::http::StatusCode::UNAUTHORIZED
            }
            TokenError::Unavailable(_) => actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Internal(_) => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// RFC 6750 answers: `invalid_token` for a bad bearer, a bare challenge when none came.
    fn error_response(&self) -> HttpResponse {
        let (code, challenge) = match self {
            TokenError::Unauthenticated(_) => ("login_required", "Bearer".to_owned()),
            TokenError::Invalid(_) => (
                "invalid_token",
                r#"Bearer error="invalid_token""#.to_owned(),
            ),
            TokenError::Unavailable(_) => {
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .insert_header((header::RETRY_AFTER, "1"))
                    .json(json!({"error": "temporarily_unavailable"}));
            }
            TokenError::Internal(e) => {
                tracing::error!(error = %e, "token request failed");
                return HttpResponse::InternalServerError()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(json!({"error": "server_error"}));
            }
        };
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"error": code, "error_description": self.to_string()}))
    }
}

/// muster's issuer: its public URL.
pub fn issuer(public_url: &str) -> String {
    public_url.trim_end_matches('/').to_owned()
}

/// The audience of a tenant's tokens: the tenant's URL.
pub fn audience(public_url: &str, tenant: &str) -> String {
    format!("{}/t/{tenant}", issuer(public_url))
}

/// Who a user is, as tokens, userinfo and the account page show them.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: String,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub groups: Vec<String>,
}

/// Reads a user of the tenant, with the display names of their groups.
///
/// # Errors
/// Database errors.
pub fn person(
    c: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<Person>, TokenError> {
    let Some(user) = store::find(c, tenant_id, Kind::User, user_id)? else {
        return Ok(None);
    };
    let doc = &user.doc;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let email = doc
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| a.first())
        })
        .and_then(|e| e.get("value"));
    let groups = crate::people::users::group_names(c, tenant_id, user_id)?;
    Ok(Some(Person {
        id: user_id.to_owned(),
        user_name: text(doc.get("userName")),
        display_name: text(doc.get("displayName")),
        given_name: text(doc.get("name").and_then(|n| n.get("givenName"))),
        family_name: text(doc.get("name").and_then(|n| n.get("familyName"))),
        email: text(email),
        active: doc.get("active") != Some(&Value::Bool(false)),
        groups,
    }))
}

/// Signs an access token for a user of the tenant.
///
/// # Errors
/// Database or key errors; an unknown user.
pub fn issue(
    c: &mut DbConn,
    public_url: &str,
    tenant: &Tenant,
    user_id: &str,
) -> Result<(String, AccessClaims), TokenError> {
    let p = person(c, &tenant.id, user_id)?
        .filter(|p| p.active)
        .ok_or_else(|| TokenError::Unauthenticated("the user is not active".into()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = AccessClaims {
        iss: issuer(public_url),
        sub: p.id,
        aud: audience(public_url, &tenant.slug),
        exp: now + LIFETIME_SECS,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.slug.clone(),
        preferred_username: p.user_name,
        email: p.email,
        name: p.display_name,
        groups: p.groups,
    };
    let jwt = keys::sign(c, &claims)?;
    Ok((jwt, claims))
}

/// Checks a token for the tenant: muster's key by `kid`, ES256 only, issuer, audience, expiry,
/// tenant. Whether its user is still active is the caller's question.
///
/// # Errors
/// [`TokenError::Invalid`] with the reason.
pub fn verify(
    c: &mut DbConn,
    public_url: &str,
    tenant: &str,
    token: &str,
) -> Result<AccessClaims, TokenError> {
    let mut v = Validation::new(Algorithm::ES256);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[issuer(public_url)]);
    v.set_audience(&[audience(public_url, tenant)]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims: AccessClaims = keys::verify(c, token, &v)?.map_err(TokenError::Invalid)?;
    if claims.tenant != tenant {
        return Err(TokenError::Invalid(
            "the token belongs to another tenant".into(),
        ));
    }
    Ok(claims)
}

pub use crate::auth::bearer;

/// Whether a bearer value is shaped like a JWT (rather than an opaque SCIM token).
pub fn is_jwt(value: &str) -> bool {
    value.split('.').count() == 3
}

/// The tenant and its signed-in user: a muster access token or a personal access token as the
/// bearer, or the tenant's session cookie. A deactivated user is nobody.
///
/// # Errors
/// Not signed in, a bad token, database errors.
pub fn signed_in(
    c: &mut DbConn,
    public_url: &str,
    slug: &str,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> Result<(Tenant, String), TokenError> {
    let t = tenants::by_slug(c, slug)?;
    let user_id = match (bearer, cookie) {
        (Some(b), _) if b.starts_with(crate::people::pats::PREFIX) => {
            let holder = crate::people::pats::authenticate(c, b)?.ok_or_else(|| {
                TokenError::Invalid("the personal access token is not valid".into())
            })?;
            if holder.tenant_id != t.id {
                return Err(TokenError::Invalid(
                    "the token belongs to another tenant".into(),
                ));
            }
            holder.user_id
        }
        (Some(b), _) => {
            let claims = verify(c, public_url, slug, b)?;
            let live = crate::people::users::active(c, &t.id, &claims.sub)?;
            if live != Some(true) {
                return Err(TokenError::Invalid("the token's user is not active".into()));
            }
            claims.sub
        }
        (None, Some(sid)) => {
            session::find(c, &t.id, sid)?
                .ok_or_else(|| {
                    TokenError::Unauthenticated("the session has ended; sign in".into())
                })?
                .user_id
        }
        (None, None) => {
            return Err(TokenError::Unauthenticated(
                "sign in, or send a muster access token as the bearer".into(),
            ))
        }
    };
    Ok((t, user_id))
}

/// [`signed_in`], and JWTs of the tenant's own IdP through its TokenIntrospectors.
///
/// # Errors
/// Not signed in, a bad token, database errors.
pub async fn identify(
    state: &AppState,
    slug: &str,
    bearer: Option<String>,
    cookie: Option<String>,
) -> Result<(Tenant, String), TokenError> {
    let public_url = state.config.public_url.clone();
    let foreign = bearer.as_deref().filter(|b| {
        is_jwt(b) && super::introspect::issuer_of(b).is_some_and(|iss| iss != issuer(&public_url))
    });
    if let Some(jwt) = foreign {
        let s = slug.to_owned();
        let t = state
            .db
            .run(move |c| Ok::<_, TokenError>(tenants::by_slug(c, &s)?))
            .await?;
        let user_id = super::introspect::authenticate(state, &t, jwt).await?;
        return Ok((t, user_id));
    }
    let s = slug.to_owned();
    state
        .db
        .run(move |c| signed_in(c, &public_url, &s, bearer.as_deref(), cookie.as_deref()))
        .await
}

/// [`identify`] for a request.
///
/// # Errors
/// Not signed in, a bad token, database errors.
pub async fn caller(
    state: &AppState,
    req: &HttpRequest,
    tenant_slug: &str,
) -> Result<(Tenant, String), TokenError> {
    let cookie = req
        .cookie(&super::http::session_cookie_name(tenant_slug))
        .map(|c| c.value().to_owned());
    identify(state, tenant_slug, bearer(req), cookie).await
}

/// `POST /t/{tenant}/token`: an access token for the session's user. Only a session will do:
/// a token cannot renew itself past its lifetime.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TokenError> {
    if bearer(&req).is_some() {
        return Err(TokenError::Unauthenticated(
            "a token is issued for a session, not for another token".into(),
        ));
    }
    let (t, user_id) = caller(&state, &req, &path).await?;
    let public_url = state.config.public_url.clone();
    let (jwt, claims) = state
        .db
        .run_write(move |c| issue(c, &public_url, &t, &user_id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": jwt,
            "token_type": "Bearer",
            "expires_in": LIFETIME_SECS,
            "expires_at": claims.exp,
        })))
}

/// `GET /t/{tenant}/userinfo`: who the session or bearer token is, OIDC-style.
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TokenError> {
    let (t, user_id) = caller(&state, &req, &path).await?;
    let tid = t.id.clone();
    let p = state
        .db
        .run(move |c| person(c, &tid, &user_id))
        .await?
        .ok_or_else(|| TokenError::Invalid("the user no longer exists".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "sub": p.id,
            "tenant": t.slug,
            "preferred_username": p.user_name,
            "name": p.display_name,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "email": p.email,
            "groups": p.groups,
        })))
}

/// `GET /.well-known/jwks.json`: the keys muster's tokens verify with.
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, TokenError> {
    let mut keys = state
        .db
        .run(|c| Ok::<_, TokenError>(keys::published(c)?))
        .await?;
    if keys.is_empty() {
        // Made at start-up; a database emptied since then gets its first key here.
        keys = state
            .db
            .run_write(|c| {
                keys::current(c)?;
                Ok::<_, TokenError>(keys::published(c)?)
            })
            .await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({ "keys": keys })))
}
