//! The pages of a person's lifecycle under `/t/{tenant}`: password sign-in, accepting an
//! invitation, and resetting a forgotten password. Every failure is a page that says what to
//! do; none tells whether an account exists.

use super::{invites, passwords};
use crate::app::AppState;
use crate::sso::http::{login_form, respond, see_other, start_session, tenant, Page, PageResult};
use crate::sso::{idp, pages};
use crate::tenants::Tenant;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Registers the routes inside the `/t/{tenant}` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::post().to(password_login))
        .route("/invite/{token}", web::get().to(invite_page))
        .route("/invite/{token}", web::post().to(invite_accept))
        .route("/forgot", web::get().to(forgot_page))
        .route("/forgot", web::post().to(forgot_send))
        .route("/reset/{token}", web::get().to(reset_page))
        .route("/reset/{token}", web::post().to(reset_set));
}

/// The one answer to every failed password sign-in, whatever failed.
const WRONG: &str =
    "The email, user name or password is not right. Try again, or reset your password.";

/// A form posted from another site (login CSRF: signing a victim in to the attacker's
/// account) is refused. Browsers send `Origin` on every form POST; other clients may omit it.
fn foreign_origin(state: &AppState, req: &HttpRequest, tslug: &str) -> Option<HttpResponse> {
    crate::auth::foreign_origin(req, &state.config.public_url).map(|origin| {
        tracing::warn!(
            tenant = tslug,
            origin,
            "form posted from another site refused"
        );
        Page::new(
            403,
            "This form came from another site",
            "For your safety, muster only accepts this form from its own pages. Open the page \
             again and send it from there.",
        )
        .login(tslug)
        .response()
    })
}

fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn too_many(retry_after: i64, tslug: &str) -> HttpResponse {
    let mut r = Page::new(
        429,
        "Too many attempts",
        format!(
            "There were too many failed sign-ins. Wait {} minute(s) and try again, or reset your \
             password.",
            (retry_after + 59) / 60
        ),
    )
    .login(tslug)
    .response();
    if let Ok(v) = header::HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    return_to: Option<String>,
}

async fn password_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let tslug = path.into_inner();
    if let Some(refused) = foreign_origin(&state, &req, &tslug) {
        return refused;
    }
    let f = form.into_inner();
    let addr = client_address(&req);
    respond(login_with_password(&state, &tslug, f, &addr).await).await
}

async fn login_with_password(
    state: &AppState,
    tslug: &str,
    f: LoginForm,
    addr: &str,
) -> PageResult {
    let t = tenant(state, tslug).await?;
    let login = f.username.trim().to_owned();
    let account = passwords::account_key(&t.id, &login);
    let address = passwords::address_key(addr);
    let keys = vec![
        (account.clone(), passwords::ACCOUNT_LIMIT),
        (address.clone(), passwords::ADDRESS_LIMIT),
    ];
    let wait = state
        .db
        .run(move |c| passwords::throttled(c, &keys).map_err(Page::from))
        .await?;
    if let Some(secs) = wait {
        crate::ops::login("password", "throttled");
        return Ok(too_many(secs, tslug));
    }
    let (tid, l) = (t.id.clone(), login.clone());
    let found = state
        .db
        .run(move |c| passwords::credentials(c, &tid, &l).map_err(Page::from))
        .await?;
    let (user_id, hash, active) = match found {
        Some((id, h, a)) => (Some(id), h, a),
        None => (None, None, false),
    };
    // Unknown users are checked against a dummy hash: the answer takes as long.
    let ok = state.hasher.verify(hash, f.password).await && active && user_id.is_some();
    let Some(user_id) = user_id.filter(|_| ok) else {
        let keys = vec![account, address];
        state
            .db
            .run_write(move |c| passwords::record_failure(c, &keys).map_err(Page::from))
            .await?;
        tracing::info!(tenant = tslug, "password sign-in failed");
        crate::ops::login("password", "failed");
        return login_form(state, tslug, f.return_to, Some((401, WRONG)), &login).await;
    };
    state
        .db
        .run_write(move |c| passwords::clear(c, &account).map_err(Page::from))
        .await?;
    let return_to = allowed_return_to(state, &t, f.return_to).await?;
    tracing::info!(tenant = tslug, user = %user_id, "signed in with a password");
    crate::ops::login("password", "success");
    start_session(state, &t, &user_id, None, return_to).await
}

async fn allowed_return_to(
    state: &AppState,
    t: &Tenant,
    candidate: Option<String>,
) -> Result<Option<String>, Page> {
    let Some(candidate) = candidate.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let tid = t.id.clone();
    let allowed = state.db.run(move |c| idp::redirects(c, &tid)).await?;
    Ok(idp::checked_return_to(&candidate, &allowed))
}

/// The page of a link that no longer works, by why.
fn dead_invite(t: &Tenant, what: &invites::Lookup) -> Page {
    let (status, heading, message) = match what {
        invites::Lookup::Used => (
            410,
            "This invitation was already accepted",
            "Sign in with the password or identity provider you chose.",
        ),
        invites::Lookup::Expired => (
            410,
            "This invitation has expired",
            "Ask your administrator to send you a new invitation.",
        ),
        invites::Lookup::Revoked => (
            410,
            "This invitation was withdrawn",
            "Ask your administrator if you should still have access.",
        ),
        _ => (
            404,
            "This invitation link is not valid",
            "Check that you copied the whole link from the email, or ask your administrator for \
             a new invitation.",
        ),
    };
    Page::new(status, heading, format!("{message} ({})", t.name)).login(&t.slug)
}

/// The set-a-password page of an invitation.
async fn invite_form(
    state: &AppState,
    t: &Tenant,
    token: &str,
    email: &str,
    error: Option<String>,
) -> PageResult {
    let tid = t.id.clone();
    let idps = state.db.run(move |c| idp::list(c, &tid)).await?;
    let query = serde_urlencoded::to_string([("invite", token)]).unwrap_or_default();
    let buttons: Vec<_> = idps
        .iter()
        .filter(|i| i.active)
        .map(|i| json!({"title": i.title, "start": format!("/t/{}/sso/{}/start?{query}", t.slug, i.slug)}))
        .collect();
    Ok(password_page(
        t,
        error,
        json!({
            "heading": format!("Join {}", t.name),
            "intro": format!("You were invited as {email}. Choose a password, or continue with your organisation's sign-in if it uses that address."),
            "email": email,
            "action": format!("/t/{}/invite/{token}", t.slug),
            "submit": "Accept the invitation",
            "idps": buttons,
        }),
    ))
}

/// The choose-a-password page (invitations and resets): 400 when it shows an error.
fn password_page(t: &Tenant, error: Option<String>, mut fields: serde_json::Value) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    fields["tenant_name"] = json!(t.name);
    fields["error"] = json!(error);
    fields["min_length"] = json!(passwords::MIN_LENGTH);
    crate::sso::http::html(status).body(pages::render("password.html", fields))
}

async fn invite_page(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (tslug, token) = path.into_inner();
    respond(show_invite(&state, &tslug, &token).await).await
}

async fn show_invite(state: &AppState, tslug: &str, token: &str) -> PageResult {
    let t = tenant(state, tslug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let found = state
        .db
        .run(move |c| invites::lookup(c, &tid, &tk).map_err(Page::from))
        .await?;
    match found {
        invites::Lookup::Valid { email, .. } => invite_form(state, &t, token, &email, None).await,
        other => Err(dead_invite(&t, &other)),
    }
}

#[derive(Deserialize)]
struct NewPassword {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Checks a new password and its repetition; the error is for the form.
fn check_new(p: &NewPassword, identities: &[&str]) -> Result<(), String> {
    if p.password != p.confirm {
        return Err("The two passwords differ. Type the same password twice.".into());
    }
    passwords::check_policy(&p.password, identities)
}

async fn invite_accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<NewPassword>,
) -> HttpResponse {
    let (tslug, token) = path.into_inner();
    if let Some(refused) = foreign_origin(&state, &req, &tslug) {
        return refused;
    }
    respond(accept_invite(&state, &tslug, &token, form.into_inner()).await).await
}

async fn accept_invite(state: &AppState, tslug: &str, token: &str, p: NewPassword) -> PageResult {
    let t = tenant(state, tslug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let found = state
        .db
        .run(move |c| invites::lookup(c, &tid, &tk).map_err(Page::from))
        .await?;
    let invites::Lookup::Valid { email, .. } = found else {
        return Err(dead_invite(&t, &found));
    };
    if let Err(e) = check_new(&p, &[&email]) {
        return invite_form(state, &t, token, &email, Some(e)).await;
    }
    let hash = state
        .hasher
        .hash(p.password)
        .await
        .map_err(Page::internal)?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let accepted = state
        .db
        .run_write(move |c| invites::accept(c, &tid, &tk, Some(hash)).map_err(Page::from))
        .await?;
    let Some(user_id) = accepted else {
        return Err(dead_invite(&t, &invites::Lookup::Used));
    };
    tracing::info!(tenant = tslug, user = %user_id, "invitation accepted");
    start_session(state, &t, &user_id, None, None).await
}

async fn forgot_page(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let tslug = path.into_inner();
    respond(forgot(&state, &tslug, false).await).await
}

async fn forgot(state: &AppState, tslug: &str, sent: bool) -> PageResult {
    let t = tenant(state, tslug).await?;
    let body = pages::render(
        "forgot.html",
        json!({
            "tenant_name": t.name,
            "sent": sent,
            "action": format!("/t/{tslug}/forgot"),
            "login": format!("/t/{tslug}/login"),
        }),
    );
    Ok(crate::sso::http::html(StatusCode::OK).body(body))
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_send(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ForgotForm>,
) -> HttpResponse {
    let tslug = path.into_inner();
    if let Some(refused) = foreign_origin(&state, &req, &tslug) {
        return refused;
    }
    let addr = client_address(&req);
    respond(send_reset(&state, &tslug, form.into_inner().email, &addr).await).await
}

async fn send_reset(state: &AppState, tslug: &str, email: String, addr: &str) -> PageResult {
    let t = tenant(state, tslug).await?;
    // Each request counts against the address, so nobody floods inboxes from one place.
    let key = format!("forgot:{}", passwords::address_key(addr));
    let keys = vec![(key.clone(), passwords::ADDRESS_LIMIT / 3)];
    let wait = state
        .db
        .run(move |c| passwords::throttled(c, &keys).map_err(Page::from))
        .await?;
    if let Some(secs) = wait {
        return Ok(too_many(secs, tslug));
    }
    let (public_url, slug) = (state.config.public_url.clone(), t.slug.clone());
    state
        .db
        .run_write(move |c| {
            passwords::record_failure(c, &[key])?;
            passwords::start_reset(c, &public_url, &slug, &email, true)
        })
        .await
        .map_err(Page::from)?;
    // The same page whether or not a link went out.
    forgot(state, tslug, true).await
}

fn dead_reset(tslug: &str) -> Page {
    Page::new(
        410,
        "This link no longer works",
        "Password links work once and for an hour. Ask for a new one with \"Forgot your \
         password?\" on the sign-in page.",
    )
    .login(tslug)
}

fn reset_form(t: &Tenant, token: &str, error: Option<String>) -> PageResult {
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

async fn reset_page(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (tslug, token) = path.into_inner();
    respond(show_reset(&state, &tslug, &token).await).await
}

async fn show_reset(state: &AppState, tslug: &str, token: &str) -> PageResult {
    let t = tenant(state, tslug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let user = state
        .db
        .run(move |c| passwords::reset_user(c, &tid, &tk).map_err(Page::from))
        .await?;
    if user.is_none() {
        return Err(dead_reset(tslug));
    }
    reset_form(&t, token, None)
}

async fn reset_set(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<NewPassword>,
) -> HttpResponse {
    let (tslug, token) = path.into_inner();
    if let Some(refused) = foreign_origin(&state, &req, &tslug) {
        return refused;
    }
    respond(set_after_reset(&state, &tslug, &token, form.into_inner()).await).await
}

async fn set_after_reset(state: &AppState, tslug: &str, token: &str, p: NewPassword) -> PageResult {
    let t = tenant(state, tslug).await?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let person = state
        .db
        .run(move |c| {
            let Some(uid) = passwords::reset_user(c, &tid, &tk)? else {
                return Ok(None);
            };
            crate::sso::token::person(c, &tid, &uid)
                .map_err(|e| crate::error::Error::invalid(e.to_string()))
        })
        .await
        .map_err(Page::from)?;
    let Some(person) = person else {
        return Err(dead_reset(tslug));
    };
    let ids = [
        person.email.as_deref().unwrap_or_default(),
        person.user_name.as_deref().unwrap_or_default(),
    ];
    if let Err(e) = check_new(&p, &ids) {
        return reset_form(&t, token, Some(e));
    }
    let hash = state
        .hasher
        .hash(p.password)
        .await
        .map_err(Page::internal)?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let done = state
        .db
        .run_write(move |c| passwords::finish_reset(c, &tid, &tk, hash).map_err(Page::from))
        .await?;
    if done.is_none() {
        return Err(dead_reset(tslug));
    }
    tracing::info!(tenant = tslug, user = %person.id, "password reset");
    Ok(see_other(&format!("/t/{tslug}/login")).finish())
}
