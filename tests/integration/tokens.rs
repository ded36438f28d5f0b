//! Access tokens for a tenant's apps: issued for a session, verified by an app with nothing
//! but the published JWKS, accepted by userinfo and SCIM /Me, refused across tenants, after
//! tampering and for deactivated users; key rotation keeps earlier tokens verifying.

use crate::util::{Tenant, TestApp};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use muster::auth::session;
use muster::tenants::Mode;
use serde_json::{json, Value};

/// A user with a name, an email and a group, and a session cookie for them.
async fn signed_in(app: &TestApp, t: &Tenant) -> (String, String) {
    let id = t
        .user(
            "ada@example.test",
            json!({
                "displayName": "Ada Lovelace",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.test", "primary": true}],
            }),
        )
        .await;
    let g = t
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "analysts",
                "members": [{"value": id}],
            }),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let (slug, uid) = (t.slug.clone(), id.clone());
    let sid = app
        .state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            session::create(c, &tid, &uid.as_str().into(), None)
        })
        .await
        .unwrap();
    (id, format!("muster_session_{}={sid}", t.slug))
}

async fn token_for(app: &TestApp, t: &Tenant, cookie: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/t/{}/token", app.url, t.slug))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn access_token(app: &TestApp, t: &Tenant, cookie: &str) -> String {
    let r = token_for(app, t, cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    body["access_token"].as_str().unwrap().to_owned()
}

/// What an app does: verify with the JWKS alone.
async fn verify_as_an_app(app: &TestApp, tenant: &str, jwt: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("kid");
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the token's key is published");
    assert!(jwk.get("d").is_none(), "no private part in the JWKS");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[&app.url]);
    v.set_audience(&[format!("{}/t/{tenant}", app.url)]);
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
        .expect("verifies with the published key")
        .claims
}

async fn userinfo(app: &TestApp, tenant: &str, auth: (&str, &str)) -> (u16, Value, String) {
    let r = app
        .client
        .get(format!("{}/t/{tenant}/userinfo", app.url))
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|h| h.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, r.json().await.unwrap_or(Value::Null), challenge)
}

async fn token_carries_who_and_verifies_with_the_jwks(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Scim).await;
    let (id, cookie) = signed_in(&app, &t).await;
    let jwt = access_token(&app, &t, &cookie).await;
    let claims = verify_as_an_app(&app, &t.slug, &jwt).await;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["tenant"], t.slug.as_str());
    assert_eq!(claims["email"], "ada@example.test");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["preferred_username"], "ada@example.test");
    assert_eq!(claims["groups"], json!(["analysts"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // Each token is its own.
    let again = access_token(&app, &t, &cookie).await;
    assert_ne!(
        verify_as_an_app(&app, &t.slug, &again).await["jti"],
        claims["jti"]
    );

    // No session, or a token trying to mint another: refused.
    let r = token_for(&app, &t, "").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "login_required");
    let r = app
        .client
        .post(format!("{}/t/{}/token", app.url, t.slug))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn userinfo_and_me_answer_for_a_session_or_a_token(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Scim).await;
    let (id, cookie) = signed_in(&app, &t).await;
    let jwt = access_token(&app, &t, &cookie).await;
    let bearer = format!("Bearer {jwt}");
    for auth in [
        ("cookie", cookie.as_str()),
        ("authorization", bearer.as_str()),
    ] {
        let (status, body, _) = userinfo(&app, &t.slug, auth).await;
        assert_eq!(status, 200, "{auth:?}: {body}");
        assert_eq!(body["sub"], id.as_str());
        assert_eq!(body["given_name"], "Ada");
        assert_eq!(body["family_name"], "Lovelace");
        assert_eq!(body["groups"], json!(["analysts"]));

        let me = app
            .client
            .get(format!("{}/Me?attributes=userName", t.scim))
            .header(auth.0, auth.1)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{auth:?}");
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["id"], id.as_str());
        assert_eq!(me["userName"], "ada@example.test");
        assert!(me.get("emails").is_none(), "attributes= applies: {me}");
    }
    // /Me is read-only.
    let r = app
        .client
        .patch(format!("{}/Me", t.scim))
        .header("authorization", &bearer)
        .json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);

    // Nothing, junk, a tampered token: 401 with a Bearer challenge.
    let (status, _, challenge) = userinfo(&app, &t.slug, ("x-none", "")).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["sub"] = json!("someone-else");
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.to_string(),
    );
    let forged = format!("Bearer {}", parts.join("."));
    for bad in ["Bearer not.a.jwt", forged.as_str()] {
        let (status, body, challenge) = userinfo(&app, &t.slug, ("authorization", bad)).await;
        assert_eq!(status, 401, "{bad}");
        assert_eq!(body["error"], "invalid_token");
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }

    // Tenant A's token is nothing at tenant B, on userinfo and on /Me.
    let b = app.tenant_with_mode(Mode::Scim).await;
    let (status, _, _) = userinfo(&app, &b.slug, ("authorization", &bearer)).await;
    assert_eq!(status, 401);
    let r = app
        .client
        .get(format!("{}/Me", b.scim))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Deactivated: the token and the session stop working at once.
    let r = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(r.status, 200);
    for auth in [
        ("cookie", cookie.as_str()),
        ("authorization", bearer.as_str()),
    ] {
        let (status, _, _) = userinfo(&app, &t.slug, auth).await;
        assert_eq!(status, 401, "{auth:?}");
    }
}

async fn rotation_keeps_earlier_tokens_valid(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Scim).await;
    let (_, cookie) = signed_in(&app, &t).await;
    let before = access_token(&app, &t, &cookie).await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    let new_kid = app
        .state
        .db
        .run(muster::issuer::keys::rotate)
        .await
        .unwrap();
    assert_ne!(old_kid, new_kid);
    let after = access_token(&app, &t, &cookie).await;
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(),
        Some(new_kid.as_str())
    );
    // Both verify for an app, and at userinfo.
    verify_as_an_app(&app, &t.slug, &before).await;
    verify_as_an_app(&app, &t.slug, &after).await;
    for jwt in [&before, &after] {
        let (status, _, _) =
            userinfo(&app, &t.slug, ("authorization", &format!("Bearer {jwt}"))).await;
        assert_eq!(status, 200);
    }
}

/// An app that sees an admin's access token cannot administer the tenant with it: the admin
/// API takes sessions and personal access tokens, not the tokens made for apps.
async fn an_app_token_opens_nothing_of_the_admin_api(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Scim).await;
    let (id, cookie) = signed_in(&app, &t).await;
    let (slug, uid) = (t.slug.clone(), id.clone());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            muster::people::users::set_role(c, &tid, &uid.as_str().into(), "admin".parse().unwrap())
        })
        .await
        .unwrap();
    let jwt = access_token(&app, &t, &cookie).await;
    let base = format!("{}/admin/v1/tenants/{}", app.url, t.slug);
    let admin = |method: reqwest::Method, path: &str, auth: (&str, String)| {
        app.client
            .request(method, format!("{base}{path}"))
            .header(auth.0, auth.1)
            .header("origin", &app.url)
            .json(&json!({"name": "forever"}))
            .send()
    };
    // The session the token was made from is an admin on the API ...
    let me = admin(reqwest::Method::GET, "/me", ("cookie", cookie.clone()))
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // ... its app token is nobody there, for reading or for minting a lasting credential.
    for (method, path) in [
        (reqwest::Method::GET, "/me"),
        (reqwest::Method::GET, "/users"),
        (reqwest::Method::POST, "/me/tokens"),
        (reqwest::Method::POST, "/scim-tokens"),
    ] {
        let r = admin(
            method.clone(),
            path,
            ("authorization", format!("Bearer {jwt}")),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{body}");
    }
    let listed = admin(reqwest::Method::GET, "/me/tokens", ("cookie", cookie))
        .await
        .unwrap();
    assert_eq!(listed.json::<Value>().await.unwrap(), json!([]));
}

crate::on_both_backends!(
    token_carries_who_and_verifies_with_the_jwks,
    userinfo_and_me_answer_for_a_session_or_a_token,
    rotation_keeps_earlier_tokens_valid,
    an_app_token_opens_nothing_of_the_admin_api,
);
