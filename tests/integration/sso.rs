//! Sign-in through a real OpenID provider (oidc-provider on loopback): linking, JIT, refusals,
//! sessions and deprovisioning. A small cookie-keeping agent plays the browser.

use crate::peers::{self, Peer};
use crate::util::{Tenant, TestApp};
use muster::sso::{idp, oidc};
use muster::tenants::Mode;
use serde_json::json;
use std::collections::BTreeMap;

/// A browser without JavaScript: keeps cookies (by name; muster and the IdP share the host
/// 127.0.0.1, as in a browser) and never follows redirects by itself.
pub(crate) struct Agent {
    http: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
    pub(crate) set_cookies: Vec<String>,
}

impl Agent {
    /// Signs in at oidc-provider's development pages as `login`, from `next` on, and stops at
    /// the first redirect to a URL starting with `until`, returning it.
    pub(crate) async fn through_idp(
        &mut self,
        mut next: String,
        login: &str,
        until: &str,
    ) -> String {
        for _ in 0..12 {
            if next.starts_with(until) {
                return next;
            }
            let page = self.get(&next).await;
            if let Some(loc) = page.location {
                next = absolute(&next, &loc);
                continue;
            }
            assert_eq!(page.status, 200, "{}", page.body);
            // oidc-provider's development interaction pages: login, then consent.
            let form = if page.body.contains("name=\"login\"") {
                self.post(
                    &next,
                    &[("prompt", "login"), ("login", login), ("password", "x")],
                )
                .await
            } else {
                self.post(&next, &[("prompt", "consent")]).await
            };
            next = absolute(&next, &form.location.expect("interaction redirect"));
        }
        panic!("no redirect to {until}");
    }

    pub(crate) fn new() -> Agent {
        Agent {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = rb.header("cookie", jar.join("; ")).send().await.unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for sc in &set_cookies {
            let pair = sc.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            let removed = v.is_empty() || sc.contains("Max-Age=0") || sc.contains("max-age=0");
            if removed {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status,
            location,
            body: r.text().await.unwrap(),
            set_cookies,
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Page {
        let rb = self.http.get(url);
        self.send(rb).await
    }

    pub(crate) async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let rb = self.http.post(url).form(form);
        self.send(rb).await
    }
}

pub(crate) fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        let origin: String = base.split('/').take(3).collect::<Vec<_>>().join("/");
        format!("{origin}{location}")
    }
}

/// One tenant with an OIDC provider `okta` at a fresh oidc-provider.
pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) tenant: Tenant,
    pub(crate) peer: Peer,
}

pub(crate) async fn setup(app: TestApp, mode: Mode) -> Setup {
    let tenant = app.tenant_with_mode(mode).await;
    let redirect = format!("{}/t/{}/sso/okta/callback", app.url, tenant.slug);
    let peer = peers::oidc(&[redirect]);
    add_okta(&app, &tenant.slug, &peer.url).await;
    Setup { app, tenant, peer }
}

async fn add_okta(app: &TestApp, tenant: &str, issuer: &str) {
    let doc = oidc::discover(app.state.outbound(), issuer)
        .await
        .expect("discovery");
    let (t, issuer) = (tenant.to_owned(), issuer.to_owned());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &t.as_str().into())?.id;
            idp::add(
                c,
                &tid,
                idp::NewIdp {
                    slug: "okta".into(),
                    title: "Okta".into(),
                    kind: idp::Kind::Oidc,
                    settings: serde_json::to_value(idp::OidcSettings {
                        issuer,
                        client_id: "muster".into(),
                        scopes: vec!["email".into(), "profile".into(), "groups".into()],
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
}

impl Setup {
    fn base(&self) -> String {
        format!("{}/t/{}", self.app.url, self.tenant.slug)
    }

    /// Starts at muster, signs in at the IdP as `login`, and stops at the redirect back to
    /// muster's callback, returning its URL.
    pub(crate) async fn to_callback(&self, agent: &mut Agent, login: &str, query: &str) -> String {
        let start = agent
            .get(&format!("{}/sso/okta/start{query}", self.base()))
            .await;
        assert_eq!(start.status, 303, "{}", start.body);
        let next = start.location.unwrap();
        assert!(next.starts_with(&self.peer.url), "{next}");
        agent.through_idp(next, login, &self.app.url).await
    }

    /// A whole sign-in; returns muster's answer to the callback.
    pub(crate) async fn sign_in(&self, agent: &mut Agent, login: &str) -> Page {
        let cb = self.to_callback(agent, login, "").await;
        agent.get(&cb).await
    }

    fn session_cookie(&self) -> String {
        format!("muster_session_{}", self.tenant.slug)
    }

    pub(crate) async fn account(&self, agent: &mut Agent) -> Page {
        agent.get(&format!("{}/account", self.base())).await
    }
}

/// Asserts a refusal: an HTML page with the status and no session started.
pub(crate) fn assert_refused(s: &Setup, agent: &Agent, page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.body.contains(says),
        "expected {says:?} in {}",
        page.body
    );
    assert!(
        !agent.cookies.contains_key(&s.session_cookie()),
        "a refused sign-in must not start a session"
    );
}

async fn jit_creates_the_user_and_their_groups(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    let page = s
        .app
        .client
        .get(format!("{}/login", s.base()))
        .send()
        .await
        .unwrap();
    // minijinja escapes '/' in attributes; a browser reads it back.
    let login_html = page.text().await.unwrap().replace("&#x2f;", "/");
    assert!(login_html.contains("Log in with Okta"), "{login_html}");
    assert!(login_html.contains(&format!("/t/{}/sso/okta/start", s.tenant.slug)));

    let mut agent = Agent::new();
    let done = s.sign_in(&mut agent, "alice").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/t/{}/account", s.tenant.slug).as_str())
    );
    let cookie = done
        .set_cookies
        .iter()
        .find(|c| c.starts_with(&s.session_cookie()))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure flag ({cookie})"
    );

    let account = s.account(&mut agent).await;
    assert_eq!(account.status, 200);
    assert!(
        account.body.contains("alice@example.test"),
        "{}",
        account.body
    );
    assert!(account.body.contains("engineering"), "{}", account.body);

    // The user and the group exist over SCIM, with the membership.
    let ids = s
        .tenant
        .user_ids(r#"userName eq "alice@example.test""#)
        .await;
    assert_eq!(ids.len(), 1);
    let user = s.tenant.get(&format!("/Users/{}", ids[0])).await;
    // Names, email and groups come from UserInfo: the ID token carries only `sub`.
    assert_eq!(user.body["name"]["givenName"], "Alice");
    assert_eq!(user.body["displayName"], "Alice Example");
    assert_eq!(user.body["emails"][0]["value"], "alice@example.test");
    assert_eq!(user.body["groups"][0]["display"], "engineering");

    // A second sign-in reuses the link: still one user.
    let mut again = Agent::new();
    assert_eq!(s.sign_in(&mut again, "alice").await.status, 303);
    assert_eq!(s.tenant.user_ids(r#"userName sw "alice""#).await.len(), 1);
}

async fn scim_mode_refuses_people_it_does_not_know(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "bob").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");
    assert!(s.tenant.user_ids(r#"userName sw "bob""#).await.is_empty());
}

async fn provisioned_user_is_linked_and_deprovisioning_ends_the_session(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    let id = s
        .tenant
        .user(
            "alice.example",
            json!({"emails": [{"value": "alice@example.test", "primary": true}]}),
        )
        .await;
    // The provider, with its defaults, keeps the email out of the ID token: muster reads it
    // from the UserInfo endpoint.
    let raw = crate::introspect::id_token(&s, "alice").await;
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            raw.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(payload.get("email").is_none(), "{payload}");
    let mut agent = Agent::new();
    // Matched by the verified email (the userName differs), then linked.
    let done = s.sign_in(&mut agent, "alice").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let account = s.account(&mut agent).await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("alice.example"), "{}", account.body);

    // SCIM deactivation ends the session at once.
    let r = s
        .tenant
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = s.account(&mut agent).await;
    assert_eq!(after.status, 303);
    assert_eq!(
        after.location.as_deref(),
        Some(format!("/t/{}/login", s.tenant.slug).as_str())
    );
    // And an inactive user cannot sign in again.
    let mut again = Agent::new();
    let page = s.sign_in(&mut again, "alice").await;
    assert_refused(&s, &again, &page, 403, "deactivated");
}

async fn unverified_email_does_not_link(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    s.tenant
        .user(
            "alice.example",
            json!({"emails": [{"value": "alice@example.test", "primary": true}]}),
        )
        .await;
    // mallory's IdP account carries alice's address, unverified.
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "mallory").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");
    // noverify's IdP says nothing about verification: same rule.
    s.tenant
        .user(
            "nv",
            json!({"emails": [{"value": "noverify@example.test", "primary": true}]}),
        )
        .await;
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "noverify").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");
}

async fn callback_checks_state_and_browser(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    // A state that is not this sign-in's.
    let mut agent = Agent::new();
    let cb = s.to_callback(&mut agent, "alice", "").await;
    let forged = cb.replace("state=", "state=x");
    let page = agent.get(&forged).await;
    assert_refused(&s, &agent, &page, 403, "state parameter does not match");

    // The right callback in another browser (no flow cookie).
    let mut agent = Agent::new();
    let cb = s.to_callback(&mut agent, "alice", "").await;
    let mut other = Agent::new();
    let page = other.get(&cb).await;
    assert_refused(&s, &other, &page, 400, "expired");
    // The stranger had no flow cookie, so nothing was spent: the owner can still finish,
    // once.
    let replay = agent.get(&cb).await;
    assert_eq!(
        replay.status, 303,
        "the owner's flow is still intact: {}",
        replay.body
    );
    let again = agent.get(&cb).await;
    assert_eq!(
        again.status, 400,
        "a callback is single use: {}",
        again.body
    );
}

/// The provider withdraws the key it signed with (it leaked, say): once muster's copy of the
/// key set is older than an hour, the next sign-in fetches it again and the key verifies
/// nothing more.
async fn a_key_the_idp_withdrew_stops_being_trusted(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    assert_eq!(s.sign_in(&mut Agent::new(), "alice").await.status, 303);
    let r = reqwest::Client::new()
        .post(format!("{}/__scenario", s.peer.url))
        .json(&json!({"publish": "other"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // Within the hour the stored key set still serves.
    assert_eq!(s.sign_in(&mut Agent::new(), "alice").await.status, 303);
    let slug = s.tenant.slug.clone();
    s.app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::identity_providers as ip;
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            let then = time::OffsetDateTime::now_utc() - time::Duration::minutes(61);
            diesel::update(ip::table.filter(ip::tenant_id.eq(tid)))
                .set(ip::discovered_at.eq(muster::db::time::format_time(then)))
                .execute(c)
                .map_err(muster::error::Error::from)
        })
        .await
        .unwrap();
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "alice").await;
    assert_refused(&s, &agent, &page, 403, "Sign-in refused");
}

async fn bad_id_tokens_are_refused(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    let cases = [
        (json!({"alg": "none"}), "not valid"),
        (json!({"alg": "HS256"}), "not valid"),
        (json!({"key": "other"}), "not valid"),
        (json!({"claims": {"nonce": "someone-elses"}}), "nonce"),
        (json!({"claims": {"aud": "another-client"}}), "udience"),
        (
            json!({"claims": {"iss": "http://127.0.0.1:1/evil"}}),
            "ssuer",
        ),
        (json!({"claims": {"exp": 1_000_000_000}}), "xpired"),
    ];
    for (mutation, says) in cases {
        let mut agent = Agent::new();
        let cb = s.to_callback(&mut agent, "alice", "").await;
        s.peer.mutate_next_token(mutation.clone()).await;
        let page = agent.get(&cb).await;
        assert_eq!(page.status, 403, "{mutation}: {}", page.body);
        assert!(
            page.body.contains(says),
            "{mutation}: expected {says:?} in {}",
            page.body
        );
        assert!(
            !agent.cookies.contains_key(&s.session_cookie()),
            "{mutation}"
        );
    }
    assert!(
        s.tenant.user_ids(r#"userName sw "alice""#).await.is_empty(),
        "no refused token may create a user"
    );
}

async fn return_to_only_to_allowed_urls(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    let slug = s.tenant.slug.clone();
    s.app
        .state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::tenants::allow_redirect(c, &t.id, "https://app.example.com/")
        })
        .await
        .unwrap();
    let mut agent = Agent::new();
    let cb = s
        .to_callback(
            &mut agent,
            "alice",
            "?return_to=https%3A%2F%2Fapp.example.com%2Fhome",
        )
        .await;
    let done = agent.get(&cb).await;
    assert_eq!(
        done.location.as_deref(),
        Some("https://app.example.com/home")
    );
    for foreign in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "https%3A%2F%2Fapp.example.com.evil.example%2F",
    ] {
        let mut agent = Agent::new();
        let cb = s
            .to_callback(&mut agent, "alice", &format!("?return_to={foreign}"))
            .await;
        let done = agent.get(&cb).await;
        assert_eq!(
            done.location.as_deref(),
            Some(format!("/t/{}/account", s.tenant.slug).as_str()),
            "{foreign}"
        );
    }
}

async fn another_tenants_response_is_refused(app: TestApp) {
    let a = setup(app, Mode::Jit).await;
    // Tenant B trusts the same IdP under the same slug.
    let b = a.app.tenant_with_mode(Mode::Jit).await;
    add_okta(&a.app, &b.slug, &a.peer.url).await;
    let mut agent = Agent::new();
    let cb = a.to_callback(&mut agent, "alice", "").await;
    let at_b = cb.replace(
        &format!("/t/{}/", a.tenant.slug),
        &format!("/t/{}/", b.slug),
    );
    let page = agent.get(&at_b).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!agent
        .cookies
        .keys()
        .any(|k| k.starts_with("muster_session")));
}

async fn logout_ends_the_session(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    let mut agent = Agent::new();
    assert_eq!(s.sign_in(&mut agent, "alice").await.status, 303);
    let stolen = agent.cookies.get(&s.session_cookie()).cloned().unwrap();
    // A page of another site cannot sign the person out.
    let cookie = format!("{}={stolen}", s.session_cookie());
    let forged = s
        .app
        .client
        .post(format!("{}/logout", s.base()))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(s.account(&mut agent).await.status, 200, "still signed in");
    let out = agent.post(&format!("{}/logout", s.base()), &[]).await;
    assert_eq!(out.status, 303);
    assert!(!agent.cookies.contains_key(&s.session_cookie()));
    // The old cookie value opens nothing any more.
    let mut thief = Agent::new();
    thief.cookies.insert(s.session_cookie(), stolen);
    assert_eq!(s.account(&mut thief).await.status, 303);
}

async fn unknown_tenant_and_provider_pages(app: TestApp) {
    let t = app.tenant().await;
    let r = app
        .client
        .get(format!("{}/t/no-such-tenant/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no organisation"));
    let r = app
        .client
        .get(format!("{}/t/{}/sso/nope/start", app.url, t.slug))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let html: String = r.text().await.unwrap();
    assert!(html.contains("no active sign-in method"), "{html}");
}

crate::on_both_backends!(
    jit_creates_the_user_and_their_groups,
    scim_mode_refuses_people_it_does_not_know,
    provisioned_user_is_linked_and_deprovisioning_ends_the_session,
    unverified_email_does_not_link,
    callback_checks_state_and_browser,
    bad_id_tokens_are_refused,
    a_key_the_idp_withdrew_stops_being_trusted,
    return_to_only_to_allowed_urls,
    another_tenants_response_is_refused,
    logout_ends_the_session,
    unknown_tenant_and_provider_pages,
);
