//! OAuth 2.0 client credentials for SCIM (the seeds' Client). Some IdPs (Entra ID's app
//! gallery) will not hold a long-lived bearer token: they are given a client id and secret,
//! trade them at `POST /t/{tenant}/oauth/token` for an hour-long access JWT, and send that to
//! the tenant's SCIM endpoint. The secret is random, stored as a SHA-256 hash, shown once.

use super::{issuer, keys, LEEWAY_SECS};
use crate::auth::scim_tokens::Provisioner;
use crate::auth::{record_use, secret};
use crate::db::schema::{oauth_clients as oc, tenants as t};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, TenantSlug};
use crate::tenants::{Mode, Tenant};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

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

/// A client as listed: never the secret.
#[derive(Debug, Clone, Queryable)]
pub struct Listed {
    pub name: String,
    pub client_id: String,
    pub scopes: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// Makes a client for the tenant.
///
/// # Errors
/// An empty or taken name.
pub fn create(c: &mut DbConn, tenant: &Tenant, name: &str) -> Result<Created, Error> {
    let name = crate::auth::credential_name(name)?;
    let client_id = format!(
        "{}-{}",
        tenant.slug,
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let secret = secret::generate("mcs_");
    diesel::insert_into(oc::table)
        .values((
            oc::client_id.eq(&client_id),
            oc::tenant_id.eq(&tenant.id),
            oc::name.eq(name),
            oc::secret_hash.eq(secret::hash(&secret)),
            oc::scopes.eq(SCIM_SCOPE),
            oc::created_at.eq(now()),
        ))
        .execute(c)
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                Error::Taken(format!("this tenant already has a client {name:?}"))
            } else {
                e.into()
            }
        })?;
    Ok(Created { client_id, secret })
}

/// The tenant's clients by name.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<Listed>, Error> {
    Ok(oc::table
        .filter(oc::tenant_id.eq(tenant))
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
/// [`Error::NotFound`] for an unknown name.
pub fn remove(c: &mut DbConn, tenant: &TenantId, name: &str) -> Result<(), Error> {
    let n = diesel::delete(
        oc::table
            .filter(oc::tenant_id.eq(tenant))
            .filter(oc::name.eq(name)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "this tenant has no client {name:?}"
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
fn scim_audience(public_url: &str, tenant: &TenantSlug) -> String {
    format!("{}/scim/v2/{tenant}", issuer(public_url))
}

/// The provisioner behind a client access token for the tenant's SCIM endpoint; `None` when it
/// does not open it (bad signature, expired, another tenant, a removed client).
///
/// # Errors
/// Database errors.
pub fn authenticate(
    c: &mut DbConn,
    public_url: &str,
    slug: &TenantSlug,
    token: &str,
) -> Result<Option<Provisioner>, Error> {
    let mut v = Validation::new(Algorithm::ES256);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[issuer(public_url)]);
    v.set_audience(&[scim_audience(public_url, slug)]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let Ok(claims) = keys::verify::<ClientClaims>(c, token, &v)? else {
        return Ok(None);
    };
    if claims.tenant != slug.as_str() || !claims.scope.split(' ').any(|s| s == SCIM_SCOPE) {
        return Ok(None);
    }
    type Row = (TenantId, Mode, String, (i32, i32), bool);
    let found: Option<Row> = oc::table
        .inner_join(t::table.on(t::id.eq(oc::tenant_id)))
        .filter(oc::client_id.eq(&claims.sub))
        .filter(t::slug.eq(slug))
        .select((
            oc::tenant_id,
            t::mode,
            oc::name,
            (t::scim_rate_limit, t::address_rate_limit),
            t::scim_passwords,
        ))
        .first(c)
        .optional()?;
    Ok(
        found.map(|(tenant, mode, name, limits, passwords)| Provisioner {
            tenant,
            mode,
            name: format!("client {name}"),
            limits,
            passwords,
        }),
    )
}

/// Why a grant is refused (RFC 6749 §5.2): the status, the error code and a description.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub why: String,
}

/// A token granted: the JWT and the scope it carries.
#[derive(Debug, Clone)]
pub struct Granted {
    pub access_token: String,
    pub scope: String,
}

/// The client credentials grant: a token for the client `client_id` of tenant `slug`, when
/// `secret` is its secret and it may have `scope`.
///
/// # Errors
/// Database and key errors; `Ok(Err(_))` for a refusal the client is told about.
pub fn grant(
    c: &mut DbConn,
    public_url: &str,
    slug: &TenantSlug,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Result<Result<Granted, Refusal>, Error> {
    let found: Option<(String, String, Option<String>)> = oc::table
        .inner_join(t::table.on(t::id.eq(oc::tenant_id)))
        .filter(oc::client_id.eq(client_id))
        .filter(oc::secret_hash.eq(secret::hash(secret)))
        .filter(t::slug.eq(slug))
        .select((oc::scopes, oc::client_id, oc::last_used_at))
        .first(c)
        .optional()?;
    let Some((allowed, client_id, last_used)) = found else {
        return Ok(Err(Refusal {
            status: 401,
            code: "invalid_client",
            why: "unknown client or wrong secret".into(),
        }));
    };
    let wanted: Vec<&str> = scope.split_whitespace().collect();
    let allowed: Vec<&str> = allowed.split_whitespace().collect();
    if wanted.is_empty() || wanted.iter().any(|s| !allowed.contains(s)) {
        return Ok(Err(Refusal {
            status: 400,
            code: "invalid_scope",
            why: format!("this client may ask for: {}", allowed.join(" ")),
        }));
    }
    let now = time::OffsetDateTime::now_utc();
    let claims = ClientClaims {
        iss: issuer(public_url),
        sub: client_id.clone(),
        aud: scim_audience(public_url, slug),
        exp: now.unix_timestamp() + LIFETIME_SECS,
        iat: now.unix_timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
        tenant: slug.to_string(),
        scope: wanted.join(" "),
    };
    let access_token = keys::sign(c, &claims)?;
    record_use(
        c,
        "oauth_clients",
        "client_id",
        &client_id,
        last_used.as_deref(),
    )?;
    Ok(Ok(Granted {
        access_token,
        scope: claims.scope,
    }))
}
