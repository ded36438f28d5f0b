//! The login page: a button per active identity provider, and the password form.

use super::{allowed_return_to, client_address, from_another_site, respond, tenant, too_many};
use crate::http::page::{html, render, PageResult};
use crate::http::session;
use crate::ids::TenantSlug;
use crate::people::passwords::{self, SignIn};
use crate::sso::idp;
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

/// The one answer to every failed password sign-in, whatever failed.
const WRONG: &str =
    "The email, user name or password is not right. Try again, or reset your password.";

#[derive(Deserialize)]
pub(super) struct ReturnTo {
    return_to: Option<String>,
}

/// `GET /t/{tenant}/login`.
pub(super) async fn page(
    state: web::Data<AppState>,
    path: web::Path<TenantSlug>,
    q: web::Query<ReturnTo>,
) -> HttpResponse {
    respond(form(&state, &path, q.into_inner().return_to, None, "").await)
}

/// The login page, with the error of a failed password sign-in when there was one.
async fn form(
    state: &AppState,
    slug: &TenantSlug,
    return_to: Option<String>,
    error: Option<(StatusCode, &str)>,
    username: &str,
) -> PageResult {
    let t = tenant(state, slug).await?;
    let tid = t.id.clone();
    let idps = state.db.run(move |c| idp::list(c, &tid)).await?;
    let return_to = return_to.filter(|r| !r.is_empty());
    let body = render(
        "login.html",
        json!({
            "tenant_name": t.name,
            "idps": buttons(&t, &idps, return_to.as_deref()),
            "action": format!("/t/{}/login", t.slug),
            "forgot": format!("/t/{}/forgot", t.slug),
            "return_to": return_to,
            "error": error.map(|e| e.1),
            "username": username,
        }),
    );
    Ok(html(error.map_or(StatusCode::OK, |e| e.0)).body(body))
}

/// A button per active provider, each starting a sign-in that returns to `return_to`.
fn buttons(t: &Tenant, idps: &[idp::Idp], return_to: Option<&str>) -> Vec<Value> {
    let suffix = return_to
        .map(|r| {
            format!(
                "?{}",
                serde_urlencoded::to_string([("return_to", r)]).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    idps.iter()
        .filter(|i| i.active)
        .map(|i| {
            json!({
                "title": i.title,
                "start": format!("/t/{}/sso/{}/start{suffix}", t.slug, i.slug),
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    return_to: Option<String>,
}

/// `POST /t/{tenant}/login`: a password sign-in.
pub(super) async fn password(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if let Some(refused) = from_another_site(&state, &req, &path) {
        return refused.response();
    }
    let addr = client_address(&req);
    respond(with_password(&state, &path, form.into_inner(), &addr).await)
}

async fn with_password(
    state: &AppState,
    slug: &TenantSlug,
    f: LoginForm,
    addr: &str,
) -> PageResult {
    let t = tenant(state, slug).await?;
    let login = f.username.trim().to_owned();
    let outcome =
        passwords::sign_in(&state.db, &state.hasher, &t.id, &login, f.password, addr).await?;
    match outcome {
        SignIn::Throttled(secs) => Ok(too_many(secs, slug)),
        SignIn::Wrong => {
            let wrong = Some((StatusCode::UNAUTHORIZED, WRONG));
            form(state, slug, f.return_to, wrong, &login).await
        }
        SignIn::SignedIn(user) => {
            let return_to = allowed_return_to(state, &t, f.return_to).await?;
            session::start(state, &t, &user, None, return_to).await
        }
    }
}
