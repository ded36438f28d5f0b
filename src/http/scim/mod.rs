//! HTTP for SCIM under `/scim/v2/{tenant}`: authentication, routing, request parsing and the
//! SCIM response format (media type, `ETag`, `Location`, errors).

mod bulk;
mod discovery;
mod me;
mod resources;

use super::caller::{self, Accepts, Caller, Refused};
use crate::auth::scim_tokens::Provisioner;
use crate::ids::{TenantId, TenantSlug};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::response::etag;
use crate::scim::service::{Ctx, Out};
use crate::scim::SCIM_JSON;
use crate::state::AppState;
use crate::tenants::Mode;
use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, Scope};
use futures_util::StreamExt;
use serde_json::Value;

/// Largest request body outside Bulk.
pub const MAX_BODY: usize = 1024 * 1024;

/// The `/scim/v2/{tenant}` scope, every request of which goes to the activity log.
pub fn scope() -> Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let not_allowed = || web::to(method_not_allowed);
    // Every resource answers an unserved method with a SCIM 405 body.
    resources::routes(web::scope("/scim/v2/{tenant}"))
        .service(
            web::resource("/ServiceProviderConfig")
                .route(web::get().to(discovery::service_provider_config))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/ResourceTypes")
                .route(web::get().to(discovery::resource_types))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/ResourceTypes/{id}")
                .route(web::get().to(discovery::resource_type))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/Schemas")
                .route(web::get().to(discovery::schemas))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/Schemas/{id}")
                .route(web::get().to(discovery::schema))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/Bulk")
                .route(web::post().to(bulk::bulk))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/.search")
                .route(web::post().to(resources::root_search))
                .default_service(not_allowed()),
        )
        .service(
            web::resource(["", "/"])
                .route(web::get().to(resources::root_list))
                .default_service(not_allowed()),
        )
        .service(web::resource("/Me").to(me::me))
        .service(web::resource("/Me/{rest:.*}").to(me::me))
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(super::activity::scim))
}

/// A method the endpoint does not serve (any but GET on discovery endpoints).
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::status(
        405,
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
}

/// 404 in SCIM form for any unknown URL.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::status(
        404,
        format!("no such endpoint: {}", req.path()),
    ))
}

impl From<Refused> for ScimError {
    fn from(r: Refused) -> ScimError {
        match r {
            Refused::SignIn(_) => {
                ScimError::status(401, "an Authorization: Bearer token is required")
            }
            Refused::Invalid(_) => {
                ScimError::status(401, "the bearer token is not valid for this tenant")
            }
            Refused::Failed(e) => e.into(),
        }
    }
}

/// The tenant in the URL of a SCIM request.
fn tenant_in_path(req: &HttpRequest) -> ScimResult<TenantSlug> {
    if req.match_info().iter().any(|(_, v)| v.contains('\0')) {
        return Err(ScimError::status(404, "no such resource"));
    }
    Ok(TenantSlug::from(
        req.match_info().get("tenant").unwrap_or_default(),
    ))
}

/// The context of a SCIM request: its provisioner (a SCIM token or an OAuth client of the
/// tenant in the URL), admitted by the tenant's rate limits.
pub async fn authenticate(req: &HttpRequest) -> ScimResult<Ctx> {
    let state = crate::http::state_of(req)?;
    let slug = tenant_in_path(req)?;
    let caller = caller::authenticate(&state, req, Some(&slug), Accepts::SCIM).await?;
    let Caller::Provisioner(p) = caller else {
        return Err(ScimError::status(
            401,
            "the bearer token is not valid for this tenant",
        ));
    };
    req.extensions_mut().insert(crate::activity::Credential {
        tenant_id: p.tenant.clone(),
        name: p.name.clone(),
    });
    admit(&state, req, &p)?;
    let mut ctx = context(&state, p.tenant, slug, p.mode);
    ctx.passwords = p.passwords;
    Ok(ctx)
}

/// Refuses a request over the tenant's rate limits (per credential, per client address).
fn admit(state: &AppState, req: &HttpRequest, p: &Provisioner) -> ScimResult<()> {
    let (per_credential, per_address) = p.limits;
    let admitted = state
        .limiter
        .admit(|| format!("cred {} {}", p.tenant, p.name), per_credential)
        .and_then(|()| {
            state.limiter.admit(
                || {
                    let address =
                        crate::http::address::client_address(req, &state.config.trusted_proxies);
                    format!("addr {} {address}", p.tenant)
                },
                per_address,
            )
        });
    admitted.map_err(|secs| {
        let mut e = ScimError::status(
            429,
            format!("too many requests for this tenant's rate limit; retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    })
}

/// What the SCIM service needs to act on a tenant.
pub fn context(state: &AppState, tenant: TenantId, slug: TenantSlug, mode: Mode) -> Ctx {
    Ctx {
        db: state.db.clone(),
        hasher: state.hasher.clone(),
        base: format!("{}/scim/v2/{slug}", state.config.public_url),
        tenant,
        slug,
        mode,
        passwords: false,
    }
}

/// Reads a JSON body of at most `limit` bytes, whatever its declared media type
/// (`application/json` and `application/scim+json` both occur).
///
/// # Errors
/// 413 past the limit, 400 `invalidSyntax` for malformed JSON.
pub async fn read_json(mut payload: web::Payload, limit: usize) -> ScimResult<Value> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::bad(ScimType::InvalidSyntax, e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ScimError::status(
                413,
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Query parameters by lower-cased name (SCIM parameter names are matched case-insensitively).
pub fn query_params(req: &HttpRequest) -> ScimResult<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map(|v| {
            v.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect()
        })
        .map_err(|e| ScimError::bad(ScimType::InvalidSyntax, format!("bad query string: {e}")))
}

/// The value of query parameter `name` (lower-case).
pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// A JSON response with the SCIM media type.
pub fn scim_json(status: actix_web::http::StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_JSON)
        .body(body.to_string())
}

/// A resource response with its `ETag` (and `Location` on 201).
pub fn resource_response(status: actix_web::http::StatusCode, out: &Out) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    r.content_type(SCIM_JSON)
        .insert_header((header::ETAG, etag(out.version)));
    if status == actix_web::http::StatusCode::CREATED {
        r.insert_header((header::LOCATION, out.location.clone()));
    }
    r.body(out.resource.to_string())
}
