//! Tenants (platform admins make them; a tenant's admins read and change their own) and the
//! URLs their sign-ins may return to.

use super::{read, write, ApiError, ApiResult, Caller};
use crate::ids::TenantSlug;
use crate::state::AppState;
use crate::tenants::{self, Mode, Tenant};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tenants)
        .service(create_tenant)
        .service(get_tenant)
        .service(change_tenant)
        .service(list_redirects)
        .service(add_redirect)
        .service(remove_redirect);
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub slug: String,
    pub name: String,
    /// `scim`, `jit` or `invite`.
    pub mode: String,
    pub created_at: String,
    pub scim_base_url: String,
    pub login_url: String,
    /// SCIM requests per minute per credential; 0 is no limit.
    pub scim_rate_limit: i32,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: i32,
    /// SCIM clients may set passwords (never a tenant admin's).
    pub scim_passwords: bool,
}

fn tenant_out(state: &AppState, t: Tenant) -> TenantOut {
    let public = state.config.public_url.trim_end_matches('/');
    TenantOut {
        scim_base_url: format!("{public}/scim/v2/{}", t.slug),
        login_url: format!("{public}/t/{}/login", t.slug),
        slug: t.slug.into_string(),
        name: t.name,
        mode: t.mode.to_string(),
        created_at: t.created_at,
        scim_rate_limit: t.scim_rate_limit,
        address_rate_limit: t.address_rate_limit,
        scim_passwords: t.scim_passwords,
    }
}

fn mode(field: &'static str, value: &str) -> ApiResult<Mode> {
    value
        .parse()
        .map_err(|e: String| ApiError::invalid(field, e))
}

/// Tenants: every one for a platform admin, one's own for a person.
#[utoipa::path(tag = "tenants", responses((status = 200, body = Vec<TenantOut>)))]
#[get("/tenants")]
async fn list_tenants(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let list = match caller {
        Caller::Platform { .. } => state.db.run(tenants::list).await?,
        Caller::Person { tenant, .. } => vec![tenant],
    };
    let out: Vec<TenantOut> = list.into_iter().map(|t| tenant_out(&state, t)).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and `-`; it appears in every URL of the tenant.
    pub slug: String,
    pub name: Option<String>,
    /// `scim` (the default), `jit` or `invite`.
    pub mode: Option<String>,
}

/// Make a tenant (platform admins).
#[utoipa::path(tag = "tenants", request_body = NewTenant, responses((status = 201, body = TenantOut), (status = 409, body = ApiError)))]
#[post("/tenants")]
async fn create_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewTenant>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let b = body.into_inner();
    let m = mode("mode", b.mode.as_deref().unwrap_or("scim"))?;
    tenants::check_slug(&b.slug)?;
    let slug = TenantSlug::from(b.slug);
    let t = state
        .db
        .run_write(move |c| tenants::create(c, &slug, b.name.as_deref(), m))
        .await?;
    Ok(HttpResponse::Created().json(tenant_out(&state, t)))
}

/// One tenant.
#[utoipa::path(tag = "tenants", responses((status = 200, body = TenantOut), (status = 404, body = ApiError)))]
#[get("/tenants/{tenant}")]
async fn get_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let t = read(&state, &caller, path.into_inner(), |_, t| Ok(t.clone())).await?;
    Ok(HttpResponse::Ok().json(tenant_out(&state, t)))
}

/// A change to a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    /// `scim`, `jit` or `invite`; users are kept.
    pub mode: Option<String>,
    /// SCIM requests per minute per credential; 0 is no limit. Over it: 429 and Retry-After.
    pub scim_rate_limit: Option<i32>,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: Option<i32>,
    /// Let SCIM clients set passwords (checked against the policy, never a tenant admin's;
    /// a new password ends the person's sessions). Off unless turned on.
    pub scim_passwords: Option<bool>,
}

/// Switch the provisioning mode, set the SCIM rate limits, or let SCIM set passwords.
#[utoipa::path(tag = "tenants", request_body = TenantChange, responses((status = 200, body = TenantOut)))]
#[patch("/tenants/{tenant}")]
async fn change_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<TenantChange>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let m = b.mode.map(|m| mode("mode", &m)).transpose()?;
    for (field, v) in [
        ("scim_rate_limit", b.scim_rate_limit),
        ("address_rate_limit", b.address_rate_limit),
    ] {
        if v.is_some_and(|n| n < 0) {
            return Err(ApiError::invalid(
                field,
                "a limit is a number of requests per minute; 0 is no limit",
            ));
        }
    }
    let t = write(&state, &caller, slug, move |c, t| {
        if let Some(m) = m {
            tenants::set_mode(c, &t.id, m)?;
        }
        tenants::set_limits(c, &t.id, b.scim_rate_limit, b.address_rate_limit)?;
        if let Some(on) = b.scim_passwords {
            tenants::set_scim_passwords(c, &t.id, on)?;
        }
        Ok(tenants::get(c, &t.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tenant_out(&state, t)))
}

/// A URL prefix sign-ins may return to (`?return_to=`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    pub prefix: String,
}

/// The allowed return_to prefixes.
#[utoipa::path(tag = "tenants", responses((status = 200, body = Vec<Redirect>)))]
#[get("/tenants/{tenant}/redirects")]
async fn list_redirects(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let list = read(&state, &caller, path.into_inner(), |c, t| {
        Ok(tenants::redirects(c, &t.id)?)
    })
    .await?;
    let out: Vec<Redirect> = list.into_iter().map(|prefix| Redirect { prefix }).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Allow a return_to prefix.
#[utoipa::path(tag = "tenants", request_body = Redirect, responses((status = 201, body = Redirect)))]
#[post("/tenants/{tenant}/redirects")]
async fn add_redirect(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<Redirect>,
) -> ApiResult<HttpResponse> {
    let prefix = body.into_inner().prefix;
    let p = prefix.clone();
    write(&state, &caller, path.into_inner(), move |c, t| {
        tenants::allow_redirect(c, &t.id, &p).map_err(|e| ApiError::from(e).on("prefix"))
    })
    .await?;
    Ok(HttpResponse::Created().json(Redirect { prefix }))
}

/// Which prefix to stop allowing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrefixQuery {
    pub prefix: String,
}

/// Stop allowing a return_to prefix.
#[utoipa::path(tag = "tenants", params(PrefixQuery), responses((status = 204)))]
#[delete("/tenants/{tenant}/redirects")]
async fn remove_redirect(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    query: web::Query<PrefixQuery>,
) -> ApiResult<HttpResponse> {
    let prefix = query.into_inner().prefix;
    super::change(&state, &caller, path.into_inner(), move |c, t| {
        Ok(tenants::disallow_redirect(c, &t.id, &prefix)?)
    })
    .await
}
