//! The credentials an IdP provisions a tenant with: SCIM bearer tokens, and OAuth clients
//! that trade a secret for a token (client credentials).

use super::{created_secret, read, write, ApiError, ApiResult, Caller};
use crate::auth::scim_tokens;
use crate::ids::TenantSlug;
use crate::issuer::clients;
use crate::state::AppState;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_scim_tokens)
        .service(create_scim_token)
        .service(revoke_scim_token)
        .service(list_clients)
        .service(create_client)
        .service(remove_client);
}

/// A SCIM token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenOut {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A name for a new credential.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub name: String,
}

/// A new SCIM token; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenCreated {
    pub name: String,
    pub token: String,
    pub scim_base_url: String,
}

/// The tenant's SCIM bearer tokens.
#[utoipa::path(tag = "credentials", responses((status = 200, body = Vec<ScimTokenOut>)))]
#[get("/tenants/{tenant}/scim-tokens")]
async fn list_scim_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let list = read(&state, &caller, path.into_inner(), |c, t| {
        Ok(scim_tokens::list(c, &t.id)?)
    })
    .await?;
    let out: Vec<ScimTokenOut> = list
        .into_iter()
        .map(|t| ScimTokenOut {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// The SCIM base URL of a tenant.
fn scim_base(state: &AppState, slug: &TenantSlug) -> String {
    format!(
        "{}/scim/v2/{slug}",
        state.config.public_url.trim_end_matches('/')
    )
}

/// Make a SCIM token for the IdP.
#[utoipa::path(tag = "credentials", request_body = Named, responses((status = 201, body = ScimTokenCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/scim-tokens")]
async fn create_scim_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let name = crate::auth::credential_name(&body.name)?.to_owned();
    let n = name.clone();
    let token = write(&state, &caller, slug.clone(), move |c, t| {
        Ok(scim_tokens::create(c, &t.id, &n)?)
    })
    .await?;
    Ok(created_secret().json(ScimTokenCreated {
        name,
        token,
        scim_base_url: scim_base(&state, &slug),
    }))
}

/// Revoke a SCIM token; requests bearing it fail from the next one on.
#[utoipa::path(tag = "credentials", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/scim-tokens/{name}")]
async fn revoke_scim_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        Ok(scim_tokens::revoke(c, &t.id, &name)?)
    })
    .await
}

/// An OAuth client as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    pub name: String,
    pub client_id: String,
    pub scopes: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A new OAuth client; `client_secret` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub token_url: String,
    pub scim_base_url: String,
}

/// The tenant's OAuth clients (SCIM by client credentials).
#[utoipa::path(tag = "credentials", responses((status = 200, body = Vec<ClientOut>)))]
#[get("/tenants/{tenant}/clients")]
async fn list_clients(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let list = read(&state, &caller, path.into_inner(), |c, t| {
        Ok(clients::list(c, &t.id)?)
    })
    .await?;
    let out: Vec<ClientOut> = list
        .into_iter()
        .map(|l| ClientOut {
            name: l.name,
            client_id: l.client_id,
            scopes: l.scopes,
            created_at: l.created_at,
            last_used_at: l.last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Make an OAuth client.
#[utoipa::path(tag = "credentials", request_body = Named, responses((status = 201, body = ClientCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/clients")]
async fn create_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let name = crate::auth::credential_name(&body.name)?.to_owned();
    let n = name.clone();
    let made = write(&state, &caller, slug.clone(), move |c, t| {
        Ok(clients::create(c, t, &n)?)
    })
    .await?;
    let public = state.config.public_url.trim_end_matches('/');
    Ok(created_secret().json(ClientCreated {
        name,
        client_id: made.client_id,
        client_secret: made.secret,
        token_url: format!("{public}/t/{slug}/oauth/token"),
        scim_base_url: scim_base(&state, &slug),
    }))
}

/// Remove an OAuth client; its tokens stop working at once.
#[utoipa::path(tag = "credentials", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/clients/{name}")]
async fn remove_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        Ok(clients::remove(c, &t.id, &name)?)
    })
    .await
}
