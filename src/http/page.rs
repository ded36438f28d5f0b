//! The HTML pages people see, rendered from `templates/pages/` (built into the binary) with
//! minijinja, which escapes every value in an `.html` template; the headers every page
//! carries; and [`Page`], a refusal or a problem shown as a page that says what happened and
//! what to do.

use crate::error::Error;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use minijinja::Environment;
use serde::Serialize;
use serde_json::json;
use std::sync::OnceLock;

const PAGES: [(&str, &str); 6] = [
    (
        "password.html",
        include_str!("../../templates/pages/password.html"),
    ),
    (
        "forgot.html",
        include_str!("../../templates/pages/forgot.html"),
    ),
    ("base.html", include_str!("../../templates/pages/base.html")),
    (
        "login.html",
        include_str!("../../templates/pages/login.html"),
    ),
    (
        "account.html",
        include_str!("../../templates/pages/account.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/pages/message.html"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in PAGES {
            if let Err(e) = env.add_template(name, source) {
                // The templates are fixed at build time; a unit test renders each one.
                tracing::error!(template = name, error = %e, "page template does not parse");
            }
        }
        env
    })
}

/// Renders a page; a failure (a bug, covered by tests) becomes a plain message.
pub fn render(name: &str, ctx: impl Serialize) -> String {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(template = name, error = %e, "page did not render");
            "Something went wrong rendering this page.".to_owned()
        })
}

/// A page that is never cached and never framed.
pub fn html(status: StatusCode) -> actix_web::HttpResponseBuilder {
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

/// A redirect after a form or a sign-in; never cached, and the Referer stays here.
pub fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    b
}

/// A refusal or a problem, shown as a page.
#[derive(Debug)]
pub struct Page {
    status: u16,
    heading: String,
    message: String,
    detail: Option<String>,
    login: Option<String>,
}

impl Page {
    pub fn new(status: u16, heading: &str, message: impl Into<String>) -> Page {
        Page {
            status,
            heading: heading.to_owned(),
            message: message.into(),
            detail: None,
            login: None,
        }
    }

    /// A detail for the person who asks (and the activity log): why exactly.
    pub fn detail(mut self, d: impl Into<String>) -> Page {
        self.detail = Some(d.into());
        self
    }

    /// A link back to the tenant's sign-in page.
    pub fn login(mut self, tenant: &crate::ids::TenantSlug) -> Page {
        self.login = Some(format!("/t/{tenant}/login"));
        self
    }

    /// 500, with the cause in the log and not on the page.
    pub fn internal(e: impl std::fmt::Display) -> Page {
        tracing::error!(error = %e, "a page failed on an internal error");
        Page::new(
            500,
            "Something went wrong",
            "muster could not complete this request. Try again in a moment; if it keeps \
             happening, tell your administrator.",
        )
    }

    /// The page as a response; its reason is noted for the activity log.
    pub fn response(&self) -> HttpResponse {
        let body = render(
            "message.html",
            json!({
                "heading": self.heading,
                "message": self.message,
                "detail": self.detail,
                "login": self.login,
            }),
        );
        let mut r =
            html(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
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

/// What a page handler returns.
pub type PageResult = Result<HttpResponse, Page>;

/// The response of a page handler: the page it made, or the refusal it ran into.
pub fn respond(r: PageResult) -> HttpResponse {
    r.unwrap_or_else(|p| p.response())
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    #[test]
    fn pages_render_and_escape() {
        let html = render(
            "login.html",
            json!({"tenant_name": "<Acme>", "idps": [{"title": "Okta\"><script>", "start": "/x"}]}),
        );
        assert!(
            html.contains("Log in with Okta&quot;&gt;&lt;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;Acme&gt;"));
        let html = render(
            "account.html",
            json!({"tenant_name": "A", "user_name": "u", "logout": "/l"}),
        );
        assert!(html.contains("Signed in to A"));
        let html = render("message.html", json!({"heading": "H", "message": "M"}));
        assert!(html.contains("<h1>H</h1>"));
    }
}
