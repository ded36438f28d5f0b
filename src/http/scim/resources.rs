//! `/Users` and `/Groups`: list, `.search`, create, read, replace, patch, delete.

use super::method_not_allowed;
use super::{authenticate, param, query_params, read_json, resource_response, scim_json, MAX_BODY};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::response::{etag, Projection};
use crate::scim::schema::Kind;
use crate::scim::service::{self, ListParams};
use crate::scim::store::{etag_matches, Precondition};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Scope};
use serde_json::Value;

/// Adds the routes of both resource types to the tenant scope.
pub fn routes(mut s: Scope) -> Scope {
    for kind in [Kind::User, Kind::Group] {
        let ep = kind.endpoint();
        s = s
            .service(
                web::resource(format!("/{ep}/.search"))
                    .route(web::post().to(move |r, p| search(kind, r, p)))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource(format!("/{ep}"))
                    .route(web::get().to(move |r| list(kind, r)))
                    .route(web::post().to(move |r, p| create(kind, r, p)))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource(format!("/{ep}/{{id}}"))
                    .route(web::get().to(move |r| get(kind, r)))
                    .route(web::put().to(move |r, p| replace(kind, r, p)))
                    .route(web::patch().to(move |r, p| patch(kind, r, p)))
                    .route(web::delete().to(move |r| delete(kind, r)))
                    .default_service(web::to(method_not_allowed)),
            );
    }
    s
}

fn id_of(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or_default().to_owned()
}

pub(super) fn projection(kind: Kind, req: &HttpRequest) -> ScimResult<Projection> {
    let p = query_params(req)?;
    Projection::parse(
        kind,
        param(&p, "attributes").as_deref(),
        param(&p, "excludedattributes").as_deref(),
    )
}

fn precondition(req: &HttpRequest) -> Precondition {
    Precondition {
        if_match: req
            .headers()
            .get(header::IF_MATCH)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
    }
}

async fn list(kind: Kind, req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = service::list(&ctx, kind, query_list_params(&req)?).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

/// The list parameters of a SearchRequest body (RFC 7644 §3.4.3).
fn search_params(body: &Value) -> ListParams {
    let text = |k: &str| -> Option<String> {
        let (_, v) = body
            .as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        }
    };
    ListParams {
        filter: text("filter"),
        sort_by: text("sortBy"),
        sort_order: text("sortOrder"),
        start_index: text("startIndex"),
        count: text("count"),
        attributes: text("attributes"),
        excluded: text("excludedAttributes"),
    }
}

fn query_list_params(req: &HttpRequest) -> ScimResult<ListParams> {
    let p = query_params(req)?;
    Ok(ListParams {
        filter: param(&p, "filter"),
        sort_by: param(&p, "sortby"),
        sort_order: param(&p, "sortorder"),
        start_index: param(&p, "startindex"),
        count: param(&p, "count"),
        attributes: param(&p, "attributes"),
        excluded: param(&p, "excludedattributes"),
    })
}

/// POST `/Users/.search`, `/Groups/.search`.
async fn search(kind: Kind, req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = read_json(payload, MAX_BODY).await?;
    let body = service::list(&ctx, kind, search_params(&body)).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

/// POST `/.search`: both resource types at once.
pub async fn root_search(req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = read_json(payload, MAX_BODY).await?;
    let body = service::list_root(&ctx, search_params(&body)).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

/// GET on the tenant's SCIM root: both resource types at once.
pub async fn root_list(req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = service::list_root(&ctx, query_list_params(&req)?).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn create(kind: Kind, req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let proj = projection(kind, &req)?;
    let body = read_json(payload, MAX_BODY).await?;
    crate::activity::note(
        &req,
        crate::activity::describe::describe_resource("created", &body),
    );
    let out = service::create(&ctx, kind, body, proj).await?;
    Ok(resource_response(StatusCode::CREATED, &out))
}

async fn get(kind: Kind, req: HttpRequest) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let proj = projection(kind, &req)?;
    let out = service::get(&ctx, kind, id_of(&req), proj).await?;
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| etag_matches(t, out.version)));
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(out.version)))
            .finish());
    }
    Ok(resource_response(StatusCode::OK, &out))
}

async fn replace(kind: Kind, req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let proj = projection(kind, &req)?;
    let body = read_json(payload, MAX_BODY).await?;
    crate::activity::note(
        &req,
        crate::activity::describe::describe_resource("replaced", &body),
    );
    let out = service::replace(&ctx, kind, id_of(&req), body, precondition(&req), proj).await?;
    Ok(resource_response(StatusCode::OK, &out))
}

/// PATCH answers 200 with the resource, except on a Group when the client asked for no
/// representation (neither `attributes` nor `excludedAttributes`): then 204, as Entra ID
/// recommends, so adding one member to a large group never sends the whole member list back.
async fn patch(kind: Kind, req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = read_json(payload, MAX_BODY).await?;
    crate::activity::note(&req, crate::activity::describe::describe_patch(&body));
    let params = query_params(&req)?;
    let wants_body = kind == Kind::User
        || param(&params, "attributes").is_some()
        || param(&params, "excludedattributes").is_some();
    // Without a body to send, do not read the member rows at all.
    let proj = if wants_body {
        projection(kind, &req)?
    } else {
        Projection::parse(kind, None, Some("members"))?
    };
    let out = service::patch(&ctx, kind, id_of(&req), body, precondition(&req), proj).await?;
    if !wants_body {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, etag(out.version)))
            .finish());
    }
    Ok(resource_response(StatusCode::OK, &out))
}

async fn delete(kind: Kind, req: HttpRequest) -> Result<HttpResponse, ScimError> {
    let ctx = authenticate(&req).await?;
    service::delete(&ctx, kind, id_of(&req), precondition(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}
