//! One's own account through the admin API: who one is, and one's personal access tokens.

use super::users::{PatOut, UserOut};
use super::{created_secret, ApiError, ApiResult, Caller};
use crate::auth::pats;
use crate::error::Error;
use crate::ids::TenantSlug;
use crate::people::directory;
use crate::state::AppState;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(me)
        .service(list_my_tokens)
        .service(create_my_token)
        .service(revoke_my_token);
}

/// Who is calling: a person of the tenant, and their role.
#[utoipa::path(tag = "me", responses((status = 200, body = UserOut)))]
#[get("/tenants/{tenant}/me")]
async fn me(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let (tenant, user) = caller.person_of(&path)?;
    let u = state
        .db
        .run(move |c| directory::get(c, &tenant, &user))
        .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(u)))
}

/// One's own personal access tokens.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<PatOut>)))]
#[get("/tenants/{tenant}/me/tokens")]
async fn list_my_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let (tenant, user) = caller.person_of(&path)?;
    let list = state.db.run(move |c| pats::list(c, &tenant, &user)).await?;
    let out: Vec<PatOut> = list.into_iter().map(PatOut::from).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new personal access token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPat {
    pub name: String,
    /// Days it works, up to the server's maximum (`MUSTER_PAT_MAX_DAYS`, 366 unless set);
    /// without it, the server's default (`MUSTER_PAT_DAYS`, 90 unless set).
    pub days: Option<u32>,
}

/// A personal access token made; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatCreated {
    pub id: String,
    pub name: String,
    pub token: String,
    pub expires_at: String,
}

/// Make a personal access token: it acts as you, with your role.
#[utoipa::path(tag = "me", request_body = NewPat, responses((status = 201, body = PatCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/me/tokens")]
async fn create_my_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<NewPat>,
) -> ApiResult<HttpResponse> {
    let (tenant, user) = caller.person_of(&path)?;
    let b = body.into_inner();
    let lifetime = pats::Lifetime {
        default: state.config.pat_days,
        max: state.config.pat_max_days,
    };
    let made = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            pats::create(c, &tenant, &user, &b.name, b.days, lifetime).map_err(|e| match e {
                Error::Invalid { field: None, .. } => ApiError::from(e).on("name"),
                e => ApiError::from(e),
            })
        })
        .await?;
    Ok(created_secret().json(PatCreated {
        id: made.id,
        name: made.name,
        token: made.token,
        expires_at: made.expires_at,
    }))
}

/// Revoke one of one's own personal access tokens.
#[utoipa::path(tag = "me", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/me/tokens/{token}")]
async fn revoke_my_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, token) = path.into_inner();
    let (tenant, user) = caller.person_of(&slug)?;
    super::no_content(&state, move |c| {
        Ok(pats::revoke(c, &tenant, &user, &token)?)
    })
    .await
}
