//! What platform admins alone manage: the keys muster signs tokens with, and the platform
//! admin tokens themselves.

use super::credentials::Named;
use super::error::internal;
use super::{created_secret, ApiError, ApiResult, Caller};
use crate::auth::admin_tokens;
use crate::issuer::keys;
use crate::state::AppState;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_keys)
        .service(rotate_keys)
        .service(list_admin_tokens)
        .service(create_admin_token)
        .service(revoke_admin_token);
}

/// A signing key of muster's access tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    pub kid: String,
    pub created_at: String,
    /// Set once a newer key signs; a retired key stays published for an hour.
    pub retired_at: Option<String>,
}

/// The signing keys (platform admins).
#[utoipa::path(tag = "keys", responses((status = 200, body = Vec<KeyOut>)))]
#[get("/keys")]
async fn list_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let keys = state.db.run(keys::list).await?;
    let out: Vec<KeyOut> = keys
        .into_iter()
        .map(|(kid, created_at, retired_at)| KeyOut {
            kid,
            created_at,
            retired_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Sign with a new key from now on (platform admins).
#[utoipa::path(tag = "keys", responses((status = 201, body = KeyOut)))]
#[post("/keys/rotate")]
async fn rotate_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let kid = state
        .db
        .run_write(|c| -> ApiResult<_> {
            let kid = keys::rotate(c).map_err(|e| internal(&e))?;
            keys::prune(c).map_err(|e| internal(&e))?;
            Ok(kid)
        })
        .await?;
    Ok(HttpResponse::Created().json(KeyOut {
        kid,
        created_at: crate::db::time::now(),
        retired_at: None,
    }))
}

/// A platform admin token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenOut {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A new platform admin token; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenCreated {
    pub name: String,
    pub token: String,
}

/// The platform admin tokens (platform admins).
#[utoipa::path(tag = "keys", responses((status = 200, body = Vec<AdminTokenOut>)))]
#[get("/admin-tokens")]
async fn list_admin_tokens(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let list = state.db.run(admin_tokens::list).await?;
    let out: Vec<AdminTokenOut> = list
        .into_iter()
        .map(|t| AdminTokenOut {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Make a platform admin token (platform admins).
#[utoipa::path(tag = "keys", request_body = Named, responses((status = 201, body = AdminTokenCreated), (status = 409, body = ApiError)))]
#[post("/admin-tokens")]
async fn create_admin_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let name = crate::auth::credential_name(&body.name)?.to_owned();
    let n = name.clone();
    let token = state
        .db
        .run_write(move |c| admin_tokens::create(c, &n))
        .await?;
    Ok(created_secret().json(AdminTokenCreated { name, token }))
}

/// Revoke a platform admin token (platform admins); requests bearing it fail from the next
/// one on.
#[utoipa::path(tag = "keys", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/admin-tokens/{name}")]
async fn revoke_admin_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let name = path.into_inner();
    super::no_content(&state, move |c| Ok(admin_tokens::revoke(c, &name)?)).await
}
