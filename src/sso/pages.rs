//! The HTML pages people see, rendered from `templates/pages/` (built into the binary) with
//! minijinja, which escapes every value in an `.html` template.

use minijinja::Environment;
use serde::Serialize;
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
