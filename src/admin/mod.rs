//! The admin API, `/admin/v1`: JSON over the same service functions the command line calls.
//!
//! Callers are platform admins (admin tokens, every tenant) or people of a tenant acting
//! through a session, a personal access token or a muster access token; people with the
//! `admin` role administer their own tenant, members reach only their own tokens. The OpenAPI
//! document at `/admin/v1/openapi.json` is collected from the handlers registered here.

pub mod caller;
pub mod error;
pub mod people;
pub mod settings;
pub mod tokens;

pub use caller::Caller;
pub use error::{ApiError, ApiResult};

use actix_web::{web, HttpResponse};
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
        .configure(settings::routes)
        .configure(people::routes)
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

/// Runs a change on the write connection and answers 204 once it is done.
///
/// # Errors
/// The change's own.
pub async fn no_content<F, E>(state: &crate::app::AppState, f: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<(), E> + Send + 'static,
    E: Into<ApiError> + From<crate::db::DbError> + Send + 'static,
{
    state.db.run_write(f).await.map_err(Into::into)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the admin API: the document first, then the scope that would otherwise take it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/openapi.json"), web::get().to(openapi))
        .service(scope());
}
