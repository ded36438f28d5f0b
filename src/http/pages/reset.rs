//! A forgotten password: ask for a link (the same answer whether or not one went out), then
//! choose a new password through it, which signs the person out everywhere.

use super::invite::{password_page, NewPassword};
use super::{client_address, from_another_site, respond, tenant, too_many};
use crate::http::page::{html, render, see_other, Page, PageResult};
use crate::ids::TenantSlug;
use crate::people::{passwords, throttle, users};
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// `GET /t/{tenant}/forgot`.
pub(super) async fn forgot_page(
    state: web::Data<AppState>,
    path: web::Path<TenantSlug>,
) -> HttpResponse {
    respond(forgot_form(&state, &path, false).await)
}

async fn forgot_form(state: &AppState, slug: &TenantSlug, sent: bool) -> PageResult {
    let t = tenant(state, slug).await?;
    let body = render(
        "forgot.html",
        json!({
            "tenant_name": t.name,
            "sent": sent,
            "action": format!("/t/{slug}/forgot"),
            "login": format!("/t/{slug}/login"),
        }),
    );
    Ok(html(StatusCode::OK).body(body))
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /t/{tenant}/forgot`.
pub(super) async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
    form: web::Form<ForgotForm>,
) -> HttpResponse {
    if let Some(refused) = from_another_site(&state, &req, &path) {
        return refused.response();
    }
    let addr = client_address(&req);
    respond(send(&state, &path, form.into_inner().email, &addr).await)
}

async fn send(state: &AppState, slug: &TenantSlug, email: String, addr: &str) -> PageResult {
    let t = tenant(state, slug).await?;
    // Each request counts against the address, so nobody floods inboxes from one place.
    let key = format!("forgot:{}", throttle::address_key(addr));
    let keys = vec![(key, passwords::ADDRESS_LIMIT / 3)];
    let wait = state
        .db
        .run_write(move |c| throttle::attempt(c, &keys))
        .await?;
    if let Some(secs) = wait {
        return Ok(too_many(secs, slug));
    }
    let public_url = state.config.public_url.clone();
    // The email is rendered on a read connection; only storing takes the write one.
    let tenant = t.clone();
    let draft = state
        .db
        .run(move |c| passwords::draft_reset(c, &public_url, &tenant, &email, true))
        .await?;
    if let Some(d) = draft {
        state
            .db
            .run_write(move |c| passwords::store_reset(c, &t, d))
            .await?;
    }
    // The same page whether or not a link went out.
    forgot_form(state, slug, true).await
}

fn dead(slug: &TenantSlug) -> Page {
    Page::new(
        410,
        "This link no longer works",
        "Password links work once and for an hour. Ask for a new one with \"Forgot your \
         password?\" on the sign-in page.",
    )
    .login(slug)
}

fn form(t: &Tenant, token: &str, error: Option<String>) -> PageResult {
    Ok(password_page(
        t,
        error,
        json!({
            "heading": "Choose a new password",
            "intro": format!("Setting a new password signs you out of {} everywhere.", t.name),
            "email": "",
            "action": format!("/t/{}/reset/{token}", t.slug),
            "submit": "Set the password",
            "idps": [],
        }),
    ))
}

/// `GET /t/{tenant}/reset/{token}`.
pub(super) async fn page(
    state: web::Data<AppState>,
    path: web::Path<(TenantSlug, String)>,
) -> HttpResponse {
    let (slug, token) = path.into_inner();
    respond(show(&state, &slug, &token).await)
}

async fn show(state: &AppState, slug: &TenantSlug, token: &str) -> PageResult {
    let t = tenant(state, slug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let user = state
        .db
        .run(move |c| passwords::reset_user(c, &tid, &tk))
        .await?;
    if user.is_none() {
        return Err(dead(slug));
    }
    form(&t, token, None)
}

/// `POST /t/{tenant}/reset/{token}`: the new password.
pub(super) async fn set(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(TenantSlug, String)>,
    form: web::Form<NewPassword>,
) -> HttpResponse {
    let (slug, token) = path.into_inner();
    if let Some(refused) = from_another_site(&state, &req, &slug) {
        return refused.response();
    }
    respond(set_password(&state, &slug, &token, form.into_inner()).await)
}

async fn set_password(
    state: &AppState,
    slug: &TenantSlug,
    token: &str,
    p: NewPassword,
) -> PageResult {
    let t = tenant(state, slug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let person = state
        .db
        .run(move |c| match passwords::reset_user(c, &tid, &tk)? {
            Some(user) => users::person(c, &tid, &user),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| dead(slug))?;
    let ids = [
        person.email.as_deref().unwrap_or_default(),
        person.user_name.as_deref().unwrap_or_default(),
    ];
    if let Err(e) = p.check(&ids) {
        return form(&t, token, Some(e));
    }
    let hash = state
        .hasher
        .hash(p.password)
        .await
        .map_err(Page::internal)?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let done = state
        .db
        .run_write(move |c| passwords::finish_reset(c, &tid, &tk, hash))
        .await?;
    if done.is_none() {
        return Err(dead(slug));
    }
    tracing::info!(tenant = %slug, user = %person.id, "password reset");
    Ok(see_other(&format!("/t/{slug}/login")).finish())
}
