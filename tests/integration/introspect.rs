//! TokenIntrospectors: JWTs from the tenant's own IdP (a real oidc-provider) open userinfo as
//! the person they name (never the admin API); in `jit` mode the first valid token creates them.

use crate::sso::{setup, Agent, Setup};
use crate::util::TestApp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use muster::tenants::Mode;
use serde_json::{json, Value};
use sha2::Digest;

/// The claims an API access token of the IdP carries besides `sub`, as an authorization
/// server configured for an API (Okta's, Entra's) puts them in.
fn api_claims(login: &str) -> Value {
    match login {
        "alice" => json!({"email": "alice@example.test", "email_verified": true,
                          "groups": ["engineering"]}),
        other => json!({"email": format!("{other}@example.test"), "email_verified": true}),
    }
}

/// Signs in at the IdP as `login` with muster's client and returns a JWT signed by the IdP
/// with the claims of an API access token ([`api_claims`], merged under `mutate`'s), as an API
/// caller would hold one. (oidc-provider's own ID tokens carry only `sub` by default.)
async fn idp_token(s: &Setup, login: &str, mutate: Option<Value>) -> String {
    let mut mutate = mutate.unwrap_or_else(|| json!({}));
    let mut claims = api_claims(login);
    if let Some(extra) = mutate.get("claims").and_then(Value::as_object) {
        for (k, v) in extra {
            claims[k] = v.clone();
        }
    }
    mutate["claims"] = claims;
    issued(s, login, Some(mutate)).await
}

/// The ID token the IdP issues to muster's client for `login`, as it issues it.
pub(crate) async fn id_token(s: &Setup, login: &str) -> String {
    issued(s, login, None).await
}

async fn issued(s: &Setup, login: &str, mutate: Option<Value>) -> String {
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", s.peer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(m) = mutate {
        let r = reqwest::Client::new()
            .post(format!("{}/__scenario", s.peer.url))
            .json(&json!({"mutate": m}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let redirect = format!("{}/t/{}/sso/okta/callback", s.app.url, s.tenant.slug);
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut auth = url::Url::parse(doc["authorization_endpoint"].as_str().unwrap()).unwrap();
    auth.query_pairs_mut()
        .append_pair("client_id", "muster")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile groups")
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", "api-test")
        .append_pair("nonce", "api-test")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut agent = Agent::new();
    let back = agent.through_idp(auth.to_string(), login, &redirect).await;
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens: Value = reqwest::Client::new()
        .post(doc["token_endpoint"].as_str().unwrap())
        .basic_auth("muster", Some("muster-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["id_token"].as_str().expect("id_token").to_owned()
}

async fn userinfo(s: &Setup, token: &str) -> (u16, Value) {
    let r = s
        .app
        .client
        .get(format!("{}/t/{}/userinfo", s.app.url, s.tenant.slug))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn admin(
    s: &Setup,
    bearer: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = s
        .app
        .client
        .request(
            method,
            format!("{}/admin/v1/tenants/{}{path}", s.app.url, s.tenant.slug),
        )
        .bearer_auth(bearer);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn idp_tokens_open_userinfo_and_jit_creates_the_person(app: TestApp) {
    let s = setup(app, Mode::Jit).await;
    let slug = s.tenant.slug.clone();
    let admin_token = s.app.admin_token().await;
    let alice = idp_token(&s, "alice", None).await;
    // Nothing trusts the IdP's tokens yet.
    assert_eq!(userinfo(&s, &alice).await.0, 401);
    assert!(s
        .tenant
        .user_ids("userName eq \"alice@example.test\"")
        .await
        .is_empty());

    let jwks_url = format!("{}/jwks", s.peer.url);
    let bad = admin(&s, &admin_token, reqwest::Method::POST, "/introspectors", Some(json!({"name": "okta-api", "idp": "okta", "issuer": s.peer.url, "audience": "muster", "jwks_url": jwks_url, "algorithms": ["HS256"]}))).await;
    assert_eq!(
        (bad.0, bad.1["field"].clone()),
        (422, json!("algorithms")),
        "{}",
        bad.1
    );
    let bad = admin(&s, &admin_token, reqwest::Method::POST, "/introspectors", Some(json!({"name": "okta-api", "idp": "okta", "issuer": s.peer.url, "audience": "muster", "jwks_url": format!("{}/nothing-here", s.peer.url)}))).await;
    assert_eq!(
        (bad.0, bad.1["field"].clone()),
        (422, json!("jwks_url")),
        "{}",
        bad.1
    );
    let added = admin(&s, &admin_token, reqwest::Method::POST, "/introspectors", Some(json!({"name": "okta-api", "idp": "okta", "issuer": s.peer.url, "audience": "muster", "jwks_url": jwks_url}))).await;
    assert_eq!(added.0, 201, "{}", added.1);
    assert_eq!(added.1["algorithms"], json!(["RS256"]));
    let listed = admin(
        &s,
        &admin_token,
        reqwest::Method::GET,
        "/introspectors",
        None,
    )
    .await;
    assert_eq!(listed.1[0]["idp"], "okta");

    // The first valid token creates the person (jit), with their groups; later ones find them.
    let (status, me) = userinfo(&s, &alice).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["groups"], json!(["engineering"]));
    let ids = s
        .tenant
        .user_ids("userName eq \"alice@example.test\"")
        .await;
    assert_eq!(ids, vec![me["sub"].as_str().unwrap().to_owned()]);
    let again = idp_token(&s, "alice", None).await;
    assert_eq!(userinfo(&s, &again).await.1["sub"], me["sub"]);
    assert_eq!(
        s.tenant
            .user_ids("userName eq \"alice@example.test\"")
            .await
            .len(),
        1
    );

    // A token meant for the tenant's apps opens nothing of the admin API, even when its person
    // is a tenant admin: an app that sees it must not administer the tenant.
    let uid = me["sub"].as_str().unwrap().to_owned();
    let promoted = admin(
        &s,
        &admin_token,
        reqwest::Method::PATCH,
        &format!("/users/{uid}"),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(promoted.0, 200, "{}", promoted.1);
    for (method, path) in [
        (reqwest::Method::GET, "/me"),
        (reqwest::Method::GET, "/users"),
        (reqwest::Method::POST, "/me/tokens"),
    ] {
        let (status, body) =
            admin(&s, &alice, method.clone(), path, Some(json!({"name": "x"}))).await;
        assert_eq!(
            (status, body["code"].clone()),
            (401, json!("unauthenticated")),
            "{method} {path}: {body}"
        );
    }
    assert_eq!(
        userinfo(&s, &alice).await.0,
        200,
        "it still serves the apps"
    );

    // Tokens the IdP did not sign as configured, or not for this audience, open nothing.
    for mutate in [
        json!({"alg": "none"}),
        json!({"alg": "HS256"}),
        json!({"key": "other"}),
        json!({"claims": {"aud": "someone-else"}}),
        json!({"claims": {"exp": 1_000_000_000}}),
        json!({"claims": {"iss": "https://evil.example"}}),
    ] {
        let spoiled = idp_token(&s, "alice", Some(mutate.clone())).await;
        let (status, body) = userinfo(&s, &spoiled).await;
        assert_eq!(status, 401, "{mutate} was accepted: {body}");
    }

    // Outside jit mode an unknown person is refused, a provisioned one is found.
    let mode = s
        .app
        .client
        .patch(format!("{}/admin/v1/tenants/{slug}", s.app.url))
        .bearer_auth(&admin_token)
        .json(&json!({"mode": "scim"}))
        .send()
        .await
        .unwrap();
    assert_eq!(mode.status(), 200);
    let bob = idp_token(&s, "bob", None).await;
    assert_eq!(userinfo(&s, &bob).await.0, 401);
    s.tenant
        .user(
            "bob@example.test",
            json!({"emails": [{"value": "bob@example.test"}]}),
        )
        .await;
    assert_eq!(userinfo(&s, &bob).await.0, 200);

    // A token links by the provider's rule alone: a username the token's person chose, with
    // an address the IdP did not verify, reaches nobody's account.
    s.tenant
        .user(
            "carol@example.test",
            json!({"emails": [{"value": "carol@example.test"}]}),
        )
        .await;
    let chosen = json!({"claims": {"email": "carol@example.test", "email_verified": false,
                                   "preferred_username": "carol@example.test"}});
    let mallory = idp_token(&s, "mallory", Some(chosen)).await;
    assert_eq!(userinfo(&s, &mallory).await.0, 401);

    // A deactivated person's tokens stop working; so does every token once the introspector goes.
    let alice_id = me["sub"].as_str().unwrap();
    let off = admin(
        &s,
        &admin_token,
        reqwest::Method::PATCH,
        &format!("/users/{alice_id}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(off.0, 200);
    assert_eq!(userinfo(&s, &again).await.0, 401);
    assert_eq!(
        admin(
            &s,
            &admin_token,
            reqwest::Method::DELETE,
            "/introspectors/okta-api",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(userinfo(&s, &bob).await.0, 401);
}

/// A token is not valid before its `nbf`; while the IdP is down, its stored keys still verify
/// and a token naming an unknown key asks the IdP at most once per retry period.
async fn not_before_counts_and_a_down_idp_is_asked_once(app: TestApp) {
    let mut s = setup(app, Mode::Jit).await;
    let admin_token = s.app.admin_token().await;
    let jwks_url = format!("{}/jwks", s.peer.url);
    let added = admin(&s, &admin_token, reqwest::Method::POST, "/introspectors", Some(json!({"name": "okta-api", "idp": "okta", "issuer": s.peer.url, "audience": "muster", "jwks_url": jwks_url}))).await;
    assert_eq!(added.0, 201, "{}", added.1);

    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let early = idp_token(&s, "alice", Some(json!({"claims": {"nbf": later}}))).await;
    let (status, body) = userinfo(&s, &early).await;
    assert_eq!(status, 401, "a token used before its nbf: {body}");

    let good = idp_token(&s, "alice", None).await;
    let unknown = idp_token(&s, "alice", Some(json!({"kid": "rotated-away"}))).await;
    s.peer.stop();
    assert_eq!(userinfo(&s, &good).await.0, 200, "stored keys verify");
    let slug = s.tenant.slug.clone();
    let tried = || async {
        let slug = slug.clone();
        s.app
            .state
            .db
            .run(move |c| {
                use diesel::prelude::*;
                use muster::db::schema::token_introspectors as ti;
                let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
                ti::table
                    .filter(ti::tenant_id.eq(tid))
                    .select(ti::jwks_tried_at)
                    .first::<Option<String>>(c)
                    .map_err(muster::error::Error::from)
            })
            .await
            .unwrap()
    };
    // The set was fetched when the introspector was added; let that be two minutes ago.
    let slug2 = s.tenant.slug.clone();
    s.app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::token_introspectors as ti;
            let tid = muster::tenants::by_slug(c, &slug2.as_str().into())?.id;
            let then = time::OffsetDateTime::now_utc() - time::Duration::minutes(2);
            diesel::update(ti::table.filter(ti::tenant_id.eq(tid)))
                .set(ti::jwks_fetched_at.eq(muster::db::time::format_time(then)))
                .execute(c)
                .map_err(muster::error::Error::from)
        })
        .await
        .unwrap();
    let before = tried().await;
    assert_eq!(userinfo(&s, &unknown).await.0, 401);
    let first = tried().await;
    assert!(
        first.is_some() && first != before,
        "the failed fetch is remembered"
    );
    assert_eq!(userinfo(&s, &unknown).await.0, 401);
    assert_eq!(
        tried().await,
        first,
        "not asked again within the retry period"
    );
}

crate::on_both_backends!(
    idp_tokens_open_userinfo_and_jit_creates_the_person,
    not_before_counts_and_a_down_idp_is_asked_once,
);
