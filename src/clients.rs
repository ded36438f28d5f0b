//! OAuth 2.0 client credentials for SCIM (the seeds' Client). Some IdPs (Entra ID's app
//! gallery) will not hold a long-lived bearer token: they are given a client id and secret,
//! trade them at `POST /t/{tenant}/oauth/token` for an hour-long access JWT, and send that to
//! the tenant's SCIM endpoint. The secret is random, stored as a SHA-256 hash, shown once.

use crate::app::AppState;
use crate::auth::secret;
use crate::db::schema::oauth_clients as oc;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::keys;
use crate::tenants::{self, ScimCaller};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long an access token lives, in seconds.
pub const LIFETIME_SECS: i64 = 3600;

/// The scope that opens the tenant's SCIM endpoint; the only one so far.
pub const SCIM_SCOPE: &str = "scim";

/// A new client: the secret is here and nowhere else.
#[derive(Debug, Clone)]
pub struct Created {
    pub client_id: String,
    pub secret: String,
}

/// Makes a client for the tenant.
///
/// # Errors
/// Unknown tenant, an empty or taken name.
pub fn create(c: &mut DbConn, tenant_slug: &str, name: &str) -> Result<Created, Error> {
    let t = tenants::by_slug(c, tenant_slug)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("a client needs a name"));
    }
    let client_id = format!(
        "{}-{}",
        t.slug,
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let secret = secret::generate("mcs_");
    diesel::insert_into(oc::table)
        .values((
            oc::client_id.eq(&client_id),
            oc::tenant_id.eq(&t.id),
            oc::name.eq(name),
            oc::secret_hash.eq(secret::hash(&secret)),
            oc::scopes.eq(SCIM_SCOPE),
            oc::created_at.eq(now()),
        ))
        .execute(c)
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                Error::Taken(format!(
                    "tenant {tenant_slug:?} already has a client {name:?}"
                ))
            } else {
                e.into()
            }
        })?;
    Ok(Created { client_id, secret })
}

/// One row of the client list: name, client id, scopes, created, last used. Never the secret.
pub type Listed = (String, String, String, String, Option<String>);

/// The tenant's clients by name.
///
/// # Errors
/// Unknown tenant.
pub fn list(c: &mut DbConn, tenant_slug: &str) -> Result<Vec<Listed>, Error> {
    let t = tenants::by_slug(c, tenant_slug)?;
    Ok(oc::table
        .filter(oc::tenant_id.eq(&t.id))
        .order(oc::name)
        .select((
            oc::name,
            oc::client_id,
            oc::scopes,
            oc::created_at,
            oc::last_used_at,
        ))
        .load(c)?)
}

/// Removes a client; its tokens stop working at once (each use checks the client).
///
/// # Errors
/// Unknown tenant or client.
pub fn remove(c: &mut DbConn, tenant_slug: &str, name: &str) -> Result<(), Error> {
    let t = tenants::by_slug(c, tenant_slug)?;
    let n = diesel::delete(
        oc::table
            .filter(oc::tenant_id.eq(&t.id))
            .filter(oc::name.eq(name)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "tenant {tenant_slug:?} has no client {name:?}"
        )));
    }
    Ok(())
}

/// What a client access token says.
#[derive(Debug, Serialize, Deserialize)]
struct ClientClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    tenant: String,
    scope: String,
}

/// The audience of a tenant's SCIM tokens: its SCIM base URL.
fn scim_audience(public_url: &str, tenant: &str) -> String {
    format!("{}/scim/v2/{tenant}", public_url.trim_end_matches('/'))
}

/// Checks a client access token for the tenant's SCIM endpoint; `None` when it does not open
/// it (bad signature, expired, another tenant, a removed client).
///
/// # Errors
/// Database errors.
pub fn authenticate_scim(
    c: &mut DbConn,
    public_url: &str,
    tenant_slug: &str,
    token: &str,
) -> Result<Option<ScimCaller>, Error> {
    let mut v = Validation::new(Algorithm::ES256);
    v.leeway = 30;
    v.set_issuer(&[public_url.trim_end_matches('/')]);
    v.set_audience(&[scim_audience(public_url, tenant_slug)]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims: ClientClaims =
        match keys::verify(c, token, &v).map_err(|e| Error::invalid(e.to_string()))? {
            Ok(claims) => claims,
            Err(_) => return Ok(None),
        };
    if claims.tenant != tenant_slug || !claims.scope.split(' ').any(|s| s == SCIM_SCOPE) {
        return Ok(None);
    }
    use crate::db::schema::tenants as t;
    let found: Option<(String, String, String, (i32, i32))> = oc::table
        .inner_join(t::table.on(t::id.eq(oc::tenant_id)))
        .filter(oc::client_id.eq(&claims.sub))
        .filter(t::slug.eq(tenant_slug))
        .select((
            oc::tenant_id,
            t::mode,
            oc::name,
            (t::scim_rate_limit, t::address_rate_limit),
        ))
        .first(c)
        .optional()?;
    Ok(found.map(|(tenant_id, mode, name, limits)| ScimCaller {
        tenant_id,
        mode,
        token_name: format!("client {name}"),
        limits,
    }))
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

/// `POST /t/{tenant}/oauth/token`: the client credentials grant.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = path.into_inner();
    let Ok(f) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error(
            400,
            "invalid_request",
            "the body must be a form (application/x-www-form-urlencoded)",
        );
    };
    if f.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        );
    }
    let (id, secret) = match (basic(&req), f.client_id, f.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return oauth_error(
                401,
                "invalid_client",
                "send the client id and secret with HTTP Basic or in the form",
            )
        }
    };
    let scope = f.scope.unwrap_or_else(|| SCIM_SCOPE.to_owned());
    let public_url = state.config.public_url.clone();
    let issued = state
        .db
        .run_write(move |c| issue(c, &public_url, &tenant, &id, &secret, &scope))
        .await;
    match issued {
        Ok(Ok((jwt, scope))) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({
                "access_token": jwt,
                "token_type": "Bearer",
                "expires_in": LIFETIME_SECS,
                "scope": scope,
            })),
        Ok(Err((status, code, why))) => oauth_error(status, code, &why),
        Err(Error::Unavailable(_)) => {
            oauth_error(503, "temporarily_unavailable", "try again shortly")
        }
        Err(e) => {
            tracing::error!(error = %e, "client token failed");
            oauth_error(500, "server_error", "try again later")
        }
    }
}

type Refusal = (u16, &'static str, String);

fn issue(
    c: &mut DbConn,
    public_url: &str,
    tenant_slug: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Result<Result<(String, String), Refusal>, Error> {
    let found: Option<(String, String)> = oc::table
        .inner_join(
            crate::db::schema::tenants::table.on(crate::db::schema::tenants::id.eq(oc::tenant_id)),
        )
        .filter(oc::client_id.eq(client_id))
        .filter(oc::secret_hash.eq(secret::hash(secret)))
        .filter(crate::db::schema::tenants::slug.eq(tenant_slug))
        .select((oc::scopes, oc::client_id))
        .first(c)
        .optional()?;
    let Some((allowed, client_id)) = found else {
        return Ok(Err((
            401,
            "invalid_client",
            "unknown client or wrong secret".into(),
        )));
    };
    let wanted: Vec<&str> = scope.split_whitespace().collect();
    let allowed: Vec<&str> = allowed.split_whitespace().collect();
    if wanted.is_empty() || wanted.iter().any(|s| !allowed.contains(s)) {
        return Ok(Err((
            400,
            "invalid_scope",
            format!("this client may ask for: {}", allowed.join(" ")),
        )));
    }
    let now = time::OffsetDateTime::now_utc();
    let claims = ClientClaims {
        iss: public_url.trim_end_matches('/').to_owned(),
        sub: client_id.clone(),
        aud: scim_audience(public_url, tenant_slug),
        exp: now.unix_timestamp() + LIFETIME_SECS,
        iat: now.unix_timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
        tenant: tenant_slug.to_owned(),
        scope: wanted.join(" "),
    };
    let jwt = keys::sign(c, &claims).map_err(|e| Error::invalid(e.to_string()))?;
    diesel::update(oc::table.find(&client_id))
        .set(oc::last_used_at.eq(crate::db::time::format_time(now)))
        .execute(c)?;
    Ok(Ok((jwt, claims.scope)))
}
