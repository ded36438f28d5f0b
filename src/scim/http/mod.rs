//! HTTP for SCIM under `/scim/v2/{tenant}`: authentication, routing, request parsing and the
//! SCIM response format (media type, `ETag`, `Location`, errors).

mod bulk;
mod discovery;
mod resources;

use super::error::{ScimError, ScimResult, ScimType};
use super::resource::etag;
use super::service::{Ctx, Out};
use super::SCIM_JSON;
use crate::app::AppState;
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
    let not_allowed = || web::to(discovery::method_not_allowed);
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
        .service(web::resource("/Me").to(discovery::me))
        .service(web::resource("/Me/{rest:.*}").to(discovery::me))
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(crate::activity::scim))
}

/// 404 in SCIM form for any unknown URL.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::status(
        404,
        format!("no such endpoint: {}", req.path()),
    ))
}

/// The caller of a SCIM request, authenticated against the tenant in the URL.
pub async fn authenticate(req: &HttpRequest) -> ScimResult<Ctx> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ScimError::internal(&"application state missing"))?
        .get_ref()
        .clone();
    if req.match_info().iter().any(|(_, v)| v.contains('\0')) {
        return Err(ScimError::status(404, "no such resource"));
    }
    let slug = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_owned();
    let Some(token) = crate::auth::bearer(req) else {
        return Err(ScimError::status(
            401,
            "an Authorization: Bearer token is required",
        ));
    };
    let lookup_slug = slug.clone();
    let public_url = state.config.public_url.clone();
    let caller = state
        .db
        .run(move |c| {
            // A JWT is an OAuth client's access token; anything else a SCIM bearer token.
            if crate::sso::token::is_jwt(&token) {
                crate::clients::authenticate_scim(c, &public_url, &lookup_slug, &token)
                    .map_err(|e| ScimError::internal(&e))
            } else {
                crate::tenants::authenticate(c, &lookup_slug, &token).map_err(ScimError::from)
            }
        })
        .await?
        .ok_or_else(|| ScimError::status(401, "the bearer token is not valid for this tenant"))?;
    let base = format!("{}/scim/v2/{slug}", state.config.public_url);
    let (per_credential, per_address) = caller.limits;
    let admitted = state
        .limiter
        .admit(
            || format!("cred {} {}", caller.tenant_id, caller.token_name),
            per_credential,
        )
        .and_then(|()| {
            state.limiter.admit(
                || {
                    let address = req
                        .peer_addr()
                        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
                    format!("addr {} {address}", caller.tenant_id)
                },
                per_address,
            )
        });
    req.extensions_mut().insert(crate::activity::Credential {
        tenant_id: caller.tenant_id.clone(),
        name: caller.token_name.clone(),
    });
    if let Err(secs) = admitted {
        let mut e = ScimError::status(
            429,
            format!("too many requests for this tenant's rate limit; retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        return Err(e);
    }
    Ok(Ctx {
        state,
        tenant_id: caller.tenant_id,
        base,
        mode: caller.mode.parse().unwrap_or(crate::tenants::Mode::Scim),
    })
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
