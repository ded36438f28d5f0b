//! What a person does, in a real headless chromium (tests/peers/browser.mjs): open the
//! tenant's login page, click the IdP's button, sign in at the IdP, land on the account page
//! signed in. Once per protocol.

use crate::peers;
use crate::util::TestApp;
use muster::sso::idp::{self, OidcSettings};
use muster::sso::{oidc, saml};
use muster::tenants::Mode;
use serde_json::{json, Value};
use std::process::Command;

/// Runs a plan in chromium; the driver's JSON answer.
pub(crate) async fn browse(plan: Value) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("tests/peers/browser.mjs")
            .arg(plan.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run the browser driver (scripts/setup test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "browser driver said {stdout:?}; stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Asserts the browser ended signed in on the account page, with a proper session cookie.
fn assert_signed_in(result: &Value, base: &str, tenant: &str, who: &str) {
    assert_eq!(result["ok"], true, "{result:#}");
    let url = result["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{base}/account")), "{url}");
    let text = result["text"].as_str().unwrap();
    assert!(text.contains(who), "{text}");
    let session = result["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("muster_session_{tenant}"))
        .unwrap_or_else(|| panic!("no session cookie: {result:#}"));
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
}

async fn oidc_login_in_a_browser(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Jit).await;
    let base = format!("{}/t/{}", app.url, t.slug);
    let peer = peers::oidc(&[format!("{base}/sso/okta/callback")]);
    let doc = oidc::discover(app.state.outbound(), &peer.url)
        .await
        .unwrap();
    let (slug, issuer) = (t.slug.clone(), peer.url.clone());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            idp::add(
                c,
                &tid,
                idp::NewIdp {
                    slug: "okta".into(),
                    title: "Okta".into(),
                    kind: idp::Kind::Oidc,
                    settings: serde_json::to_value(OidcSettings {
                        issuer,
                        client_id: "muster".into(),
                        scopes: vec!["email".into(), "profile".into()],
                    })
                    .unwrap(),
                    client_secret: Some("muster-secret".into()),
                    discovered: Some(doc),
                    linking: idp::Linking::default(),
                },
            )
        })
        .await
        .unwrap();
    let result = browse(json!({
        "start": format!("{base}/login"),
        "steps": [
            {"click": "Log in with Okta"},
            {"expect_url_prefix": peer.url},
            {"fill": {"login": "alice", "password": "any"}},
            {"click": "Sign-in"},
            {"click": "Continue"},
            {"expect_url_prefix": format!("{base}/account")},
            {"expect_text": "alice@example.test"},
        ],
        "timeout_ms": 30000,
    }))
    .await;
    assert_signed_in(&result, &base, &t.slug, "alice@example.test");
}

async fn saml_login_in_a_browser(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Jit).await;
    let base = format!("{}/t/{}", app.url, t.slug);
    let peer = peers::saml();
    let md = saml::fetch_metadata(app.state.outbound(), &format!("{}/metadata", peer.url))
        .await
        .unwrap();
    let settings = saml::read_metadata(&md, None).unwrap();
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            idp::add(
                c,
                &tid,
                idp::NewIdp {
                    slug: "entra".into(),
                    title: "Entra ID".into(),
                    kind: idp::Kind::Saml,
                    settings: serde_json::to_value(settings).unwrap(),
                    client_secret: None,
                    discovered: None,
                    linking: idp::Linking {
                        by: idp::LinkBy::Email,
                        trust_email: true,
                    },
                },
            )
        })
        .await
        .unwrap();
    let result = browse(json!({
        "start": format!("{base}/login"),
        "steps": [
            {"click": "Log in with Entra ID"},
            {"expect_url_prefix": peer.url},
            {"fill": {"Username": "alice"}},
            // The IdP answers with a form that posts itself to muster's ACS.
            {"click": "Sign in"},
            {"expect_url_prefix": format!("{base}/account")},
            {"expect_text": "Alice Example"},
        ],
        "timeout_ms": 30000,
    }))
    .await;
    assert_signed_in(&result, &base, &t.slug, "alice@example.test");
}

crate::on_both_backends!(oidc_login_in_a_browser, saml_login_in_a_browser);
