//! A tenant's groups as its admins browse them: a page at a time, and one with its members.

use super::{cursor, limit, read, uncursor, ApiError, ApiResult, Caller};
use crate::ids::{GroupId, TenantSlug};
use crate::people::groups;
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_groups).service(get_group);
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_count: i64,
}

impl From<groups::Listed> for GroupOut {
    fn from(g: groups::Listed) -> GroupOut {
        GroupOut {
            id: g.id.into_string(),
            display_name: g.display_name,
            external_id: g.external_id,
            member_count: g.members,
        }
    }
}

/// A page of groups; `next` is the `after` of the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<GroupOut>,
    pub next: Option<String>,
}

/// Which groups to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// Part of the display name, any case.
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// The tenant's groups by name, a page at a time.
#[utoipa::path(tag = "groups", params(GroupQuery), responses((status = 200, body = GroupPage)))]
#[get("/tenants/{tenant}/groups")]
async fn list_groups(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    query: web::Query<GroupQuery>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let q = query.into_inner();
    let n = limit(q.limit)?;
    let after = q
        .after
        .map(|a| {
            uncursor("after", &a)?
                .split_once('\n')
                .map(|(name, id)| (name.to_owned(), id.to_owned()))
                .ok_or_else(|| ApiError::invalid("after", "not a cursor this API gave out"))
        })
        .transpose()?;
    let (items, next) = read(&state, &caller, slug, move |c, t| {
        Ok(groups::list(c, &t.id, q.q.as_deref(), after, n)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(GroupPage {
        items: items.into_iter().map(GroupOut::from).collect(),
        next: next.map(|(name, id)| cursor(&format!("{name}\n{id}"))),
    }))
}

/// A member of a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    /// `User` or `Group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The userName of a user, the name of a group.
    pub display: Option<String>,
}

/// A group with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: GroupOut,
    pub members: Vec<MemberOut>,
}

/// One group and its members.
#[utoipa::path(tag = "groups", responses((status = 200, body = GroupDetail), (status = 404, body = ApiError)))]
#[get("/tenants/{tenant}/groups/{id}")]
async fn get_group(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, GroupId)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let (g, members) = read(&state, &caller, slug, move |c, t| {
        Ok(groups::get(c, &t.id, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(GroupDetail {
        group: g.into(),
        members: members
            .into_iter()
            .map(|m| MemberOut {
                id: m.id,
                kind: m.kind,
                display: m.display,
            })
            .collect(),
    }))
}
