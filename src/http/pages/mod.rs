//! The pages of a tenant under `/t/{tenant}`: signing in (the login page, a password, an
//! identity provider), the account page and logout, accepting an invitation, and resetting
//! a forgotten password. Every refusal is a page that says what happened and what to do,
//! starts no session, and never tells whether an account exists.

mod account;
mod invite;
mod login;
mod reset;
mod sso;

use super::page::{Page, PageResult};
use crate::error::Error;
use crate::ids::TenantSlug;
use crate::state::AppState;
use crate::tenants::{self, Tenant};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The routes, to be mounted at the root; every sign-in and account form goes to the
/// activity log.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use super::tokens;
    web::scope("/t/{tenant}")
        .wrap(actix_web::middleware::from_fn(super::activity::pages))
        .route("/login", web::get().to(login::page))
        .route("/login", web::post().to(login::password))
        .route("/account", web::get().to(account::page))
        .route("/logout", web::post().to(account::logout))
        .route("/invite/{token}", web::get().to(invite::page))
        .route("/invite/{token}", web::post().to(invite::accept))
        .route("/forgot", web::get().to(reset::forgot_page))
        .route("/forgot", web::post().to(reset::forgot))
        .route("/reset/{token}", web::get().to(reset::page))
        .route("/reset/{token}", web::post().to(reset::set))
        .route("/token", web::post().to(tokens::token))
        .route("/oauth/token", web::post().to(tokens::client_token))
        .route("/userinfo", web::get().to(tokens::userinfo))
        .configure(sso::routes)
}

/// The tenant a page is about, or the page that says there is none.
///
/// # Errors
/// "Unknown organisation", or a page for database errors.
pub async fn tenant(state: &AppState, slug: &TenantSlug) -> Result<Tenant, Page> {
    let s = slug.clone();
    match state.db.run(move |c| tenants::by_slug(c, &s)).await {
        Ok(t) => Ok(t),
        Err(Error::NotFound(_)) => Err(Page::new(
            404,
            "Unknown organisation",
            format!(
                "There is no organisation {:?} here. Check the address you were given.",
                slug.as_str()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A form posted from another site (login CSRF: signing a victim in to the attacker's
/// account) is refused. Browsers send `Origin` on every form POST; other clients may omit it.
fn from_another_site(state: &AppState, req: &HttpRequest, tenant: &TenantSlug) -> Option<Page> {
    super::foreign_origin(req, &state.config.public_url).map(|origin| {
        tracing::warn!(%tenant, origin, "form posted from another site refused");
        Page::new(
            403,
            "This form came from another site",
            "For your safety, muster only accepts this form from its own pages. Open the page \
             again and send it from there.",
        )
        .login(tenant)
    })
}

/// The client's address, for throttling.
fn client_address(req: &HttpRequest) -> String {
    let trusted = crate::http::state_of(req)
        .map(|s| s.config.trusted_proxies.clone())
        .unwrap_or_default();
    crate::http::address::client_address(req, &trusted)
}

/// 429 with Retry-After, after too many failed attempts.
fn too_many(retry_after: i64, tenant: &TenantSlug) -> HttpResponse {
    let mut r = Page::new(
        429,
        "Too many attempts",
        format!(
            "There were too many failed sign-ins. Wait {} minute(s) and try again, or reset your \
             password.",
            (retry_after + 59) / 60
        ),
    )
    .login(tenant)
    .response();
    if let Ok(v) = header::HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The `return_to` a sign-in may honour: one that starts with a prefix the tenant allows.
async fn allowed_return_to(
    state: &AppState,
    t: &Tenant,
    candidate: Option<String>,
) -> Result<Option<String>, Page> {
    let Some(candidate) = candidate.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let tid = t.id.clone();
    let allowed = state.db.run(move |c| tenants::redirects(c, &tid)).await?;
    Ok(tenants::checked_return_to(&candidate, &allowed))
}

/// A handler's result as a response; the page of a refusal otherwise.
fn respond(r: PageResult) -> HttpResponse {
    super::page::respond(r)
}
