//! OAuth client credentials for SCIM: a client trades its id and secret for an access token
//! that opens its tenant's SCIM endpoint, and nothing else.

use crate::util::{Tenant, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use muster::issuer::clients;
use serde_json::Value;

async fn make(app: &TestApp, t: &Tenant, name: &str) -> clients::Created {
    let (slug, name) = (t.slug.clone(), name.to_owned());
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            clients::create(c, &t, &name)
        })
        .await
        .unwrap()
}

async fn token_call(
    app: &TestApp,
    tenant: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut rb = app
        .client
        .post(format!("{}/t/{tenant}/oauth/token", app.url))
        .form(form);
    if let Some((id, secret)) = basic {
        rb = rb.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|h| h.to_str().unwrap().to_owned());
    (status, r.json().await.unwrap_or(Value::Null), challenge)
}

async fn scim_get(app: &TestApp, t: &Tenant, bearer: &str) -> u16 {
    app.client
        .get(format!("{}/Users", t.scim))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn client_credentials_open_scim(app: TestApp) {
    let t = app.tenant().await;
    let made = make(&app, &t, "entra").await;
    let grant = [("grant_type", "client_credentials")];
    let (status, body, _) =
        token_call(&app, &t.slug, Some((&made.client_id, &made.secret)), &grant).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "scim");
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(scim_get(&app, &t, &jwt).await, 200);
    let r = app
        .client
        .post(format!("{}/Users", t.scim))
        .bearer_auth(&jwt)
        .json(&serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "via.client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The secret in the form works too (client_secret_post).
    let (status, _, _) = token_call(
        &app,
        &t.slug,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &made.client_id),
            ("client_secret", &made.secret),
            ("scope", "scim"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // Refusals in RFC 6749 form.
    let (status, body, challenge) =
        token_call(&app, &t.slug, Some((&made.client_id, "wrong")), &grant).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.is_some_and(|c| c.starts_with("Basic")));
    let (status, body, _) = token_call(
        &app,
        &t.slug,
        Some((&made.client_id, &made.secret)),
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body, _) = token_call(
        &app,
        &t.slug,
        Some((&made.client_id, &made.secret)),
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Another tenant: neither its token endpoint nor its SCIM endpoint.
    let other = app.tenant().await;
    let (status, _, _) = token_call(
        &app,
        &other.slug,
        Some((&made.client_id, &made.secret)),
        &grant,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(scim_get(&app, &other, &jwt).await, 401);
    // A tampered token opens nothing.
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged_sig = "A".repeat(parts[2].len());
    parts[2] = &forged_sig;
    assert_eq!(scim_get(&app, &t, &parts.join(".")).await, 401);

    // Removing the client shuts its tokens out at once.
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            clients::remove(c, &t.id, "entra")
        })
        .await
        .unwrap();
    assert_eq!(scim_get(&app, &t, &jwt).await, 401);
}

async fn a_persons_token_does_not_open_scim(app: TestApp) {
    // The access token of a signed-in person has the tenant as audience, not its SCIM API.
    let t = app.tenant().await;
    let id = t.user("pat@example.test", serde_json::json!({})).await;
    let (slug, uid) = (t.slug.clone(), id.clone());
    let sid = app
        .state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            muster::auth::session::create(c, &tid, &uid.as_str().into(), None)
        })
        .await
        .unwrap();
    let body: Value = app
        .client
        .post(format!("{}/t/{}/token", app.url, t.slug))
        .header("cookie", format!("muster_session_{}={sid}", t.slug))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(scim_get(&app, &t, jwt).await, 401);
}

crate::on_both_backends!(
    client_credentials_open_scim,
    a_persons_token_does_not_open_scim
);
