//! The endpoints of muster as an authorization server: `POST /t/{tenant}/token` (a session's
//! access token for the tenant's apps), `GET /t/{tenant}/userinfo`, `POST
//! /t/{tenant}/oauth/token` (the client credentials grant) and `GET /.well-known/jwks.json`.
//! Errors are OAuth's (RFC 6749 §5.2, RFC 6750 §3).

use super::caller::{self, Accepts, Caller, Refused};
use crate::error::Error;
use crate::ids::{TenantSlug, UserId};
use crate::issuer::{access, clients, keys};
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

/// Why a token request or a bearer is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not signed in (no session, or no bearer).
    #[error("{0}")]
    Unauthenticated(String),
    /// A bearer that does not verify.
    #[error("{0}")]
    Invalid(String),
    /// muster cannot serve the request now; retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for TokenError {
    fn from(e: Error) -> TokenError {
        match e {
            Error::Unauthenticated(m) => TokenError::Invalid(m),
            Error::Unavailable(m) => TokenError::Unavailable(m),
            other => TokenError::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for TokenError {
    fn from(e: crate::db::DbError) -> TokenError {
        Error::from(e).into()
    }
}

impl From<Refused> for TokenError {
    fn from(r: Refused) -> TokenError {
        match r {
            Refused::SignIn(m) => TokenError::Unauthenticated(m),
            Refused::Invalid(m) => TokenError::Invalid(m),
            Refused::Failed(e) => e.into(),
        }
    }
}

impl actix_web::ResponseError for TokenError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            TokenError::Unauthenticated(_) | TokenError::Invalid(_) => StatusCode::UNAUTHORIZED,
            TokenError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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

/// The person of tenant `slug` behind the request: a session, a personal access token, a
/// muster access token or the tenant's IdP's token. A deactivated user is nobody.
///
/// # Errors
/// Not signed in, a bad token, database errors.
pub async fn person(
    state: &AppState,
    req: &HttpRequest,
    slug: &TenantSlug,
) -> Result<(Tenant, UserId), TokenError> {
    match caller::authenticate(state, req, Some(slug), Accepts::PEOPLE).await? {
        Caller::Person { tenant, user, .. } if tenant.slug == *slug => Ok((tenant, user)),
        Caller::Person { .. } => Err(TokenError::Invalid(
            "the token belongs to another tenant".into(),
        )),
        _ => Err(TokenError::Invalid(
            "this credential does not open this endpoint".into(),
        )),
    }
}

/// `POST /t/{tenant}/token`: an access token for the session's user. Only a session will do:
/// a token cannot renew itself past its lifetime.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
) -> Result<HttpResponse, TokenError> {
    if crate::auth::bearer(&req).is_some() {
        return Err(TokenError::Unauthenticated(
            "a token is issued for a session, not for another token".into(),
        ));
    }
    let (t, user) = person(&state, &req, &path).await?;
    let public_url = state.config.public_url.clone();
    let (jwt, claims) = state
        .db
        .run_write(move |c| {
            let p = crate::people::users::person(c, &t.id, &user)?
                .ok_or_else(|| Error::Unauthenticated("the user is not active".into()))?;
            access::issue(c, &public_url, &t.slug, p)
        })
        .await
        .map_err(|e| match e {
            Error::Unauthenticated(m) => TokenError::Unauthenticated(m),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": jwt,
            "token_type": "Bearer",
            "expires_in": access::LIFETIME_SECS,
            "expires_at": claims.exp,
        })))
}

/// `GET /t/{tenant}/userinfo`: who the session or bearer token is, OIDC-style.
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
) -> Result<HttpResponse, TokenError> {
    let (t, user) = person(&state, &req, &path).await?;
    let tid = t.id.clone();
    let p = state
        .db
        .run(move |c| crate::people::users::person(c, &tid, &user))
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
    let mut keys = state.db.run(keys::published).await?;
    if keys.is_empty() {
        // Made at start-up; a database emptied since then gets its first key here.
        keys = state
            .db
            .run_write(|c| {
                keys::current(c)?;
                keys::published(c)
            })
            .await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({ "keys": keys })))
}

/// RFC 6749 §5.2 error answer.
fn oauth_error(status: u16, code: &str, description: &str) -> HttpResponse {
    let mut b = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    );
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == 401 {
        b.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="muster""#));
    }
    b.json(json!({"error": code, "error_description": description}))
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// The client id and secret from HTTP Basic (each form-urlencoded, RFC 6749 §2.3.1).
fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> Option<String> {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The client and its secret, from HTTP Basic or the form; the form's grant must be
/// `client_credentials`. A refusal is its status, error code and description.
fn client_credentials(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(TokenForm, String, String), (u16, &'static str, &'static str)> {
    let Ok(f) = serde_urlencoded::from_bytes::<TokenForm>(body) else {
        return Err((
            400,
            "invalid_request",
            "the body must be a form (application/x-www-form-urlencoded)",
        ));
    };
    if f.grant_type.as_deref() != Some("client_credentials") {
        return Err((
            400,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    match (basic(req), f.client_id.clone(), f.client_secret.clone()) {
        (Some((id, secret)), _, _) | (None, Some(id), Some(secret)) => Ok((f, id, secret)),
        _ => Err((
            401,
            "invalid_client",
            "send the client id and secret with HTTP Basic or in the form",
        )),
    }
}

/// `POST /t/{tenant}/oauth/token`: the client credentials grant.
pub async fn client_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
    body: web::Bytes,
) -> HttpResponse {
    let (f, id, secret) = match client_credentials(&req, &body) {
        Ok(found) => found,
        Err((status, code, why)) => return oauth_error(status, code, why),
    };
    let slug = path.into_inner();
    let scope = f.scope.unwrap_or_else(|| clients::SCIM_SCOPE.to_owned());
    let public_url = state.config.public_url.clone();
    let granted = state
        .db
        .run_write(move |c| clients::grant(c, &public_url, &slug, &id, &secret, &scope))
        .await;
    match granted {
        Ok(Ok(g)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({
                "access_token": g.access_token,
                "token_type": "Bearer",
                "expires_in": clients::LIFETIME_SECS,
                "scope": g.scope,
            })),
        Ok(Err(r)) => oauth_error(r.status, r.code, &r.why),
        Err(Error::Unavailable(_)) => {
            oauth_error(503, "temporarily_unavailable", "try again shortly")
        }
        Err(e) => {
            tracing::error!(error = %e, "client token failed");
            oauth_error(500, "server_error", "try again later")
        }
    }
}
