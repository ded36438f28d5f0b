//! The admin API, `/admin/v1`: JSON over the same service functions the command line calls.
//!
//! Callers are platform admins (admin tokens, every tenant) or people of a tenant acting
//! through a session, a personal access token or a muster access token; people with the
//! `admin` role administer their own tenant, members reach only their own tokens. The OpenAPI
//! document at `/admin/v1/openapi.json` is collected from the handlers registered here.

pub mod caller;
mod credentials;
pub mod error;
mod groups;
mod idps;
mod invites;
mod log;
mod me;
mod platform;
mod templates;
mod tenants;
mod users;

pub use caller::Caller;
pub use error::{ApiError, ApiResult};

use crate::db::DbConn;
use crate::ids::TenantSlug;
use crate::people::users::Role;
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

/// Where the admin API lives.
pub const BASE: &str = "/admin/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "muster admin API",
        description = "Tenants, identity providers, credentials, people, groups, email \
                       templates and invitations. Send `Authorization: Bearer <token>`: a \
                       platform admin token (`muster admin-token create`), a personal access \
                       token, or a muster access token; or the tenant's session cookie. Errors \
                       are `{\"code\", \"message\", \"field\"}`."
    ),
    modifiers(&Security)
)]
struct Doc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        api.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// Every admin endpoint, registered under [`BASE`].
pub fn scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope(BASE)
        .wrap(actix_web::middleware::from_fn(caller::authenticate))
        .app_data(error::json_config())
        .app_data(error::query_config())
        .app_data(error::path_config())
        .configure(tenants::routes)
        .configure(credentials::routes)
        .configure(idps::routes)
        .configure(templates::routes)
        .configure(platform::routes)
        .configure(users::routes)
        .configure(invites::routes)
        .configure(groups::routes)
        .configure(log::routes)
        .configure(me::routes)
}

/// The OpenAPI document, collected once from [`scope`].
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        actix_web::App::new()
            .into_utoipa_app()
            .openapi(Doc::openapi())
            .service(scope())
            .split_for_parts()
            .1
    })
}

/// `GET /admin/v1/openapi.json`, readable without credentials.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// Runs `f` on tenant `slug` (resolved here, at the edge) for an admin of it, in one trip to
/// the reading connection.
///
/// # Errors
/// `forbidden` for a caller who is not an admin of the tenant; `not_found` for an unknown
/// tenant; `f`'s own.
pub async fn read<T, F>(state: &AppState, caller: &Caller, slug: TenantSlug, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn, &Tenant) -> ApiResult<T> + Send + 'static,
    T: Send + 'static,
{
    caller.admin_of(&slug)?;
    state
        .db
        .run(move |c| {
            let t = crate::tenants::by_slug(c, &slug)?;
            f(c, &t)
        })
        .await
}

/// [`read`], on the write connection, in one transaction.
///
/// # Errors
/// As [`read`].
pub async fn write<T, F>(state: &AppState, caller: &Caller, slug: TenantSlug, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn, &Tenant) -> ApiResult<T> + Send + 'static,
    T: Send + 'static,
{
    caller.admin_of(&slug)?;
    state
        .db
        .run_write(move |c| {
            crate::db::write_tx(c, |c| {
                let t = crate::tenants::by_slug(c, &slug)?;
                f(c, &t)
            })
        })
        .await
}

/// [`write`], answering 204 once it is done.
///
/// # Errors
/// As [`read`].
pub async fn change<F>(
    state: &AppState,
    caller: &Caller,
    slug: TenantSlug,
    f: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConn, &Tenant) -> ApiResult<()> + Send + 'static,
{
    write(state, caller, slug, f).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Runs a change that is about no one tenant on the write connection and answers 204.
///
/// # Errors
/// The change's own.
pub async fn no_content<F>(state: &AppState, f: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConn) -> ApiResult<()> + Send + 'static,
{
    state.db.run_write(f).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A 201 whose body carries a secret: never cached.
pub fn created_secret() -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Created();
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    b
}

/// A page cursor as the API hands it out.
pub fn cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// A page cursor back from the client.
///
/// # Errors
/// `invalid` on `field` for anything this API did not give out.
pub fn uncursor(field: &'static str, c: &str) -> ApiResult<String> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid(field, "not a cursor this API gave out"))
}

/// A page size: 1 to 500, 50 unless given.
///
/// # Errors
/// `invalid` on `limit`.
pub fn limit(l: Option<i64>) -> ApiResult<i64> {
    match l {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "limit is 1 to 500")),
    }
}

/// The default of an email switch: send it.
pub fn yes() -> bool {
    true
}

/// A role from a request field.
///
/// # Errors
/// `invalid` on `role`.
pub fn role(r: Option<String>) -> ApiResult<Option<Role>> {
    r.map(|r| r.parse().map_err(|e: String| ApiError::invalid("role", e)))
        .transpose()
}

/// Registers the admin API: the document first, then the scope that would otherwise take it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/openapi.json"), web::get().to(openapi))
        .service(scope());
}
