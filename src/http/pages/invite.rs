//! Accepting an invitation: choose a password, or continue with an identity provider that
//! vouches for the invited address.

use super::{from_another_site, respond, tenant};
use crate::auth::password;
use crate::http::page::{html, render, Page, PageResult};
use crate::http::session;
use crate::ids::TenantSlug;
use crate::people::invites::{self, Lookup};
use crate::sso::idp;
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// The page of a link that no longer works, by why.
fn dead(t: &Tenant, what: &Lookup) -> Page {
    let (status, heading, message) = match what {
        Lookup::Used => (
            410,
            "This invitation was already accepted",
            "Sign in with the password or identity provider you chose.",
        ),
        Lookup::Expired => (
            410,
            "This invitation has expired",
            "Ask your administrator to send you a new invitation.",
        ),
        Lookup::Revoked => (
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

/// The choose-a-password page (invitations and resets): 400 when it shows an error.
pub(super) fn password_page(
    t: &Tenant,
    error: Option<String>,
    mut fields: serde_json::Value,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    fields["tenant_name"] = json!(t.name);
    fields["error"] = json!(error);
    fields["min_length"] = json!(password::MIN_LENGTH);
    html(status).body(render("password.html", fields))
}

/// The set-a-password page of an invitation, with a button per provider that accepts it.
async fn form(
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

/// The invitation behind `token`, or the page of a dead link.
async fn lookup(state: &AppState, t: &Tenant, token: &str) -> Result<String, Page> {
    let (tid, tk) = (t.id.clone(), token.to_owned());
    match state.db.run(move |c| invites::lookup(c, &tid, &tk)).await? {
        Lookup::Valid { email, .. } => Ok(email),
        other => Err(dead(t, &other)),
    }
}

/// `GET /t/{tenant}/invite/{token}`.
pub(super) async fn page(
    state: web::Data<AppState>,
    path: web::Path<(TenantSlug, String)>,
) -> HttpResponse {
    let (slug, token) = path.into_inner();
    respond(show(&state, &slug, &token).await)
}

async fn show(state: &AppState, slug: &TenantSlug, token: &str) -> PageResult {
    let t = tenant(state, slug).await?;
    let email = lookup(state, &t, token).await?;
    form(state, &t, token, &email, None).await
}

/// A new password and its repetition.
#[derive(Deserialize)]
pub(super) struct NewPassword {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm: String,
}

impl NewPassword {
    /// Checks the password against the policy and its repetition; the error is for the form.
    pub fn check(&self, identities: &[&str]) -> Result<(), String> {
        if self.password != self.confirm {
            return Err("The two passwords differ. Type the same password twice.".into());
        }
        password::check_policy(&self.password, identities)
    }
}

/// `POST /t/{tenant}/invite/{token}`: accept with a password.
pub(super) async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(TenantSlug, String)>,
    form: web::Form<NewPassword>,
) -> HttpResponse {
    let (slug, token) = path.into_inner();
    if let Some(refused) = from_another_site(&state, &req, &slug) {
        return refused.response();
    }
    respond(with_password(&state, &slug, &token, form.into_inner()).await)
}

async fn with_password(
    state: &AppState,
    slug: &TenantSlug,
    token: &str,
    p: NewPassword,
) -> PageResult {
    let t = tenant(state, slug).await?;
    let email = lookup(state, &t, token).await?;
    if let Err(e) = p.check(&[&email]) {
        return form(state, &t, token, &email, Some(e)).await;
    }
    let hash = state
        .hasher
        .hash(p.password)
        .await
        .map_err(Page::internal)?;
    let (tid, tk) = (t.id.clone(), token.to_owned());
    let accepted = state
        .db
        .run_write(move |c| invites::accept(c, &tid, &tk, Some(hash)))
        .await?;
    let Some(user) = accepted else {
        return Err(dead(&t, &Lookup::Used));
    };
    tracing::info!(tenant = %slug, user = %user, "invitation accepted");
    session::start(state, &t, &user, None, None).await
}
