//! Invitations: invite someone by email (or again, with a new link), list them, withdraw one.

use super::{created_secret, read, write, ApiError, ApiResult, Caller};
use crate::ids::TenantSlug;
use crate::people::{invites, users};
use crate::state::AppState;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_invites)
        .service(create_invite)
        .service(revoke_invite);
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
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let list = read(&state, &caller, path.into_inner(), |c, t| {
        Ok(invites::list(c, &t.id)?)
    })
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
    #[serde(default = "super::yes")]
    pub send_email: bool,
    /// Days the link works: 1 to 90, 7 unless given.
    pub days: Option<u16>,
    /// `member` (the default) or `admin`.
    pub role: Option<String>,
}

impl NewInvite {
    /// The address, the link's lifetime and the role, checked.
    fn checked(&self) -> ApiResult<(String, time::Duration, Option<users::Role>)> {
        let days = self.days.unwrap_or(7);
        if !(1..=90).contains(&days) {
            return Err(ApiError::invalid(
                "days",
                "an invitation lasts 1 to 90 days",
            ));
        }
        let role = super::role(self.role.clone())?;
        let email = self.email.trim();
        if email.parse::<lettre::Address>().is_err() {
            return Err(ApiError::invalid(
                "email",
                format!("{email:?} is not an email address"),
            ));
        }
        let lifetime = time::Duration::days(i64::from(days));
        Ok((email.to_owned(), lifetime, role))
    }
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
    path: web::Path<TenantSlug>,
    body: web::Json<NewInvite>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let (email, lifetime, role) = b.checked()?;
    let public_url = state.config.public_url.clone();
    let send = b.send_email;
    let e = email.clone();
    // The email is rendered on a read connection; only storing takes the write one.
    let draft = read(&state, &caller, slug.clone(), move |c, t| {
        invites::draft(c, &public_url, t, &e, send, lifetime)
            .map_err(|err| ApiError::from(err).on("email"))
    })
    .await?;
    let i = write(&state, &caller, slug, move |c, t| {
        let i = invites::store(c, t, draft).map_err(|err| ApiError::from(err).on("email"))?;
        if let Some(role) = role {
            users::set_role(c, &t.id, &i.user_id, role)?;
        }
        Ok(i)
    })
    .await?;
    Ok(created_secret().json(Invited {
        email,
        user_id: i.user_id.into_string(),
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
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, email) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        Ok(invites::revoke(c, &t.id, &email)?)
    })
    .await
}
