//! Sign-in through a real SAML IdP (pysaml2 on loopback): SP metadata, the redirect binding,
//! JIT and linking, every response check samael leaves to muster, replay, and IdP-initiated
//! login.

use crate::peers::{self, Peer};
use crate::sso::{Agent, Page};
use crate::util::{Tenant, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use muster::sso::idp::{self, SamlSettings};
use muster::sso::saml;
use muster::tenants::Mode;
use serde_json::json;

struct Setup {
    app: TestApp,
    tenant: Tenant,
    peer: Peer,
}

/// A tenant with SAML provider `entra` at a fresh pysaml2 IdP, trusted for email addresses,
/// its settings changed by `tweak`.
async fn setup(app: TestApp, mode: Mode, tweak: fn(&mut SamlSettings)) -> Setup {
    setup_linking(app, mode, tweak, trusted()).await
}

async fn setup_linking(
    app: TestApp,
    mode: Mode,
    tweak: fn(&mut SamlSettings),
    linking: idp::Linking,
) -> Setup {
    let tenant = app.tenant_with_mode(mode).await;
    let peer = peers::saml();
    add_entra(&app, &tenant.slug, &peer.url, tweak, linking).await;
    Setup { app, tenant, peer }
}

fn as_is(_: &mut SamlSettings) {}

/// Links by email, every address of the IdP vouched for by the admin.
fn trusted() -> idp::Linking {
    idp::Linking {
        by: idp::LinkBy::Email,
        trust_email: true,
    }
}

async fn add_entra(
    app: &TestApp,
    tenant: &str,
    idp_url: &str,
    tweak: fn(&mut SamlSettings),
    linking: idp::Linking,
) {
    let md_url = format!("{idp_url}/metadata");
    let xml = saml::fetch_metadata(app.state.outbound(), &md_url)
        .await
        .expect("IdP metadata");
    let mut settings = saml::read_metadata(&xml, Some(md_url)).expect("metadata accepted");
    tweak(&mut settings);
    let t = tenant.to_owned();
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &t.as_str().into())?.id;
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
                    linking,
                },
            )
        })
        .await
        .unwrap();
}

/// The value of a hidden form field in the IdP's auto-POST page.
fn hidden(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let rest = &body[at..];
    let v = rest.split("value=\"").nth(1)?.split('"').next()?;
    Some(v.replace("&amp;", "&").replace("&quot;", "\""))
}

/// What the IdP posts back to muster.
struct Posted {
    acs: String,
    response: String,
    relay_state: Option<String>,
}

impl Setup {
    fn base(&self) -> String {
        format!("{}/t/{}", self.app.url, self.tenant.slug)
    }

    fn acs(&self) -> String {
        format!("{}/sso/entra/acs", self.base())
    }

    fn entity_id(&self) -> String {
        format!("{}/sso/entra/metadata", self.base())
    }

    fn session_cookie(&self) -> String {
        format!("muster_session_{}", self.tenant.slug)
    }

    /// Starts at muster and signs in at the IdP as `user` with the IdP's `knobs`; stops at
    /// the auto-POST form the IdP answers with.
    async fn to_acs(&self, agent: &mut Agent, user: &str, query: &str, knobs: &str) -> Posted {
        let start = agent
            .get(&format!("{}/sso/entra/start{query}", self.base()))
            .await;
        assert_eq!(start.status, 303, "{}", start.body);
        let to_idp = start.location.unwrap();
        assert!(
            to_idp.starts_with(&format!("{}/sso/redirect?SAMLRequest=", self.peer.url)),
            "{to_idp}"
        );
        let page = agent.get(&format!("{to_idp}&user={user}{knobs}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        posted(&page)
    }

    async fn post(&self, agent: &mut Agent, p: &Posted) -> Page {
        let mut form = vec![("SAMLResponse", p.response.as_str())];
        if let Some(r) = &p.relay_state {
            form.push(("RelayState", r.as_str()));
        }
        agent.post(&p.acs, &form).await
    }

    async fn sign_in(&self, agent: &mut Agent, user: &str, knobs: &str) -> Page {
        let p = self.to_acs(agent, user, "", knobs).await;
        self.post(agent, &p).await
    }

    /// An unsolicited response from the IdP, for `user`, aimed at this tenant.
    async fn unsolicited(&self, user: &str, relay_state: Option<&str>) -> Posted {
        let (acs, audience) = (self.acs(), self.entity_id());
        let mut form = vec![
            ("user", user),
            ("acs", acs.as_str()),
            ("audience", audience.as_str()),
        ];
        if let Some(r) = relay_state {
            form.push(("RelayState", r));
        }
        let r = reqwest::Client::new()
            .post(format!("{}/idp-init", self.peer.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        posted(&Page {
            status: 200,
            location: None,
            body,
            set_cookies: vec![],
        })
    }
}

fn posted(page: &Page) -> Posted {
    let acs = page
        .body
        .split("action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("form action")
        .to_owned();
    Posted {
        acs,
        response: hidden(&page.body, "SAMLResponse").expect("SAMLResponse"),
        relay_state: hidden(&page.body, "RelayState"),
    }
}

/// The span of the first element with this local name (any prefix), end tag included.
fn element(xml: &str, local: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = xml[from..].find('<').map(|i| i + from) {
        let name: String = xml[i + 1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        if name.rsplit(':').next() == Some(local) && !name.starts_with('/') {
            let close = format!("</{name}>");
            let end = xml[i..].find(&close)? + i + close.len();
            return Some((i, end));
        }
        from = i + 1;
    }
    None
}

/// Puts a forged copy of the assertion (bob, new ID, no signature) before the real one.
fn wrap_signature(xml: &str) -> String {
    let (a, b) = element(xml, "Assertion").expect("assertion");
    let mut evil = xml[a..b].replace("alice", "bob");
    if let Some((x, y)) = element(&evil, "Signature") {
        evil.replace_range(x..y, "");
    }
    let id_at = evil.find(" ID=\"").expect("assertion ID") + 5;
    let id_end = evil[id_at..].find('"').unwrap() + id_at;
    evil.replace_range(id_at..id_end, "_evil0123456789");
    format!("{}{evil}{}", &xml[..a], &xml[a..])
}

fn assert_refused(s: &Setup, agent: &Agent, page: &Page, says: &str) {
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Sign-in refused"), "{}", page.body);
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

async fn sp_metadata_and_jit_sign_in(app: TestApp) {
    let s = setup(app, Mode::Jit, as_is).await;
    // The SP metadata an admin hands to the IdP.
    let r = s.app.client.get(s.entity_id()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/samlmetadata+xml"
    );
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains(&format!("entityID=\"{}\"", s.entity_id())),
        "{xml}"
    );
    assert!(xml.contains(&format!("Location=\"{}\"", s.acs())), "{xml}");
    assert!(xml.contains("WantAssertionsSigned=\"true\""), "{xml}");
    assert!(!xml.contains("SingleLogoutService"), "{xml}");

    let login = s
        .app
        .client
        .get(format!("{}/login", s.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(login.contains("Log in with Entra ID"), "{login}");

    let mut agent = Agent::new();
    let p = s.to_acs(&mut agent, "alice", "", "").await;
    assert_eq!(p.acs, s.acs());
    // RelayState is opaque and random, never a URL.
    let relay = p.relay_state.clone().expect("RelayState");
    assert!(relay.len() >= 40 && !relay.contains('/'), "{relay}");
    let flow = agent
        .cookies
        .get("muster_login")
        .expect("flow cookie")
        .clone();
    assert!(!flow.is_empty());
    let done = s.post(&mut agent, &p).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/t/{}/account", s.tenant.slug).as_str())
    );
    let account = agent.get(&format!("{}/account", s.base())).await;
    assert_eq!(account.status, 200);
    assert!(
        account.body.contains("alice@example.test"),
        "{}",
        account.body
    );
    assert!(account.body.contains("Entra ID"), "{}", account.body);

    // Created from the attributes: NameID as userName, names, email, groups.
    let ids = s
        .tenant
        .user_ids(r#"userName eq "alice@example.test""#)
        .await;
    assert_eq!(ids.len(), 1);
    let user = s.tenant.get(&format!("/Users/{}", ids[0])).await;
    assert_eq!(user.body["name"]["givenName"], "Alice");
    assert_eq!(user.body["name"]["familyName"], "Example");
    assert_eq!(user.body["displayName"], "Alice Example");
    assert_eq!(user.body["emails"][0]["value"], "alice@example.test");
    assert_eq!(user.body["groups"][0]["display"], "engineering");

    // The same response posted again by the same browser: its sign-in is spent.
    let again = s.post(&mut agent, &p).await;
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(again.body.contains("nobody asked for"), "{}", again.body);
}

async fn scim_mode_links_provisioned_users_only(app: TestApp) {
    // The NameID is the userName, in a directory the tenant runs.
    let by_name = idp::Linking {
        by: idp::LinkBy::UserName,
        trust_email: false,
    };
    let s = setup_linking(app, Mode::Scim, as_is, by_name).await;
    let id = s
        .tenant
        .user("alice@example.test", json!({"active": true}))
        .await;
    let mut agent = Agent::new();
    let done = s.sign_in(&mut agent, "alice", "").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(agent.cookies.contains_key(&s.session_cookie()));
    assert_eq!(
        s.tenant.user_ids(r#"userName sw "alice""#).await,
        vec![id.clone()]
    );

    let mut stranger = Agent::new();
    let page = s.sign_in(&mut stranger, "bob", "").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("not provisioned"), "{}", page.body);
    assert!(s.tenant.user_ids(r#"userName sw "bob""#).await.is_empty());

    // Deprovisioned over SCIM: the next SAML sign-in is refused.
    let r = s
        .tenant
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(r.status, 200);
    let mut later = Agent::new();
    let page = s.sign_in(&mut later, "alice", "").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("deactivated"), "{}", page.body);
}

async fn bad_responses_are_refused(app: TestApp) {
    let s = setup(app, Mode::Jit, as_is).await;
    let cases = [
        ("&sig=sha1&digest=sha1", "signed"),
        ("&digest=sha1", "signed"),
        ("&sign_response=0&sign_assertion=0", "signed"),
        ("&no_audience=1", "no audience"),
        ("&audience=https%3A%2F%2Fother.example%2Fsp", "Audience"),
        ("&expired=1", "expired"),
        ("&not_before_minutes=30", "not valid until"),
        ("&in_response_to=_0123456789abcdef", "InResponseTo"),
    ];
    for (knobs, says) in cases {
        let mut agent = Agent::new();
        let page = s.sign_in(&mut agent, "alice", knobs).await;
        assert_refused(&s, &agent, &page, says);
    }

    // Edited after signing: the NameID of someone else.
    let mut agent = Agent::new();
    let mut p = s.to_acs(&mut agent, "alice", "", "").await;
    let xml = String::from_utf8(STANDARD.decode(&p.response).unwrap()).unwrap();
    assert!(xml.contains("alice@example.test"));
    p.response = STANDARD.encode(xml.replace("alice@example.test", "bob@example.test"));
    let page = s.post(&mut agent, &p).await;
    assert_refused(&s, &agent, &page, "signed");

    // A RelayState that is not this sign-in's.
    let mut agent = Agent::new();
    let mut p = s.to_acs(&mut agent, "alice", "", "").await;
    p.relay_state = Some("forged".into());
    let page = s.post(&mut agent, &p).await;
    assert_refused(&s, &agent, &page, "RelayState");

    // A browser that did not start the sign-in cannot finish it.
    let mut agent = Agent::new();
    let p = s.to_acs(&mut agent, "alice", "", "").await;
    let mut other = Agent::new();
    let page = s.post(&mut other, &p).await;
    assert_refused(&s, &other, &page, "nobody asked for");

    // Not a SAML response at all.
    let mut agent = Agent::new();
    let mut p = s.to_acs(&mut agent, "alice", "", "").await;
    p.response = "bm90IHhtbA==".into();
    let page = s.post(&mut agent, &p).await;
    assert_refused(&s, &agent, &page, "");

    assert!(
        s.tenant.user_ids(r#"userName sw "alice""#).await.is_empty(),
        "no refused response may create a user"
    );

    // Signature wrapping: an unsigned assertion for bob next to alice's signed one.
    for knobs in ["", "&sign_response=0"] {
        let mut agent = Agent::new();
        let mut p = s.to_acs(&mut agent, "alice", "", knobs).await;
        let xml = String::from_utf8(STANDARD.decode(&p.response).unwrap()).unwrap();
        p.response = STANDARD.encode(wrap_signature(&xml));
        let page = s.post(&mut agent, &p).await;
        // Refused, or at most alice's own signed assertion is read: never bob.
        assert!(
            page.status == 403 || page.status == 303,
            "{knobs}: {}",
            page.body
        );
        assert!(
            s.tenant.user_ids(r#"userName sw "bob""#).await.is_empty(),
            "{knobs}: a wrapped assertion was believed"
        );
    }
}

async fn idp_initiated_only_when_enabled_and_never_twice(app: TestApp) {
    let off = setup(app, Mode::Jit, as_is).await;
    let p = off.unsolicited("alice", None).await;
    let mut agent = Agent::new();
    let page = off.post(&mut agent, &p).await;
    assert_refused(&off, &agent, &page, "nobody asked for");

    // Another tenant on the same app that allows IdP-initiated sign-in.
    let tenant = off.app.tenant_with_mode(Mode::Jit).await;
    let tweak = |s: &mut SamlSettings| s.idp_initiated = true;
    add_entra(&off.app, &tenant.slug, &off.peer.url, tweak, trusted()).await;
    let slug = tenant.slug.clone();
    off.app
        .state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::tenants::allow_redirect(c, &t.id, "https://app.example.com/")
        })
        .await
        .unwrap();
    let on = Setup {
        app: off.app,
        tenant,
        peer: off.peer,
    };
    let p = on
        .unsolicited("alice", Some("https://app.example.com/home"))
        .await;
    let mut agent = Agent::new();
    let done = on.post(&mut agent, &p).await;
    assert_eq!(done.status, 303, "{}", done.body);
    // An allowed RelayState URL is where the person lands.
    assert_eq!(
        done.location.as_deref(),
        Some("https://app.example.com/home")
    );
    assert!(agent.cookies.contains_key(&on.session_cookie()));

    // The same assertion again, from anywhere: a replay.
    let mut thief = Agent::new();
    let page = on.post(&mut thief, &p).await;
    assert_refused(&on, &thief, &page, "already used");

    // A RelayState that is not an allowed URL is ignored, not followed.
    let p = on.unsolicited("alice", Some("https://evil.example/")).await;
    let mut agent = Agent::new();
    let done = on.post(&mut agent, &p).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/t/{}/account", on.tenant.slug).as_str())
    );
}

async fn metadata_without_a_signing_certificate_is_refused(app: TestApp) {
    let peer = peers::saml();
    let out = app.state.outbound();
    let fetch = |q: &str| {
        let url = format!("{}/metadata{q}", peer.url);
        async move { saml::fetch_metadata(out, &url).await }
    };
    let nocert = fetch("?nocert=1").await.unwrap();
    let err = saml::read_metadata(&nocert, None).unwrap_err();
    assert!(err.contains("no signing certificate"), "{err}");
    // A KeyDescriptor without `use` is for signing too.
    let nouse = fetch("?nouse=1").await.unwrap();
    assert!(saml::read_metadata(&nouse, None).is_ok());
    let err = saml::read_metadata("<html>not metadata</html>", None).unwrap_err();
    assert!(err.contains("EntityDescriptor"), "{err}");
    let err = saml::fetch_metadata(out, "http://127.0.0.1:9/metadata")
        .await
        .unwrap_err();
    assert!(err.contains("could not fetch"), "{err}");

    // Even if such a provider were stored, its responses would be refused.
    let t = app.tenant_with_mode(Mode::Jit).await;
    let full = fetch("").await.unwrap();
    let mut settings = saml::read_metadata(&full, None).unwrap();
    settings.metadata_xml = nocert;
    let sp = saml::Sp::new(&app.url, &t.slug.as_str().into(), "entra");
    let err = saml::verify(&settings, &sp, "PHNhbWw+", Some("_x")).unwrap_err();
    assert!(err.contains("no signing certificate"), "{err}");
}

async fn email_links_only_when_the_idp_is_trusted_for_it(app: TestApp) {
    let s = setup_linking(app, Mode::Scim, as_is, idp::Linking::default()).await;
    s.tenant
        .user(
            "alice.example",
            json!({"emails": [{"value": "alice@example.test", "primary": true}]}),
        )
        .await;
    // The NameID (alice@example.test) is no userName here and the email is not vouched for.
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "alice", "").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("not provisioned"), "{}", page.body);

    // The same IdP, trusted by the admin for its addresses: linked by email.
    let tenant = s.app.tenant_with_mode(Mode::Scim).await;
    add_entra(&s.app, &tenant.slug, &s.peer.url, as_is, trusted()).await;
    let id = tenant
        .user(
            "alice.example",
            json!({"emails": [{"value": "alice@example.test", "primary": true}]}),
        )
        .await;
    let trusted = Setup {
        app: s.app,
        tenant,
        peer: s.peer,
    };
    let mut agent = Agent::new();
    let done = trusted.sign_in(&mut agent, "alice", "").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let account = agent.get(&format!("{}/account", trusted.base())).await;
    assert!(account.body.contains("alice.example"), "{}", account.body);
    assert_eq!(
        trusted.tenant.user_ids(r#"userName sw "alice""#).await,
        vec![id]
    );
}

/// The text of the first X509Certificate element.
fn certificate(xml: &str) -> String {
    let (a, b) = element(xml, "X509Certificate").expect("certificate");
    let inner = &xml[a..b];
    inner[inner.find('>').unwrap() + 1..inner.rfind("</").unwrap()].to_owned()
}

async fn response_signed_by_another_key_is_refused(app: TestApp) {
    // The tenant trusts the IdP's entity id and endpoints, but another key (as after a key
    // rotation nobody told muster about, or a forger with their own key).
    let other = peers::saml();
    let other_md = saml::fetch_metadata(app.state.outbound(), &format!("{}/metadata", other.url))
        .await
        .unwrap();
    let s = setup(app, Mode::Jit, |_| {}).await;
    let slug = s.tenant.slug.clone();
    let own_md = saml::fetch_metadata(s.app.state.outbound(), &format!("{}/metadata", s.peer.url))
        .await
        .unwrap();
    let swapped = own_md.replace(&certificate(&own_md), &certificate(&other_md));
    assert_ne!(swapped, own_md);
    let settings = serde_json::to_string(&saml::read_metadata(&swapped, None).unwrap()).unwrap();
    s.app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::identity_providers as t;
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            diesel::update(t::table.filter(t::tenant_id.eq(tid)))
                .set(t::settings.eq(settings))
                .execute(c)?;
            Ok::<_, muster::error::Error>(())
        })
        .await
        .unwrap();
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "alice", "").await;
    assert_refused(&s, &agent, &page, "signed");
    assert!(s.tenant.user_ids(r#"userName sw "alice""#).await.is_empty());
}

crate::on_both_backends!(
    response_signed_by_another_key_is_refused,
    email_links_only_when_the_idp_is_trusted_for_it,
    sp_metadata_and_jit_sign_in,
    scim_mode_links_provisioned_users_only,
    bad_responses_are_refused,
    idp_initiated_only_when_enabled_and_never_twice,
    metadata_without_a_signing_certificate_is_refused,
);
