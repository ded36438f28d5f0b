//! Admin endpoints for people: users (search, deactivate, reactivate, role, delete, password
//! reset), their personal access tokens, invitations, groups, and one's own account.

use super::{ApiError, ApiResult, Caller};
use crate::app::AppState;
use crate::people::{groups, invites, passwords, pats, users};
use crate::tenants;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
        .service(revoke_user_token)
        .service(list_invites)
        .service(create_invite)
        .service(revoke_invite)
        .service(list_groups)
        .service(get_group)
        .service(activity_log)
        .service(me)
        .service(list_my_tokens)
        .service(create_my_token)
        .service(revoke_my_token);
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

impl From<users::Listed> for UserOut {
    fn from(u: users::Listed) -> UserOut {
        UserOut {
            id: u.id,
            user_name: u.user_name,
            display_name: u.display_name,
            email: u.email,
            external_id: u.external_id,
            active: u.active,
            role: u.role,
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

fn cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

fn uncursor(field: &str, c: &str) -> ApiResult<String> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid(field, "not a cursor this API gave out"))
}

fn limit(l: Option<i64>) -> ApiResult<i64> {
    match l {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "limit is 1 to 500")),
    }
}

/// The tenant's users in userName order, a page at a time.
#[utoipa::path(tag = "users", params(UserQuery), responses((status = 200, body = UserPage)))]
#[get("/tenants/{tenant}/users")]
async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let q = query.into_inner();
    let search = users::Search {
        q: q.q,
        active: q.active,
        role: q
            .role
            .map(|r| r.parse().map_err(|e: String| ApiError::invalid("role", e)))
            .transpose()?,
        after: q.after.map(|a| uncursor("after", &a)).transpose()?,
        limit: limit(q.limit)?,
    };
    let (items, next) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
            Ok(users::list(c, &t.id, &search)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: items.into_iter().map(UserOut::from).collect(),
        next: next.as_deref().map(cursor),
    }))
}

/// The tenant and one of its users by id; 404 for an id of another tenant.
fn user_of(
    c: &mut crate::db::DbConn,
    slug: &str,
    id: &str,
) -> ApiResult<(tenants::Tenant, users::Listed)> {
    let t = tenants::by_slug(c, slug)?;
    let u = users::get(c, &t.id, id)?;
    Ok((t, u))
}

/// One user.
#[utoipa::path(tag = "users", responses((status = 200, body = UserOut), (status = 404, body = ApiError)))]
#[get("/tenants/{tenant}/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let (_, u) = state.db.run(move |c| user_of(c, &slug, &id)).await?;
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
    path: web::Path<(String, String)>,
    body: web::Json<UserChange>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let role: Option<users::Role> = b
        .role
        .map(|r| r.parse().map_err(|e: String| ApiError::invalid("role", e)))
        .transpose()?;
    if let Caller::Person { user_id, .. } = &caller {
        // An admin cannot lock themselves out; another admin (or a platform token) can.
        if *user_id == id && (b.active == Some(false) || role == Some(users::Role::Member)) {
            return Err(ApiError::new(
                409,
                "conflict",
                "you cannot deactivate yourself or drop your own admin role",
            ));
        }
    }
    let u = state
        .db
        .run_write(move |c| {
            crate::db::write_tx(c, |c| -> ApiResult<_> {
                let (t, u) = user_of(c, &slug, &id)?;
                if let Some(active) = b.active.filter(|a| *a != u.active) {
                    users::set_active(c, &t.id, &id, active)?;
                }
                if let Some(role) = role {
                    users::set_role(c, &t.id, &id, role)?;
                }
                Ok(users::get(c, &t.id, &id)?)
            })
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
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    if matches!(&caller, Caller::Person { user_id, .. } if *user_id == id) {
        return Err(ApiError::new(409, "conflict", "you cannot delete yourself"));
    }
    state
        .db
        .run_write(move |c| -> ApiResult<_> {
            let (t, _) = user_of(c, &slug, &id)?;
            Ok(users::delete(c, &t.id, &id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How to hand a password link over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Email the link (the default). false returns it here instead, to hand over yourself.
    #[serde(default = "yes")]
    pub send_email: bool,
}

fn yes() -> bool {
    true
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
    path: web::Path<(String, String)>,
    body: web::Json<ResetRequest>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let send = body.send_email;
    let public_url = state.config.public_url.clone();
    let link = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            let (_, u) = user_of(c, &slug, &id)?;
            passwords::start_reset(c, &public_url, &slug, &u.user_name, send)?.ok_or_else(|| {
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
    let mut b = HttpResponse::Created();
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    Ok(b.json(ResetOut {
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

impl From<pats::Listed> for PatOut {
    fn from(p: pats::Listed) -> PatOut {
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
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> {
            let (t, u) = user_of(c, &slug, &id)?;
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
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id, token) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| -> ApiResult<()> {
        let (t, u) = user_of(c, &slug, &id)?;
        Ok(pats::revoke(c, &t.id, &u.id, &token)?)
    })
    .await
}

/// An invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteOut {
    pub email: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: String,
    pub created_at: String,
    pub expires_at: String,
}

/// The tenant's invitations, newest first.
#[utoipa::path(tag = "invitations", responses((status = 200, body = Vec<InviteOut>)))]
#[get("/tenants/{tenant}/invites")]
async fn list_invites(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(invites::list(c, &slug)?) })
        .await?;
    let out: Vec<InviteOut> = list
        .into_iter()
        .map(|i| InviteOut {
            email: i.email,
            state: i.state.to_owned(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Whom to invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub email: String,
    /// Email the link (the default). false returns it here, to hand over yourself.
    #[serde(default = "yes")]
    pub send_email: bool,
    /// Days the link works: 1 to 90, 7 unless given.
    pub days: Option<u16>,
    /// `member` (the default) or `admin`.
    pub role: Option<String>,
}

/// An invitation made; `link` only when it was not emailed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invited {
    pub email: String,
    pub user_id: String,
    pub expires_at: String,
    /// An earlier pending invitation was replaced (its link no longer works).
    pub resent: bool,
    pub emailed: bool,
    pub link: Option<String>,
}

/// Invite someone by email (or send a pending invitation again with a new link).
#[utoipa::path(tag = "invitations", request_body = NewInvite, responses((status = 201, body = Invited), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
#[post("/tenants/{tenant}/invites")]
async fn create_invite(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewInvite>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let days = b.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(ApiError::invalid(
            "days",
            "an invitation lasts 1 to 90 days",
        ));
    }
    let role: Option<users::Role> = b
        .role
        .map(|r| r.parse().map_err(|e: String| ApiError::invalid("role", e)))
        .transpose()?;
    if b.email.trim().parse::<lettre::Address>().is_err() {
        return Err(ApiError::invalid(
            "email",
            format!("{:?} is not an email address", b.email.trim()),
        ));
    }
    let public_url = state.config.public_url.clone();
    let email = b.email.trim().to_owned();
    let send = b.send_email;
    let e = email.clone();
    let i = state
        .db
        .run_write(move |c| {
            crate::db::write_tx(c, |c| -> ApiResult<_> {
                let i = invites::invite(
                    c,
                    &public_url,
                    &slug,
                    &e,
                    send,
                    time::Duration::days(i64::from(days)),
                )
                .map_err(|err| ApiError::from(err).on("email"))?;
                if let Some(role) = role {
                    let t = tenants::by_slug(c, &slug)?;
                    users::set_role(c, &t.id, &i.user_id, role)?;
                }
                Ok(i)
            })
        })
        .await?;
    let mut b = HttpResponse::Created();
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    Ok(b.json(Invited {
        email,
        user_id: i.user_id,
        expires_at: crate::db::time::format_time(i.expires_at),
        resent: i.resent,
        emailed: send,
        link: (!send).then_some(i.link),
    }))
}

/// Withdraw a pending invitation.
#[utoipa::path(tag = "invitations", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/invites/{email}")]
async fn revoke_invite(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, email) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| invites::revoke(c, &slug, &email)).await
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
            id: g.id,
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
    path: web::Path<String>,
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
    let (items, next) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
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
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    caller.admin_of(&slug)?;
    let (g, members) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
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
    path: web::Path<String>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    use crate::activity;
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
        limit: limit(q.limit)?,
        user_id: None,
    };
    let user = q.user;
    let (items, next) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
            if let Some(u) = user {
                search.user_id = Some(activity::user_filter(c, &t.id, &u)?);
            }
            Ok(activity::list(c, &t.id, &search)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(LogPage { items, next }))
}

/// Who is calling: a person of the tenant, and their role.
#[utoipa::path(tag = "me", responses((status = 200, body = UserOut)))]
#[get("/tenants/{tenant}/me")]
async fn me(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    let (tenant_id, user_id) = caller.person_of(&slug)?;
    let u = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(users::get(c, &tenant_id, &user_id)?) })
        .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(u)))
}

/// One's own personal access tokens.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<PatOut>)))]
#[get("/tenants/{tenant}/me/tokens")]
async fn list_my_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (tenant_id, user_id) = caller.person_of(&path)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(pats::list(c, &tenant_id, &user_id)?) })
        .await?;
    let out: Vec<PatOut> = list.into_iter().map(PatOut::from).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new personal access token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPat {
    pub name: String,
    /// Days it works (1 to 366); without it, until revoked.
    pub days: Option<u16>,
}

/// A personal access token made; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatCreated {
    pub id: String,
    pub name: String,
    pub token: String,
    pub expires_at: Option<String>,
}

/// Make a personal access token: it acts as you, with your role.
#[utoipa::path(tag = "me", request_body = NewPat, responses((status = 201, body = PatCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/me/tokens")]
async fn create_my_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewPat>,
) -> ApiResult<HttpResponse> {
    let (tenant_id, user_id) = caller.person_of(&path)?;
    let b = body.into_inner();
    let made = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            pats::create(c, &tenant_id, &user_id, &b.name, b.days).map_err(|e| {
                let field = if b.days.is_some_and(|d| d == 0 || d > pats::MAX_DAYS) {
                    "days"
                } else {
                    "name"
                };
                ApiError::from(e).on(field)
            })
        })
        .await?;
    let mut b = HttpResponse::Created();
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    Ok(b.json(PatCreated {
        id: made.id,
        name: made.name,
        token: made.token,
        expires_at: made.expires_at,
    }))
}

/// Revoke one of one's own personal access tokens.
#[utoipa::path(tag = "me", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/me/tokens/{token}")]
async fn revoke_my_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, token) = path.into_inner();
    let (tenant_id, user_id) = caller.person_of(&slug)?;
    super::no_content(&state, move |c| {
        pats::revoke(c, &tenant_id, &user_id, &token)
    })
    .await
}
