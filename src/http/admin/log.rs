//! A tenant's provisioning activity log, newest first, with its filters.

use super::{read, ApiError, ApiResult, Caller};
use crate::activity;
use crate::ids::TenantSlug;
use crate::people::users;
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(activity_log);
}

/// Which activity entries to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// An RFC 3339 time, or an age: `90m`, `24h`, `7d`.
    pub since: Option<String>,
    /// A user id, userName or email address.
    pub user: Option<String>,
    /// A status (`409`) or a class (`4xx`).
    pub status: Option<String>,
    /// `scim`, `sign-in`, `account` or `admin`.
    pub kind: Option<String>,
    /// The `next` of the previous page.
    pub before: Option<i64>,
    /// 1 to 500; 50 unless given.
    pub limit: Option<i64>,
}

/// A page of activity entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    pub items: Vec<crate::activity::Stored>,
    pub next: Option<i64>,
}

/// The tenant's provisioning activity log: SCIM requests, sign-ins, account forms and admin
/// actions, newest first.
#[utoipa::path(tag = "activity", params(LogQuery), responses((status = 200, body = LogPage)))]
#[get("/tenants/{tenant}/log")]
async fn activity_log(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let q = query.into_inner();
    let mut search = activity::Query {
        since: q
            .since
            .map(|s| activity::since_filter(&s).map_err(|e| ApiError::invalid("since", e)))
            .transpose()?,
        status: q
            .status
            .map(|s| activity::status_filter(&s).map_err(|e| ApiError::invalid("status", e)))
            .transpose()?,
        kind: q.kind,
        before: q.before,
        limit: super::limit(q.limit)?,
        user_id: None,
    };
    let user = q.user;
    let (items, next) = read(&state, &caller, slug, move |c, t| {
        if let Some(u) = user {
            search.user_id = Some(users::named(c, &t.id, &u)?.into_string());
        }
        Ok(activity::list(c, &t.id, &search)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(LogPage { items, next }))
}
