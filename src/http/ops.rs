//! What an operator needs: `/healthz` (the process is up), `/readyz` (the database answers and
//! is migrated), Prometheus metrics at `/metrics` (for a platform admin token: its labels name
//! every tenant), and a request id on every request: taken
//! from `X-Request-Id` when the caller sends a sane one, else made, returned in the response,
//! and attached to every log line of the request.

use crate::ops::{recorder, RequestId, REQUEST_ID};
use crate::state::AppState;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web::{web, HttpResponse};
use tracing::Instrument;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// `GET /readyz`: ready to serve: the database answers and its migrations are applied.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let ready = tokio::task::spawn_blocking(move || db.ready())
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    match ready {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        // The reason stays in the log: a database's error text is not for whoever asks.
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "status": "unavailable",
                "reason": "the database does not answer; the server log says why"
            }))
        }
    }
}

/// `GET /metrics`: Prometheus text format, for a platform admin token.
pub async fn metrics(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    use super::caller::{authenticate, Accepts, Caller};
    match authenticate(&state, &req, None, Accepts::PLATFORM).await {
        Ok(Caller::Platform { .. }) => {}
        _ => {
            return HttpResponse::Unauthorized()
                .insert_header(("www-authenticate", "Bearer"))
                .body("send a platform admin token as the bearer")
        }
    }
    let Some(h) = recorder() else {
        return HttpResponse::ServiceUnavailable().body("metrics are off");
    };
    let (open, idle) = state.db.pool_state();
    metrics::gauge!("muster_db_connections", "state" => "open").set(f64::from(open));
    metrics::gauge!("muster_db_connections", "state" => "idle").set(f64::from(idle));
    h.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(h.render())
}

/// A caller's request id is kept only when it is short and plain (it lands in logs).
fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Every request: a request id and a span that carries it, one access-log line (method, path
/// without the query, since filters can hold personal data, status, latency), and the
/// request metrics by route pattern (bounded labels: `/scim/v2/{tenant}/Users/{id}`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    let start = std::time::Instant::now();
    let method = req.method().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // Invitation and reset links carry their secret in the path: log the pattern instead.
    let path = if route.contains("{token}") {
        route.clone()
    } else {
        req.path().to_owned()
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), v);
    }
    metrics::counter!(
        "muster_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("muster_http_request_duration_seconds", "route" => route).record(secs);
    if !matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics") {
        span.in_scope(|| {
            tracing::info!(
                %method,
                path,
                status,
                ms = (secs * 1000.0) as u64,
                "request"
            );
        });
    }
    Ok(res)
}
