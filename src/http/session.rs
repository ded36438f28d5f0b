//! The browser session: one HttpOnly cookie per tenant holding a random id whose hash is the
//! session row (`auth::session`). Started after a sign-in, read by the pages, the token
//! endpoints and the admin API (through `http::caller`), ended by logout.

use super::page::{see_other, Page, PageResult};
use crate::auth::session;
use crate::ids::{TenantSlug, UserId};
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};

/// The session cookie's name for a tenant: one per tenant, so signing in to one leaves
/// another alone. Over https it has the `__Host-` prefix: browsers then keep it only when it
/// is Secure, for this host alone, at `/`, so a sibling subdomain or a plain-http page cannot
/// plant or overwrite it.
pub fn cookie_name(secure: bool, tenant: &TenantSlug) -> String {
    let prefix = if secure { "__Host-" } else { "" };
    format!("{prefix}muster_session_{tenant}")
}

/// The name of a cookie scoped to a path below `/` (a sign-in in progress): `__Secure-` over
/// https, which browsers accept only from a secure page with the Secure flag.
pub fn path_cookie_name(secure: bool, name: &str) -> String {
    let prefix = if secure { "__Secure-" } else { "" };
    format!("{prefix}{name}")
}

/// Whether the request's server is reached over https.
fn secure_request(req: &HttpRequest) -> bool {
    super::state_of(req).is_ok_and(|s| secure(&s))
}

/// The session cookie's value in a request, if it has one for the tenant.
pub fn cookie_value(req: &HttpRequest, tenant: &TenantSlug) -> Option<String> {
    req.cookie(&cookie_name(secure_request(req), tenant))
        .map(|c| c.value().to_owned())
}

/// Whether muster is reached over https (cookies are then Secure).
pub fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// An HttpOnly, SameSite=Lax cookie, Secure when muster is reached over https.
pub fn cookie<'c>(secure: bool, name: String, value: String, path: String) -> Cookie<'c> {
    let mut c = Cookie::new(name, value);
    c.set_path(path);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    c
}

/// A cookie that tells the browser to forget `name` at `path`.
pub fn removal<'c>(state: &AppState, name: String, path: String) -> Cookie<'c> {
    let mut c = cookie(secure(state), name, String::new(), path);
    c.make_removal();
    c
}

/// Starts a session for a user who just proved who they are, and sends them on: to
/// `return_to` (already checked against the tenant's allowed prefixes), else their account.
///
/// # Errors
/// A page for database errors.
pub async fn start(
    state: &AppState,
    t: &Tenant,
    user: &UserId,
    idp_id: Option<&str>,
    return_to: Option<String>,
) -> PageResult {
    let (tid, uid, iid) = (t.id.clone(), user.clone(), idp_id.map(str::to_owned));
    let sid = state
        .db
        .run_write(move |c| session::create(c, &tid, &uid, iid.as_deref()))
        .await
        .map_err(Page::from)?;
    let target = return_to.unwrap_or_else(|| format!("/t/{}/account", t.slug));
    let https = secure(state);
    let mut sc = cookie(https, cookie_name(https, &t.slug), sid, "/".to_owned());
    sc.set_max_age(CookieDuration::seconds(session::LIFETIME.whole_seconds()));
    let mut r = see_other(&target).cookie(sc).finish();
    r.extensions_mut()
        .insert(crate::activity::Subject(user.to_string()));
    Ok(r)
}

/// The session of this request for the tenant, if any.
///
/// # Errors
/// A page for database errors.
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
    t: &Tenant,
) -> Result<Option<session::Session>, Page> {
    let Some(value) = cookie_value(req, &t.slug) else {
        return Ok(None);
    };
    let tid = t.id.clone();
    Ok(state
        .db
        .run(move |c| session::find(c, &tid, &value))
        .await?)
}

/// Ends the request's session of the tenant (if any) and forgets the cookie.
pub async fn end(state: &AppState, req: &HttpRequest, tenant: &TenantSlug) -> HttpResponse {
    let name = cookie_name(secure(state), tenant);
    if let Some(value) = cookie_value(req, tenant) {
        if let Err(e) = state.db.run_write(move |c| session::end(c, &value)).await {
            return Page::from(e).response();
        }
    }
    see_other(&format!("/t/{tenant}/login"))
        .cookie(removal(state, name, "/".to_owned()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_over_https_and_never_readable_by_scripts() {
        for secure in [false, true] {
            let c = cookie(secure, "s".into(), "v".into(), "/".into()).to_string();
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
            assert_eq!(c.contains("Secure"), secure, "{c}");
        }
        let acme = TenantSlug::from("acme");
        assert_eq!(cookie_name(true, &acme), "__Host-muster_session_acme");
        assert_eq!(cookie_name(false, &acme), "muster_session_acme");
        assert_eq!(path_cookie_name(true, "f"), "__Secure-f");
    }
}
