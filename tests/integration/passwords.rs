//! Who may set a person's password: a SCIM credential only when the tenant lets it, never a
//! tenant admin's, always through the policy; a new password signs out whoever knew the old.
//! And how guesses are counted: per person, per client address (from trusted proxies only),
//! with no race past the limit.

use crate::util::{Backend, Tenant, TestApp};
use muster::people::passwords::{ACCOUNT_LIMIT, ADDRESS_LIMIT};
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "the admin's own long passphrase";

async fn admin_api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Signs in with a password: the session cookie, or the status of the refusal.
async fn sign_in(app: &TestApp, t: &Tenant, user: &str, password: &str) -> Result<String, u16> {
    sign_in_from(app, t, user, password, None).await
}

/// [`sign_in`], through a proxy that says the client is `from` (`X-Forwarded-For`).
async fn sign_in_from(
    app: &TestApp,
    t: &Tenant,
    user: &str,
    password: &str,
    from: Option<&str>,
) -> Result<String, u16> {
    let mut rb = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/t/{}/login", app.url, t.slug))
        .form(&[("username", user), ("password", password)]);
    if let Some(addr) = from {
        rb = rb.header("x-forwarded-for", addr);
    }
    let r = rb.send().await.unwrap();
    if r.status() != 303 {
        return Err(r.status().as_u16());
    }
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    Ok(cookie.split(';').next().unwrap().to_owned())
}

/// Whether a session cookie still opens userinfo.
async fn signed_in(app: &TestApp, t: &Tenant, cookie: &str) -> bool {
    let r = app
        .client
        .get(format!("{}/t/{}/userinfo", app.url, t.slug))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    r.status() == 200
}

/// A provisioned user made a tenant admin, with a password of their own.
async fn admin_with_password(app: &TestApp, t: &Tenant) -> String {
    let id = t
        .user(
            "root@acme.test",
            json!({"emails": [{"value": "root@acme.test", "primary": true}]}),
        )
        .await;
    let (slug, uid) = (t.slug.clone(), id.clone());
    let hash = muster::auth::password::hash_blocking(ADMIN_PASSWORD).unwrap();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::users;
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            muster::people::users::set_role(
                c,
                &tid,
                &uid.as_str().into(),
                "admin".parse().unwrap(),
            )?;
            diesel::update(users::table.find(&uid))
                .set(users::password_hash.eq(hash))
                .execute(c)?;
            Ok::<_, muster::error::Error>(())
        })
        .await
        .unwrap();
    id
}

/// What an attacker holding the tenant's SCIM token tries on the admin: a PATCH and a PUT
/// that set a password they chose.
async fn take_over(t: &Tenant, id: &str, password: &str) {
    let patched = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": password}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let put = t
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "root@acme.test", "password": password,
                    "emails": [{"value": "root@acme.test", "primary": true}]}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
}

async fn a_scim_credential_cannot_choose_an_admins_password(app: TestApp) {
    let t = app.tenant().await;
    let root = admin_with_password(&app, &t).await;
    let session = sign_in(&app, &t, "root@acme.test", ADMIN_PASSWORD)
        .await
        .unwrap();

    // Off, the default: a password in a SCIM write is ignored, and discovery says so.
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["changePassword"]["supported"], false);
    take_over(&t, &root, "x").await;
    take_over(&t, &root, "attacker chose this one").await;
    for guess in ["x", "attacker chose this one"] {
        assert_eq!(sign_in(&app, &t, "root@acme.test", guess).await, Err(401));
    }

    // On, the admin is still out of reach; the admin's password and session are untouched.
    let ops = app.admin_token().await;
    let (status, tenant) = admin_api(
        &app,
        &ops,
        reqwest::Method::PATCH,
        &format!("/tenants/{}", t.slug),
        json!({"scim_passwords": true}),
    )
    .await;
    assert_eq!(
        (status, tenant["scim_passwords"].clone()),
        (200, json!(true))
    );
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["changePassword"]["supported"], true);
    take_over(&t, &root, "attacker chose another").await;
    assert_eq!(
        sign_in(&app, &t, "root@acme.test", "attacker chose another").await,
        Err(401)
    );
    assert!(signed_in(&app, &t, &session).await);
    assert!(sign_in(&app, &t, "root@acme.test", ADMIN_PASSWORD)
        .await
        .is_ok());
}

async fn scim_passwords_follow_the_policy_and_end_sessions(app: TestApp) {
    let t = app.tenant().await;
    let ops = app.admin_token().await;
    admin_api(
        &app,
        &ops,
        reqwest::Method::PATCH,
        &format!("/tenants/{}", t.slug),
        json!({"scim_passwords": true}),
    )
    .await;
    let user = |password: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "mia@acme.test", "password": password,
               "emails": [{"value": "mia.jones@acme.test"}]})
    };
    // Weak passwords are refused, and nothing is created.
    for weak in ["x", "mia.jones is my password", "mia@acme.test"] {
        let r = t.post("/Users", &user(weak)).await;
        r.assert_error(400, Some("invalidValue"));
        assert!(r.body["detail"].as_str().unwrap().starts_with("password"));
    }
    assert!(t.user_ids("userName eq \"mia@acme.test\"").await.is_empty());

    let first = "first synced passphrase";
    let r = t.post("/Users", &user(first)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let session = sign_in(&app, &t, "mia@acme.test", first).await.unwrap();
    let (status, reset) = admin_api(
        &app,
        &ops,
        reqwest::Method::POST,
        &format!("/tenants/{}/users/{id}/password-reset", t.slug),
        json!({"send_email": false}),
    )
    .await;
    assert_eq!(status, 201, "{reset}");
    let link = reset["link"].as_str().unwrap().to_owned();

    // A weak change is refused and changes nothing.
    let r = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": "short"}]),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(signed_in(&app, &t, &session).await);

    // A good one is stored, signs the person out everywhere and voids their reset link.
    let second = "second synced passphrase";
    let r = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "password", "value": second}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!signed_in(&app, &t, &session).await);
    let dead = app.client.get(&link).send().await.unwrap();
    assert_eq!(dead.status(), 410);
    assert_eq!(sign_in(&app, &t, "mia@acme.test", first).await, Err(401));
    assert!(sign_in(&app, &t, "mia@acme.test", second).await.is_ok());
}

/// A user with a userName, a different email and a password.
async fn person_with_password(app: &TestApp, t: &Tenant, password: &str) -> String {
    let id = t
        .user(
            "kim",
            json!({"emails": [{"value": "kim@acme.test", "primary": true}]}),
        )
        .await;
    let hash = muster::auth::password::hash_blocking(password).unwrap();
    let uid = id.clone();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::users;
            diesel::update(users::table.find(&uid))
                .set(users::password_hash.eq(hash))
                .execute(c)
                .map_err(muster::error::Error::from)
        })
        .await
        .unwrap();
    id
}

/// An app behind a proxy on loopback, its own database: the client addresses these tests
/// use (and lock) are theirs alone.
async fn behind_a_proxy(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(backend, true, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

/// 40 wrong passwords at once: exactly the limit are checked, the rest wait, and so does the
/// right password afterwards. The person's userName and email share one count.
async fn parallel_guesses_cannot_race_the_limit(backend: Backend) {
    let Some(app) = behind_a_proxy(backend).await else {
        return;
    };
    let t = app.tenant().await;
    person_with_password(&app, &t, "kim's real passphrase").await;
    let guesses = (0..40).map(|i| {
        let (app, t) = (&app, &t);
        async move {
            let name = if i % 2 == 0 { "kim" } else { "KIM@acme.test" };
            sign_in_from(
                app,
                t,
                name,
                &format!("guess number {i}"),
                Some("203.0.113.7"),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|a| **a == Err(401)).count();
    let waited = answers.iter().filter(|a| **a == Err(429)).count();
    assert_eq!((wrong, waited), (ACCOUNT_LIMIT as usize, 35), "{answers:?}");
    assert_eq!(
        sign_in_from(
            &app,
            &t,
            "kim@acme.test",
            "kim's real passphrase",
            Some("198.51.100.2")
        )
        .await,
        Err(429),
        "the account is locked, from anywhere"
    );
}

/// Failures from one client behind the proxy lock that client out, not everyone behind the
/// proxy; and without a trusted proxy, X-Forwarded-For changes nothing.
async fn addresses_come_from_trusted_proxies_only(backend: Backend) {
    let Some(app) = behind_a_proxy(backend).await else {
        return;
    };
    let t = app.tenant().await;
    person_with_password(&app, &t, "kim's real passphrase").await;
    for i in 0..ADDRESS_LIMIT {
        let name = format!("nobody{i}");
        let r = sign_in_from(&app, &t, &name, "a guess", Some("203.0.113.8")).await;
        assert_eq!(r, Err(401));
    }
    let locked = sign_in_from(
        &app,
        &t,
        "kim",
        "kim's real passphrase",
        Some("203.0.113.8"),
    )
    .await;
    assert_eq!(locked, Err(429), "that client is out");
    let other = sign_in_from(
        &app,
        &t,
        "kim",
        "kim's real passphrase",
        Some("198.51.100.3"),
    )
    .await;
    assert!(
        other.is_ok(),
        "everyone else behind the proxy is not: {other:?}"
    );
    drop(app);

    // Not behind a trusted proxy: the header is the client's own word, and counts for nothing.
    let Some(app) = TestApp::start_with(backend, true, |_| {}).await else {
        return;
    };
    let t = app.tenant().await;
    person_with_password(&app, &t, "kim's real passphrase").await;
    for i in 0..ADDRESS_LIMIT {
        let (name, from) = (format!("nobody{i}"), format!("198.51.100.{i}"));
        let r = sign_in_from(&app, &t, &name, "a guess", Some(&from)).await;
        assert_eq!(r, Err(401));
    }
    let spoofed = sign_in_from(&app, &t, "kim", "kim's real passphrase", Some("192.0.2.99")).await;
    assert_eq!(spoofed, Err(429));
}

mod throttling {
    use super::*;

    #[actix_web::test]
    async fn sqlite_parallel_guesses_cannot_race_the_limit() {
        parallel_guesses_cannot_race_the_limit(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_parallel_guesses_cannot_race_the_limit() {
        parallel_guesses_cannot_race_the_limit(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_addresses_come_from_trusted_proxies_only() {
        addresses_come_from_trusted_proxies_only(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_addresses_come_from_trusted_proxies_only() {
        addresses_come_from_trusted_proxies_only(Backend::Postgres).await;
    }
}

crate::on_both_backends!(
    a_scim_credential_cannot_choose_an_admins_password,
    scim_passwords_follow_the_policy_and_end_sessions,
);
