//! Signing in through an identity provider: leaving for it (`/sso/{idp}/start`), coming back
//! (`/callback` for OIDC, `/acs` for SAML) and the SAML SP metadata. The work is
//! `sso::login`'s; here are the cookie that ties the browser to its sign-in and the page of
//! every refusal.

use super::respond;
use crate::http::page::{see_other, Page, PageResult};
use crate::http::session;
use crate::ids::TenantSlug;
use crate::sso::flow;
use crate::sso::idp::Kind as IdpKind;
use crate::sso::login::{self, Refusal};
use crate::sso::protocol::Answer;
use crate::state::AppState;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

/// The largest SAML response body accepted at the ACS: responses with many groups run to
/// hundreds of kilobytes.
const ACS_MAX_BYTES: usize = 1 << 20;

/// The sign-in routes, inside the `/t/{tenant}` scope.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sso/{idp}/start", web::get().to(start))
        .route("/sso/{idp}/callback", web::get().to(callback))
        .route("/sso/{idp}/metadata", web::get().to(metadata))
        .service(
            web::resource("/sso/{idp}/acs")
                .app_data(web::PayloadConfig::new(ACS_MAX_BYTES))
                .route(web::post().to(acs)),
        );
}

/// Where the flow cookie lives: the provider's own paths.
fn flow_path(t: &TenantSlug, i: &str) -> String {
    format!("/t/{t}/sso/{i}/")
}

/// The cookie of a sign-in in progress, scoped to the provider's path.
fn flow_cookie<'c>(secure: bool, kind: IdpKind, id: String, path: String) -> Cookie<'c> {
    let name = session::path_cookie_name(secure, flow::COOKIE);
    let mut c = session::cookie(secure, name, id, path);
    if kind == IdpKind::Saml && secure {
        // The SAML response arrives as a POST from the IdP's site, which a Lax cookie would
        // not accompany. (Over plain http, browsers refuse SameSite=None; that is for local
        // use, where muster and the IdP are usually one site anyway.)
        c.set_same_site(SameSite::None);
    }
    c.set_max_age(CookieDuration::seconds(flow::LIFETIME.whole_seconds()));
    c
}

/// The page of a refused sign-in.
fn page(tenant: &TenantSlug, r: Refusal) -> Page {
    let p = match r {
        Refusal::UnknownTenant => {
            return Page::new(
                404,
                "Unknown organisation",
                format!(
                    "There is no organisation {:?} here. Check the address you were given.",
                    tenant.as_str()
                ),
            )
        }
        Refusal::UnknownIdp { tenant } => Page::new(
            404,
            "Unknown sign-in method",
            format!("{tenant} has no active sign-in method by that name."),
        ),
        Refusal::Expired => Page::new(
            400,
            "This sign-in has expired",
            "The sign-in took too long, was already completed, or was started in another \
             browser. Start again from the sign-in page.",
        ),
        Refusal::Refused(why) => {
            tracing::warn!(%tenant, reason = %why, "sign-in refused");
            crate::ops::login("sso", "refused");
            Page::new(
                403,
                "Sign-in refused",
                "The response from your identity provider could not be accepted, so you are not \
                 signed in. Start again; if it keeps failing, tell your administrator.",
            )
            .detail(why)
        }
        Refusal::Unreachable { title, why } => Page::new(
            502,
            "The identity provider is unreachable",
            format!("{title} could not be reached. Try again in a moment."),
        )
        .detail(why),
        Refusal::NotProvisioned { tenant, idp } => Page::new(
            403,
            "Your account is not provisioned",
            format!(
                "You signed in at {idp}, but {tenant} has no account for you. Ask your \
                 administrator to give you access."
            ),
        ),
        Refusal::Inactive { tenant } => Page::new(
            403,
            "Your account is deactivated",
            format!(
                "Your account in {tenant} is deactivated. Ask your administrator if you need \
                 access again."
            ),
        ),
        Refusal::Conflict { tenant, idp } => Page::new(
            409,
            "This account is linked to someone else",
            format!(
                "The matching account in {tenant} is already linked to another {idp} identity. \
                 Ask your administrator."
            ),
        ),
        Refusal::EmailUnverified { idp } => Page::new(
            403,
            "Your email address is not verified",
            format!(
                "This sign-in names you by your email address, but {idp} did not confirm that \
                 the address is yours. Verify it at {idp}, or ask your administrator."
            ),
        ),
        Refusal::NameTaken { tenant, idp, name } => Page::new(
            409,
            "This name belongs to another account",
            format!(
                "{tenant} already has an account named {name}, and {idp} is not set up to sign \
                 in to it. Ask your administrator to link it."
            ),
        ),
        Refusal::InviteMismatch { invited, idp } => Page::new(
            403,
            "This sign-in does not match the invitation",
            format!(
                "The invitation is for {invited}, but {idp} did not confirm that address for the \
                 account you signed in with. Sign in there with that address, or choose a \
                 password on the invitation page."
            ),
        ),
        Refusal::InviteConflict { tenant, idp } => Page::new(
            409,
            "This account is linked to someone else",
            format!(
                "Your {idp} account already belongs to another user of {tenant}. Ask your \
                 administrator."
            ),
        ),
        Refusal::InviteDead => Page::new(
            410,
            "This invitation no longer works",
            "It was already accepted, has expired or was withdrawn. Ask your administrator for \
             a new one if you still need access.",
        ),
        Refusal::Failed(e) => return Page::from(e),
    };
    p.login(tenant)
}

#[derive(Deserialize)]
pub(super) struct StartQuery {
    return_to: Option<String>,
    /// On a sign-in started from an invitation page: its token.
    invite: Option<String>,
}

/// `GET /t/{tenant}/sso/{idp}/start`: off to the identity provider.
pub(super) async fn start(
    state: web::Data<AppState>,
    path: web::Path<(TenantSlug, String)>,
    q: web::Query<StartQuery>,
) -> HttpResponse {
    let (tenant, idp) = path.into_inner();
    let q = q.into_inner();
    let public_url = &state.config.public_url;
    let out = state.outbound();
    match login::start(
        &state.db,
        out,
        public_url,
        &tenant,
        &idp,
        q.return_to,
        q.invite,
    )
    .await
    {
        Ok(s) => {
            let c = flow_cookie(
                session::secure(&state),
                s.kind,
                s.flow_id,
                flow_path(&tenant, &idp),
            );
            see_other(&s.url).cookie(c).finish()
        }
        Err(r) => page(&tenant, r).response(),
    }
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /t/{tenant}/sso/{idp}/callback`: back from an OIDC provider.
pub(super) async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(TenantSlug, String)>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    let answer = Answer::Oidc {
        code: q.code,
        state: q.state,
        iss: q.iss,
        error: q.error,
        error_description: q.error_description,
    };
    finish(&state, &req, path.into_inner(), Ok(answer)).await
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `POST /t/{tenant}/sso/{idp}/acs`: a SAML response.
pub(super) async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(TenantSlug, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let answer = serde_urlencoded::from_bytes::<AcsForm>(&body)
        .map_err(|e| format!("the POST is not a SAML response form: {e}"))
        .and_then(|f| match f.saml_response.filter(|r| !r.trim().is_empty()) {
            Some(response) => Ok(Answer::Saml {
                response,
                relay_state: f.relay_state,
            }),
            None => Err("the POST carries no SAMLResponse".to_owned()),
        });
    finish(&state, &req, path.into_inner(), answer).await
}

/// Finishes a sign-in and starts the session; the flow cookie is spent whatever happened.
async fn finish(
    state: &AppState,
    req: &HttpRequest,
    (tenant, idp): (TenantSlug, String),
    answer: Result<Answer, String>,
) -> HttpResponse {
    let flow_cookie = session::path_cookie_name(session::secure(state), flow::COOKIE);
    let cookie = req.cookie(&flow_cookie).map(|c| c.value().to_owned());
    let done = match answer {
        Ok(a) => {
            login::finish(
                &state.db,
                state.outbound(),
                &state.config.public_url,
                &tenant,
                &idp,
                a,
                cookie,
            )
            .await
        }
        Err(why) => Err(Refusal::Refused(why)),
    };
    let r: PageResult = match done {
        Ok(s) => session::start(state, &s.tenant, &s.user, Some(&s.idp_id), s.return_to).await,
        Err(r) => Err(page(&tenant, r)),
    };
    let mut resp = respond(r);
    let gone = session::removal(state, flow_cookie, flow_path(&tenant, &idp));
    let _ = resp.add_cookie(&gone);
    resp
}

/// `GET /t/{tenant}/sso/{idp}/metadata`: the SP metadata an admin gives a SAML IdP.
pub(super) async fn metadata(
    state: web::Data<AppState>,
    path: web::Path<(TenantSlug, String)>,
) -> HttpResponse {
    let (tenant, idp) = path.into_inner();
    match login::sp_metadata(&state.db, &state.config.public_url, &tenant, &idp).await {
        Ok(xml) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .body(xml),
        Err(Refusal::UnknownIdp { tenant }) => Page::new(
            404,
            "Unknown SAML provider",
            format!("{tenant} has no SAML identity provider {idp:?}."),
        )
        .response(),
        Err(r) => page(&tenant, r).response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_cookies_fit_their_protocol() {
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
