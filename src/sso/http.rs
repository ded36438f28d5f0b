//! The sign-in routes under `/t/{tenant}`: the login page, leaving for an IdP and coming
//! back, the account page and logout. Every refusal is a page that says what happened and
//! what to do, and starts no session.

use super::idp::{self, Idp, Kind as IdpKind};
use super::link::{self, Outcome};
use super::{flow, oidc, pages, saml, session, token, Claims};
use crate::app::AppState;
use crate::error::Error;
use crate::tenants::{self, Mode, Tenant};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes, to be mounted at the root.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/t/{tenant}")
        .wrap(actix_web::middleware::from_fn(crate::activity::pages))
        .route("/login", web::get().to(login))
        .configure(crate::people::http::routes)
        .route("/account", web::get().to(account))
        .route("/logout", web::post().to(logout))
        .route("/token", web::post().to(token::token))
        .route("/oauth/token", web::post().to(crate::clients::token))
        .route("/userinfo", web::get().to(token::userinfo))
        .route("/sso/{idp}/start", web::get().to(start))
        .route("/sso/{idp}/callback", web::get().to(callback))
        .route("/sso/{idp}/metadata", web::get().to(sp_metadata))
        .service(
            web::resource("/sso/{idp}/acs")
                // Responses with many groups run to hundreds of kilobytes.
                .app_data(web::PayloadConfig::new(ACS_MAX_BYTES))
                .route(web::post().to(acs)),
        )
}

/// The largest SAML response body accepted at the ACS.
const ACS_MAX_BYTES: usize = 1 << 20;

/// A refusal or a problem, shown as a page.
pub struct Page {
    status: u16,
    heading: String,
    message: String,
    detail: Option<String>,
    login: Option<String>,
}

impl Page {
    pub(crate) fn new(status: u16, heading: &str, message: impl Into<String>) -> Page {
        Page {
            status,
            heading: heading.to_owned(),
            message: message.into(),
            detail: None,
            login: None,
        }
    }

    pub(crate) fn detail(mut self, d: impl Into<String>) -> Page {
        self.detail = Some(d.into());
        self
    }

    pub(crate) fn login(mut self, tenant: &str) -> Page {
        self.login = Some(format!("/t/{tenant}/login"));
        self
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Page {
        tracing::error!(error = %e, "sign-in failed on an internal error");
        Page::new(
            500,
            "Something went wrong",
            "muster could not complete this request. Try again in a moment; if it keeps \
             happening, tell your administrator.",
        )
    }

    pub(crate) fn response(&self) -> HttpResponse {
        let body = pages::render(
            "message.html",
            json!({
                "heading": self.heading,
                "message": self.message,
                "detail": self.detail,
                "login": self.login,
            }),
        );
        let mut r = html(
            actix_web::http::StatusCode::from_u16(self.status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
        )
        .body(body);
        let why = self.detail.clone().unwrap_or_else(|| self.heading.clone());
        r.extensions_mut().insert(crate::activity::Refusal(why));
        r
    }
}

impl From<Error> for Page {
    fn from(e: Error) -> Page {
        match e {
            Error::Unavailable(_) => Page::new(
                503,
                "muster is busy",
                "Too many requests are waiting right now. Try again in a moment.",
            ),
            other => Page::internal(other),
        }
    }
}

impl From<crate::db::DbError> for Page {
    fn from(e: crate::db::DbError) -> Page {
        Error::from(e).into()
    }
}

impl From<diesel::result::Error> for Page {
    fn from(e: diesel::result::Error) -> Page {
        Error::from(e).into()
    }
}

pub(crate) type PageResult = Result<HttpResponse, Page>;

pub(crate) async fn respond(r: PageResult) -> HttpResponse {
    r.unwrap_or_else(|p| p.response())
}

/// A page that is never cached and never framed.
pub(crate) fn html(status: actix_web::http::StatusCode) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    // same-origin: links in these pages (invitation and reset tokens in the URL) never leak
    // to another site, while the page's own form posts still carry their Origin.
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ));
    b
}

pub(crate) fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    b
}

/// The session cookie of a tenant: one per tenant, so signing in to one leaves another alone.
pub(crate) fn session_cookie_name(tenant: &str) -> String {
    format!("{}_{tenant}", session::COOKIE)
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

fn cookie<'c>(state: &AppState, name: String, value: String, path: String) -> Cookie<'c> {
    private_cookie(secure(state), name, value, path)
}

/// An HttpOnly, SameSite=Lax cookie, Secure when muster is reached over https.
fn private_cookie<'c>(secure: bool, name: String, value: String, path: String) -> Cookie<'c> {
    let mut c = Cookie::new(name, value);
    c.set_path(path);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    c
}

/// The cookie of a sign-in in progress, scoped to the provider's path.
fn flow_cookie<'c>(secure: bool, kind: IdpKind, id: String, path: String) -> Cookie<'c> {
    let mut c = private_cookie(secure, flow::COOKIE.to_owned(), id, path);
    if kind == IdpKind::Saml && secure {
        // The SAML response arrives as a POST from the IdP's site, which a Lax cookie would
        // not accompany. (Over plain http, browsers refuse SameSite=None; that is for local
        // use, where muster and the IdP are usually one site anyway.)
        c.set_same_site(SameSite::None);
    }
    c.set_max_age(CookieDuration::seconds(flow::LIFETIME.whole_seconds()));
    c
}

fn removal<'c>(state: &AppState, name: String, path: String) -> Cookie<'c> {
    let mut c = cookie(state, name, String::new(), path);
    c.make_removal();
    c
}

pub(crate) async fn tenant(state: &AppState, slug: &str) -> Result<Tenant, Page> {
    let s = slug.to_owned();
    match state.db.run(move |c| tenants::by_slug(c, &s)).await {
        Ok(t) => Ok(t),
        Err(Error::NotFound(_)) => Err(Page::new(
            404,
            "Unknown organisation",
            format!("There is no organisation {slug:?} here. Check the address you were given."),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The active provider `slug` of the tenant, or a page saying there is none.
async fn active_idp(state: &AppState, t: &Tenant, slug: &str) -> Result<Idp, Page> {
    let (tid, s) = (t.id.clone(), slug.to_owned());
    let found = state.db.run(move |c| idp::find(c, &tid, &s)).await?;
    match found {
        Some(i) if i.active => Ok(i),
        _ => Err(Page::new(
            404,
            "Unknown sign-in method",
            format!("{} has no active sign-in method {slug:?}.", t.name),
        )
        .login(&t.slug)),
    }
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
    /// On a sign-in started from an invitation page: its token.
    invite: Option<String>,
}

async fn login(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<ReturnTo>,
) -> HttpResponse {
    respond(login_page(&state, &path, q.into_inner().return_to).await).await
}

async fn login_page(state: &AppState, slug: &str, return_to: Option<String>) -> PageResult {
    login_form(state, slug, return_to, None, "").await
}

/// The login page, with an error from a failed password sign-in when there was one.
pub(crate) async fn login_form(
    state: &AppState,
    slug: &str,
    return_to: Option<String>,
    error: Option<(u16, &str)>,
    username: &str,
) -> PageResult {
    let t = tenant(state, slug).await?;
    let tid = t.id.clone();
    let idps = state.db.run(move |c| idp::list(c, &tid)).await?;
    let suffix = return_to
        .clone()
        .filter(|r| !r.is_empty())
        .map(|r| {
            format!(
                "?{}",
                serde_urlencoded::to_string([("return_to", r)]).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let buttons: Vec<Value> = idps
        .iter()
        .filter(|i| i.active)
        .map(|i| {
            json!({
                "title": i.title,
                "start": format!("/t/{}/sso/{}/start{suffix}", t.slug, i.slug),
            })
        })
        .collect();
    let body = pages::render(
        "login.html",
        json!({
            "tenant_name": t.name,
            "idps": buttons,
            "action": format!("/t/{}/login", t.slug),
            "forgot": format!("/t/{}/forgot", t.slug),
            "return_to": return_to.filter(|r| !r.is_empty()),
            "error": error.map(|e| e.1),
            "username": username,
        }),
    );
    let status = error.map_or(200, |e| e.0);
    Ok(html(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .body(body))
}

async fn start(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<ReturnTo>,
) -> HttpResponse {
    let (tslug, islug) = path.into_inner();
    let q = q.into_inner();
    respond(start_flow(&state, &tslug, &islug, q.return_to, q.invite).await).await
}

fn callback_url(state: &AppState, t: &str, i: &str) -> String {
    format!("{}/t/{t}/sso/{i}/callback", state.config.public_url)
}

fn flow_path(t: &str, i: &str) -> String {
    format!("/t/{t}/sso/{i}/")
}

async fn start_flow(
    state: &AppState,
    tslug: &str,
    islug: &str,
    return_to: Option<String>,
    invite: Option<String>,
) -> PageResult {
    let t = tenant(state, tslug).await?;
    let i = active_idp(state, &t, islug).await?;
    // A return_to that is not allowed is dropped here, not followed later.
    let tid = t.id.clone();
    let allowed = state.db.run(move |c| idp::redirects(c, &tid)).await?;
    let return_to = return_to.and_then(|r| idp::checked_return_to(&r, &allowed));
    let (url, secrets) = match i.kind {
        IdpKind::Oidc => {
            let settings = i
                .oidc()
                .ok_or_else(|| Page::internal("bad OIDC settings"))?;
            let doc = discovered_doc(state, &i, &settings).await?;
            let s = oidc::start(&settings, &doc, &callback_url(state, tslug, islug))
                .map_err(Page::internal)?;
            let secrets = flow::Secrets {
                state: s.state,
                nonce: Some(s.nonce),
                pkce_verifier: Some(s.pkce_verifier),
                ..flow::Secrets::default()
            };
            (s.url, secrets)
        }
        IdpKind::Saml => {
            let settings = i
                .saml()
                .ok_or_else(|| Page::internal("bad SAML settings"))?;
            let sp = saml::Sp::new(&state.config.public_url, tslug, islug);
            // RelayState is an opaque random value, never a URL: the return_to stays here.
            let relay = crate::auth::secret::generate("");
            let r = relay.clone();
            let s = web::block(move || saml::start(&settings, &sp, &r))
                .await
                .map_err(Page::internal)?
                .map_err(Page::internal)?;
            let secrets = flow::Secrets {
                state: relay,
                request_id: Some(s.request_id),
                ..flow::Secrets::default()
            };
            (s.url, secrets)
        }
    };
    let mut secrets = secrets;
    secrets.invite = invite.filter(|v| !v.is_empty());
    let f = flow::Flow {
        tenant_id: t.id.clone(),
        idp_id: i.id.clone(),
        secrets,
        return_to,
    };
    let id = state
        .db
        .run_write(move |c| flow::start(c, &f).map_err(Page::from))
        .await?;
    let fc = flow_cookie(secure(state), i.kind, id, flow_path(tslug, islug));
    Ok(see_other(&url).cookie(fc).finish())
}

/// The stored discovery document, fetched now if it never was.
async fn discovered_doc(
    state: &AppState,
    i: &Idp,
    settings: &idp::OidcSettings,
) -> Result<String, Page> {
    let id = i.id.clone();
    let (doc, _) = state.db.run(move |c| idp::discovered(c, &id)).await?;
    if let Some(d) = doc {
        return Ok(d);
    }
    refetch(state, i, settings).await
}

async fn refetch(state: &AppState, i: &Idp, settings: &idp::OidcSettings) -> Result<String, Page> {
    let doc = oidc::discover(&settings.issuer).await.map_err(|e| {
        Page::new(
            502,
            "The identity provider is unreachable",
            format!("{} could not be reached. Try again in a moment.", i.title),
        )
        .detail(e)
    })?;
    let (id, d) = (i.id.clone(), doc.clone());
    state
        .db
        .run_write(move |c| idp::set_discovered(c, &id, &d))
        .await?;
    Ok(doc)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let (tslug, islug) = path.into_inner();
    let r = oidc_callback(&state, &req, &tslug, &islug, q.into_inner()).await;
    // The flow cookie is spent whatever happened.
    let mut resp = respond(r).await;
    let _ = resp.add_cookie(&removal(
        &state,
        flow::COOKIE.to_owned(),
        flow_path(&tslug, &islug),
    ));
    resp
}

fn expired_flow(tslug: &str) -> Page {
    Page::new(
        400,
        "This sign-in has expired",
        "The sign-in took too long, was already completed, or was started in another \
         browser. Start again from the sign-in page.",
    )
    .login(tslug)
}

async fn take_flow(
    state: &AppState,
    req: &HttpRequest,
    t: &Tenant,
    i: &Idp,
) -> Result<flow::Flow, Page> {
    let Some(value) = req.cookie(flow::COOKIE).map(|c| c.value().to_owned()) else {
        return Err(expired_flow(&t.slug));
    };
    let idp_id = i.id.clone();
    let f = state
        .db
        .run_write(move |c| flow::take(c, &value, &idp_id).map_err(Page::from))
        .await?;
    match f {
        Some(f) if f.tenant_id == t.id => Ok(f),
        _ => Err(expired_flow(&t.slug)),
    }
}

fn refused(tslug: &str, why: impl Into<String>) -> Page {
    let why = why.into();
    tracing::warn!(tenant = tslug, reason = %why, "sign-in refused");
    crate::ops::login("sso", "refused");
    Page::new(
        403,
        "Sign-in refused",
        "The response from your identity provider could not be accepted, so you are not \
         signed in. Start again; if it keeps failing, tell your administrator.",
    )
    .detail(why)
    .login(tslug)
}

async fn oidc_callback(
    state: &AppState,
    req: &HttpRequest,
    tslug: &str,
    islug: &str,
    q: CallbackQuery,
) -> PageResult {
    let t = tenant(state, tslug).await?;
    let i = active_idp(state, &t, islug).await?;
    let settings = i
        .oidc()
        .ok_or_else(|| refused(tslug, "not an OIDC provider"))?;
    let f = take_flow(state, req, &t, &i).await?;
    if !q
        .state
        .as_deref()
        .is_some_and(|s| constant_eq(s, &f.secrets.state))
    {
        return Err(refused(
            tslug,
            "the state parameter does not match this sign-in",
        ));
    }
    if let Some(e) = q.error {
        return Err(refused(
            tslug,
            format!(
                "the identity provider answered {e}{}",
                q.error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let code = q
        .code
        .ok_or_else(|| refused(tslug, "the response carries no authorization code"))?;
    let (Some(nonce), Some(verifier)) = (&f.secrets.nonce, &f.secrets.pkce_verifier) else {
        return Err(expired_flow(tslug));
    };
    let doc = discovered_doc(state, &i, &settings).await?;
    let secret = {
        let id = i.id.clone();
        state.db.run(move |c| idp::client_secret(c, &id)).await?
    };
    let raw = oidc::redeem(
        &settings,
        secret,
        &doc,
        &callback_url(state, tslug, islug),
        oidc::Callback {
            code: &code,
            iss: q.iss.as_deref(),
        },
        verifier,
    )
    .await
    .map_err(|e| refused(tslug, e.to_string()))?;
    let claims = match oidc::verify(&settings, &doc, &raw, nonce) {
        Ok(c) => c,
        Err(oidc::OidcError::UnknownKey) => {
            // The provider may have rotated its keys: refetch, at most once a minute.
            let id = i.id.clone();
            let (_, at) = state.db.run(move |c| idp::discovered(c, &id)).await?;
            let cutoff = crate::db::time::format_time(
                time::OffsetDateTime::now_utc() - oidc::JWKS_REFETCH_AFTER,
            );
            if at.is_some_and(|a| a > cutoff) {
                return Err(refused(tslug, oidc::OidcError::UnknownKey.to_string()));
            }
            let fresh = refetch(state, &i, &settings).await?;
            oidc::verify(&settings, &fresh, &raw, nonce)
                .map_err(|e| refused(tslug, e.to_string()))?
        }
        Err(e) => return Err(refused(tslug, e.to_string())),
    };
    signed_in(state, &t, &i, claims, f.return_to, f.secrets.invite).await
}

async fn sp_metadata(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (tslug, islug) = path.into_inner();
    respond(sp_metadata_doc(&state, &tslug, &islug).await).await
}

/// The SP metadata an admin gives the IdP. Served for a disabled provider too: it is set up
/// at the IdP before it is switched on.
async fn sp_metadata_doc(state: &AppState, tslug: &str, islug: &str) -> PageResult {
    let t = tenant(state, tslug).await?;
    let (tid, s) = (t.id.clone(), islug.to_owned());
    let settings = state
        .db
        .run(move |c| idp::find(c, &tid, &s))
        .await?
        .and_then(|i| i.saml())
        .ok_or_else(|| {
            Page::new(
                404,
                "Unknown SAML provider",
                format!("{} has no SAML identity provider {islug:?}.", t.name),
            )
        })?;
    let sp = saml::Sp::new(&state.config.public_url, tslug, islug);
    let xml = web::block(move || saml::sp_metadata(&settings, &sp))
        .await
        .map_err(Page::internal)?
        .map_err(Page::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml))
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (tslug, islug) = path.into_inner();
    let r = saml_acs(&state, &req, &tslug, &islug, &body).await;
    let mut resp = respond(r).await;
    let _ = resp.add_cookie(&removal(
        &state,
        flow::COOKIE.to_owned(),
        flow_path(&tslug, &islug),
    ));
    resp
}

async fn saml_acs(
    state: &AppState,
    req: &HttpRequest,
    tslug: &str,
    islug: &str,
    body: &[u8],
) -> PageResult {
    let t = tenant(state, tslug).await?;
    let i = active_idp(state, &t, islug).await?;
    let settings = i
        .saml()
        .ok_or_else(|| refused(tslug, "not a SAML provider"))?;
    let form: AcsForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| refused(tslug, format!("the POST is not a SAML response form: {e}")))?;
    let response = form
        .saml_response
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| refused(tslug, "the POST carries no SAMLResponse"))?;
    // A browser that started here answers its own AuthnRequest; one that did not may bring
    // an IdP-initiated response, if the provider allows them.
    let had_cookie = req.cookie(flow::COOKIE).is_some();
    let f = if had_cookie {
        take_flow(state, req, &t, &i).await.ok()
    } else {
        None
    };
    let (request_id, return_to, invite) = match f {
        Some(f) => {
            if !form
                .relay_state
                .as_deref()
                .is_some_and(|r| constant_eq(r, &f.secrets.state))
            {
                return Err(refused(tslug, "the RelayState does not match this sign-in"));
            }
            let Some(id) = f.secrets.request_id else {
                return Err(expired_flow(tslug));
            };
            (Some(id), f.return_to, f.secrets.invite)
        }
        None if had_cookie && !settings.idp_initiated => return Err(expired_flow(tslug)),
        None => {
            // IdP-initiated: by convention RelayState may name where to land, if allowed.
            let tid = t.id.clone();
            let allowed = state.db.run(move |c| idp::redirects(c, &tid)).await?;
            let target = form
                .relay_state
                .as_deref()
                .and_then(|r| idp::checked_return_to(r, &allowed));
            (None, target, None)
        }
    };
    let sp = saml::Sp::new(&state.config.public_url, tslug, islug);
    let v = web::block(move || saml::verify(&settings, &sp, &response, request_id.as_deref()))
        .await
        .map_err(Page::internal)?
        .map_err(|e| refused(tslug, e))?;
    let (iid, aid, until) = (i.id.clone(), v.assertion_id.clone(), v.remember_until);
    let fresh = state
        .db
        .run_write(move |c| saml::remember(c, &iid, &aid, until).map_err(Page::from))
        .await?;
    if !fresh {
        return Err(refused(tslug, "this SAML assertion was already used"));
    }
    signed_in(state, &t, &i, v.claims, return_to, invite).await
}

/// Length-independent comparison of two secrets.
fn constant_eq(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Resolves the verified login to a user and starts a session, or says why not.
pub(crate) async fn signed_in(
    state: &AppState,
    t: &Tenant,
    i: &Idp,
    claims: Claims,
    return_to: Option<String>,
    invite: Option<String>,
) -> PageResult {
    if let Some(token) = invite {
        return accepted_invite(state, t, i, claims, &token).await;
    }
    let mode: Mode = t.mode.parse().unwrap_or(Mode::Scim);
    let (tid, idp) = (t.id.clone(), i.clone());
    let outcome = state
        .db
        .run_write(move |c| {
            let first = link::resolve(c, &tid, mode, &idp, &claims);
            // Two first logins of one person can race to create them; the loser finds them.
            match first {
                Err(link::LinkError::Scim(e)) if e.status == 409 => {
                    link::resolve(c, &tid, mode, &idp, &claims)
                }
                other => other,
            }
        })
        .await
        .map_err(Page::internal)?;
    let method = match i.kind {
        IdpKind::Oidc => "oidc",
        IdpKind::Saml => "saml",
    };
    crate::ops::login(
        method,
        match &outcome {
            Outcome::SignedIn { .. } => "success",
            Outcome::NotProvisioned => "not_provisioned",
            Outcome::Inactive => "inactive",
            Outcome::Conflict => "conflict",
        },
    );
    let user_id = match outcome {
        Outcome::SignedIn { user_id } => user_id,
        Outcome::NotProvisioned => {
            return Err(Page::new(
                403,
                "Your account is not provisioned",
                format!(
                    "You signed in at {}, but {} has no account for you. Ask your \
                     administrator to give you access.",
                    i.title, t.name
                ),
            )
            .login(&t.slug))
        }
        Outcome::Inactive => {
            return Err(Page::new(
                403,
                "Your account is deactivated",
                format!(
                    "Your account in {} is deactivated. Ask your administrator if you need \
                     access again.",
                    t.name
                ),
            )
            .login(&t.slug))
        }
        Outcome::Conflict => {
            return Err(Page::new(
                409,
                "This account is linked to someone else",
                format!(
                    "The matching account in {} is already linked to another {} identity. Ask \
                     your administrator.",
                    t.name, i.title
                ),
            )
            .login(&t.slug))
        }
    };
    tracing::info!(tenant = %t.slug, idp = %i.slug, user = %user_id, "signed in");
    start_session(state, t, &user_id, Some(&i.id), return_to).await
}

/// Accepts an invitation with a verified IdP sign-in, then starts the session.
async fn accepted_invite(
    state: &AppState,
    t: &Tenant,
    i: &Idp,
    claims: Claims,
    token: &str,
) -> PageResult {
    let (tid, idp, tk) = (t.id.clone(), i.clone(), token.to_owned());
    let outcome = state
        .db
        .run_write(move |c| link::accept_invite(c, &tid, &idp, &claims, &tk))
        .await
        .map_err(Page::internal)?;
    match outcome {
        link::InviteOutcome::SignedIn { user_id } => {
            tracing::info!(tenant = %t.slug, idp = %i.slug, user = %user_id, "invitation accepted");
            start_session(state, t, &user_id, Some(&i.id), None).await
        }
        link::InviteOutcome::EmailMismatch { invited } => Err(Page::new(
            403,
            "This sign-in does not match the invitation",
            format!(
                "The invitation is for {invited}, but {} did not confirm that address for the \
                 account you signed in with. Sign in there with that address, or choose a \
                 password on the invitation page.",
                i.title
            ),
        )
        .login(&t.slug)),
        link::InviteOutcome::Conflict => Err(Page::new(
            409,
            "This account is linked to someone else",
            format!(
                "Your {} account already belongs to another user of {}. Ask your administrator.",
                i.title, t.name
            ),
        )
        .login(&t.slug)),
        link::InviteOutcome::Dead(_) => Err(Page::new(
            410,
            "This invitation no longer works",
            "It was already accepted, has expired or was withdrawn. Ask your administrator for a \
             new one if you still need access.",
        )
        .login(&t.slug)),
    }
}

/// Starts a session for a user who just proved who they are, and sends them on.
pub(crate) async fn start_session(
    state: &AppState,
    t: &Tenant,
    user_id: &str,
    idp_id: Option<&str>,
    return_to: Option<String>,
) -> PageResult {
    let (tid, uid, iid) = (t.id.clone(), user_id.to_owned(), idp_id.map(str::to_owned));
    let sid = state
        .db
        .run_write(move |c| session::create(c, &tid, &uid, iid.as_deref()).map_err(Page::from))
        .await?;
    let target = return_to.unwrap_or_else(|| format!("/t/{}/account", t.slug));
    let mut sc = cookie(state, session_cookie_name(&t.slug), sid, "/".to_owned());
    sc.set_max_age(CookieDuration::seconds(session::LIFETIME.whole_seconds()));
    let mut r = see_other(&target).cookie(sc).finish();
    r.extensions_mut()
        .insert(crate::activity::Subject(user_id.to_owned()));
    Ok(r)
}

/// The session of this request for the tenant, if any.
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
    t: &Tenant,
) -> Result<Option<session::Session>, Page> {
    let Some(value) = req
        .cookie(&session_cookie_name(&t.slug))
        .map(|c| c.value().to_owned())
    else {
        return Ok(None);
    };
    let tid = t.id.clone();
    state
        .db
        .run(move |c| session::find(c, &tid, &value).map_err(Page::from))
        .await
}

async fn account(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    respond(account_page(&state, &req, &path).await).await
}

async fn account_page(state: &AppState, req: &HttpRequest, tslug: &str) -> PageResult {
    let t = tenant(state, tslug).await?;
    let Some(s) = current(state, req, &t).await? else {
        return Ok(see_other(&format!("/t/{tslug}/login")).finish());
    };
    let (tid, uid, iid) = (t.id.clone(), s.user_id.clone(), s.idp_id.clone());
    let (person, idp_title) = state
        .db
        .run(move |c| {
            let person = token::person(c, &tid, &uid).map_err(Page::internal)?;
            let title = match iid {
                Some(iid) => crate::db::schema::identity_providers::table
                    .find(iid)
                    .select(crate::db::schema::identity_providers::title)
                    .first::<String>(c)
                    .optional()?,
                None => None,
            };
            Ok::<_, Page>((person, title))
        })
        .await?;
    let Some(p) = person else {
        return Ok(see_other(&format!("/t/{tslug}/login")).finish());
    };
    let body = pages::render(
        "account.html",
        json!({
            "tenant_name": t.name,
            "user_name": p.user_name,
            "display_name": p.display_name,
            "email": p.email,
            "groups": p.groups,
            "idp_title": idp_title,
            "logout": format!("/t/{tslug}/logout"),
        }),
    );
    Ok(html(actix_web::http::StatusCode::OK).body(body))
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let tslug = path.into_inner();
    let name = session_cookie_name(&tslug);
    if let Some(value) = req.cookie(&name).map(|c| c.value().to_owned()) {
        if let Err(e) = state
            .db
            .run_write(move |c| session::end(c, &value).map_err(Page::from))
            .await
        {
            return e.response();
        }
    }
    see_other(&format!("/t/{tslug}/login"))
        .cookie(removal(&state, name, "/".to_owned()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_over_https_and_never_readable_by_scripts() {
        for secure in [false, true] {
            let c = private_cookie(secure, "s".into(), "v".into(), "/".into()).to_string();
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
            assert_eq!(c.contains("Secure"), secure, "{c}");
        }
        let oidc = flow_cookie(true, IdpKind::Oidc, "v".into(), "/t/a/sso/b/".into()).to_string();
        assert!(
            oidc.contains("SameSite=Lax") && oidc.contains("Secure"),
            "{oidc}"
        );
        // SAML's response is a cross-site POST: only a SameSite=None cookie comes with it.
        let saml = flow_cookie(true, IdpKind::Saml, "v".into(), "/t/a/sso/b/".into()).to_string();
        assert!(
            saml.contains("SameSite=None") && saml.contains("Secure"),
            "{saml}"
        );
        assert!(
            saml.contains("Path=/t/a/sso/b/") && saml.contains("Max-Age=600"),
            "{saml}"
        );
        let plain = flow_cookie(false, IdpKind::Saml, "v".into(), "/".into()).to_string();
        assert!(plain.contains("SameSite=Lax"), "{plain}");
    }
}
