//! SCIM rate limits: per credential and per client address, set per tenant, answered with a
//! SCIM 429 and Retry-After, and counted across two muster processes on one database.

use crate::util::{Tenant, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// Waits until the current one-minute window has 30 s left at least, so a test's requests all
/// fall in one window.
async fn early_in_a_minute() {
    loop {
        let s = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .rem_euclid(60);
        if s < 30 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn set_limits(app: &TestApp, slug: &str, body: Value) -> (u16, Value) {
    let admin = app
        .state
        .db
        .run(|c| {
            muster::auth::admin_tokens::create(c, &format!("ops-{}", uuid::Uuid::new_v4().simple()))
        })
        .await
        .unwrap();
    let r = app
        .client
        .patch(format!("{}/admin/v1/tenants/{slug}", app.url))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn status(app: &TestApp, t: &Tenant, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/Users?count=1", t.scim))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn limits_per_credential_and_address(app: TestApp) {
    let t = app.tenant().await;
    let (code, body) = set_limits(&app, &t.slug, json!({"scim_rate_limit": -1})).await;
    assert_eq!(
        (code, body["field"].clone()),
        (422, json!("scim_rate_limit"))
    );
    let (code, body) = set_limits(
        &app,
        &t.slug,
        json!({"scim_rate_limit": 5, "address_rate_limit": 8}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (
            body["scim_rate_limit"].clone(),
            body["address_rate_limit"].clone()
        ),
        (json!(5), json!(8))
    );
    let (slug, second) = (t.slug.clone(), "second".to_owned());
    let other = app
        .state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::auth::scim_tokens::create(c, &t.id, &second)
        })
        .await
        .unwrap();
    early_in_a_minute().await;
    for _ in 0..5 {
        assert_eq!(status(&app, &t, &t.token).await.status(), 200);
    }
    let refused = status(&app, &t, &t.token).await;
    assert_eq!(refused.status(), 429);
    let wait: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(refused.headers()["content-type"], "application/scim+json");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "429");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // Another credential has its own allowance, until the address's runs out (8 in all).
    for _ in 0..3 {
        assert_eq!(status(&app, &t, &other).await.status(), 200);
    }
    assert_eq!(status(&app, &t, &other).await.status(), 429);
    // Another tenant is not affected.
    let free = app.tenant().await;
    for _ in 0..10 {
        assert_eq!(status(&app, &free, &free.token).await.status(), 200);
    }
}

/// The tenant's shared count in the database, summed over processes.
async fn shared(app: &TestApp, t: &Tenant) -> i64 {
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::rate_counts as rc;
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            Ok::<_, muster::error::Error>(
                rc::table
                    .filter(rc::key.like(format!("cred {tid} %")))
                    .select(diesel::dsl::max(rc::count))
                    .first::<Option<i64>>(c)?
                    .unwrap_or_default(),
            )
        })
        .await
        .unwrap()
}

/// Waits until the shared count reaches `n` (each process adds its own about once a second),
/// then long enough for every process to have read it back.
async fn until_shared(app: &TestApp, t: &Tenant, n: i64) {
    for _ in 0..100 {
        if shared(app, t).await >= n {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the shared count never reached {n}");
}

async fn two_processes_share_the_count(app: TestApp) {
    let t = app.tenant().await;
    let database = app.state.config.database.clone();
    let second = TestApp::start_with(app.backend, false, move |c| c.database = database)
        .await
        .expect("second muster");
    let (code, _) = set_limits(&app, &t.slug, json!({"scim_rate_limit": 10})).await;
    assert_eq!(code, 200);
    early_in_a_minute().await;
    for _ in 0..6 {
        assert_eq!(status(&app, &t, &t.token).await.status(), 200);
    }
    until_shared(&app, &t, 6).await;
    assert_eq!(status(&second, &t, &t.token).await.status(), 200);
    until_shared(&app, &t, 7).await;
    for _ in 0..3 {
        assert_eq!(status(&second, &t, &t.token).await.status(), 200);
    }
    assert_eq!(
        status(&second, &t, &t.token).await.status(),
        429,
        "the second process saw 6 + 4"
    );
    until_shared(&app, &t, 10).await;
    assert_eq!(
        status(&app, &t, &t.token).await.status(),
        429,
        "the first process saw 10 too"
    );
}

crate::on_both_backends!(
    limits_per_credential_and_address,
    two_processes_share_the_count
);
