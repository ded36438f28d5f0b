//! A tenant's users as its admins see them: search a page at a time, one user, deactivate,
//! reactivate, give a role, delete (refused while in a group), a password link, and their
//! personal access tokens.

use super::{created_secret, limit, read, uncursor, write, ApiError, ApiResult, Caller};
use crate::auth::pats;
use crate::ids::{TenantSlug, UserId};
use crate::people::users::{self, Role};
use crate::people::{directory, passwords};
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_users)
        .service(get_user)
        .service(change_user)
        .service(delete_user)
        .service(reset_password)
        .service(list_user_tokens)
        .service(revoke_user_token);
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// `member` or `admin`.
    pub role: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<directory::Listed> for UserOut {
    fn from(u: directory::Listed) -> UserOut {
        UserOut {
            id: u.id.into_string(),
            user_name: u.user_name,
            display_name: u.display_name,
            email: u.email,
            external_id: u.external_id,
            active: u.active,
            role: u.role.as_str().to_owned(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A page of users; `next` is the `after` of the following page, absent on the last.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserOut>,
    pub next: Option<String>,
}

/// Which users to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Part of a userName, display name or email address, any case.
    pub q: Option<String>,
    pub active: Option<bool>,
    /// `member` or `admin`.
    pub role: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// 1 to 500; 50 unless given.
    pub limit: Option<i64>,
}

/// The tenant's users in userName order, a page at a time.
#[utoipa::path(tag = "users", params(UserQuery), responses((status = 200, body = UserPage)))]
#[get("/tenants/{tenant}/users")]
async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    query: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let q = query.into_inner();
    let search = directory::Search {
        q: q.q,
        active: q.active,
        role: super::role(q.role)?,
        after: q.after.map(|a| uncursor("after", &a)).transpose()?,
        limit: limit(q.limit)?,
    };
    let (items, next) = read(&state, &caller, slug, move |c, t| {
        Ok(directory::list(c, &t.id, &search)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: items.into_iter().map(UserOut::from).collect(),
        next: next.as_deref().map(super::cursor),
    }))
}

/// A user of the tenant by id; 404 for an id of another tenant.
fn user_of(c: &mut crate::db::DbConn, t: &Tenant, id: &UserId) -> ApiResult<directory::Listed> {
    Ok(directory::get(c, &t.id, id)?)
}

/// One user.
#[utoipa::path(tag = "users", responses((status = 200, body = UserOut), (status = 404, body = ApiError)))]
#[get("/tenants/{tenant}/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let u = read(&state, &caller, slug, move |c, t| user_of(c, t, &id)).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(u)))
}

/// A change to a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// false deactivates (every session ends at once); true reactivates.
    pub active: Option<bool>,
    /// `member` or `admin`.
    pub role: Option<String>,
}

/// Deactivate, reactivate, or change the role of a user.
#[utoipa::path(tag = "users", request_body = UserChange, responses((status = 200, body = UserOut)))]
#[patch("/tenants/{tenant}/users/{id}")]
async fn change_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId)>,
    body: web::Json<UserChange>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let role = super::role(b.role)?;
    // An admin cannot lock themselves out; another admin (or a platform token) can.
    if caller.is(&id) && (b.active == Some(false) || role == Some(Role::Member)) {
        return Err(ApiError::new(
            409,
            "conflict",
            "you cannot deactivate yourself or drop your own admin role",
        ));
    }
    let u = write(&state, &caller, slug, move |c, t| {
        let u = user_of(c, t, &id)?;
        if let Some(active) = b.active.filter(|a| *a != u.active) {
            users::set_active(c, &t.id, &id, active)?;
        }
        if let Some(role) = role {
            users::set_role(c, &t.id, &id, role)?;
        }
        user_of(c, t, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(u)))
}

/// Delete a user; refused (409) while they are in a group, naming the groups.
#[utoipa::path(tag = "users", responses((status = 204), (status = 409, body = ApiError)))]
#[delete("/tenants/{tenant}/users/{id}")]
async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    if caller.is(&id) {
        return Err(ApiError::new(409, "conflict", "you cannot delete yourself"));
    }
    super::change(&state, &caller, slug, move |c, t| {
        user_of(c, t, &id)?;
        Ok(users::delete(c, &t.id, &id)?)
    })
    .await
}

/// How to hand a password link over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Email the link (the default). false returns it here instead, to hand over yourself.
    #[serde(default = "super::yes")]
    pub send_email: bool,
}

/// A password link: `link` only when it was not emailed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetOut {
    pub emailed: bool,
    pub link: Option<String>,
    pub expires_in_seconds: i64,
}

/// Give a user a single-use link (1 hour) to choose a new password. Only for active users
/// who sign in with a password.
#[utoipa::path(tag = "users", request_body = ResetRequest, responses((status = 201, body = ResetOut), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/users/{id}/password-reset")]
async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId)>,
    body: web::Json<ResetRequest>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let send = body.send_email;
    let public_url = state.config.public_url.clone();
    // The email is rendered on a read connection; only storing takes the write one.
    let draft = read(&state, &caller, slug.clone(), move |c, t| {
        let u = user_of(c, t, &id)?;
        passwords::draft_reset(c, &public_url, t, &u.user_name, send)?.ok_or_else(|| {
            ApiError::new(
                409,
                "conflict",
                "no link made: the user is deactivated, signs in only through an identity \
                 provider (they change their password there), or has no email address \
                 (send_email: false gives you the link to hand over)",
            )
        })
    })
    .await?;
    let link = write(&state, &caller, slug, move |c, t| {
        Ok(passwords::store_reset(c, t, draft)?)
    })
    .await?;
    Ok(created_secret().json(ResetOut {
        emailed: send,
        link: (!send).then_some(link),
        expires_in_seconds: passwords::RESET_LIFETIME.whole_seconds(),
    }))
}

/// A personal access token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatOut {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<crate::auth::Listed> for PatOut {
    fn from(p: crate::auth::Listed) -> PatOut {
        PatOut {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            expires_at: p.expires_at,
            last_used_at: p.last_used_at,
        }
    }
}

/// A user's personal access tokens.
#[utoipa::path(tag = "users", responses((status = 200, body = Vec<PatOut>)))]
#[get("/tenants/{tenant}/users/{id}/tokens")]
async fn list_user_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let list = read(&state, &caller, slug, move |c, t| {
        let u = user_of(c, t, &id)?;
        Ok(pats::list(c, &t.id, &u.id)?)
    })
    .await?;
    let out: Vec<PatOut> = list.into_iter().map(PatOut::from).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Revoke a user's personal access token.
#[utoipa::path(tag = "users", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/users/{id}/tokens/{token}")]
async fn revoke_user_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, UserId, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id, token) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        let u = user_of(c, t, &id)?;
        Ok(pats::revoke(c, &t.id, &u.id, &token)?)
    })
    .await
}
