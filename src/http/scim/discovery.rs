//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas; and `/Me`,
//! the signed-in person's own User.

use super::{authenticate, scim_json};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::REGISTRY;
use crate::scim::service::MAX_RESULTS;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// Bulk limits, advertised and enforced.
pub const BULK_MAX_OPERATIONS: usize = 1000;
pub const BULK_MAX_PAYLOAD: usize = 1024 * 1024;

fn with_meta(mut v: Value, resource_type: &str, location: String) -> Value {
    v["meta"] = json!({"resourceType": resource_type, "location": location});
    v
}

fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    })
}

/// GET /ServiceProviderConfig — every field present, so clients do not guess.
pub async fn service_provider_config(req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": crate::http::state_of(&req)?.config.public_url.clone(),
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": ctx.passwords},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A tenant SCIM token created with `muster token create`.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", ctx.base)},
    });
    Ok(scim_json(StatusCode::OK, &body))
}

fn resource_type_values(base: &str) -> Vec<Value> {
    REGISTRY
        .resource_types
        .iter()
        .map(|rt| {
            let id = rt["id"].as_str().unwrap_or_default().to_owned();
            with_meta(
                rt.clone(),
                "ResourceType",
                format!("{base}/ResourceTypes/{id}"),
            )
        })
        .collect()
}

/// GET /ResourceTypes
pub async fn resource_types(req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list(resource_type_values(&ctx.base)),
    ))
}

/// GET /ResourceTypes/{id}
pub async fn resource_type(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let id = &path.1;
    resource_type_values(&ctx.base)
        .into_iter()
        .find(|rt| rt["id"].as_str() == Some(id.as_str()))
        .map(|rt| scim_json(StatusCode::OK, &rt))
        .ok_or_else(|| ScimError::status(404, format!("no resource type {id}")))
}

fn schema_values(base: &str) -> Vec<Value> {
    REGISTRY
        .schemas
        .iter()
        .map(|s| with_meta(s.json.clone(), "Schema", format!("{base}/Schemas/{}", s.id)))
        .collect()
}

/// GET /Schemas
pub async fn schemas(req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    Ok(scim_json(StatusCode::OK, &list(schema_values(&ctx.base))))
}

/// GET /Schemas/{urn}
pub async fn schema(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let id = &path.1;
    schema_values(&ctx.base)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::status(404, format!("no schema {id}")))
}
