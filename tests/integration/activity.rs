//! The provisioning activity log after an Okta-style sync: every request recorded with its
//! credential, outcome and a summary of what changed, secrets never; filtered and paged
//! through the admin API; sign-ins and admin actions beside them.

use crate::util::TestApp;
use serde_json::{json, Value};

async fn log(app: &TestApp, admin: &str, tenant: &str, query: &str) -> Value {
    let r = app
        .client
        .get(format!("{}/admin/v1/tenants/{tenant}/log{query}", app.url))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Waits for the writer to store at least `n` entries (it batches them off the request path).
async fn entries(app: &TestApp, admin: &str, tenant: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let page = log(app, admin, tenant, "?limit=500").await;
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {n} activity entries: {}",
        log(app, admin, tenant, "?limit=500").await
    );
}

async fn okta_style_sync_is_in_the_log(app: TestApp) {
    let t = app.tenant().await;
    let admin = app.admin_token().await;
    // What Okta does: look the user up, create them (with a password), deactivate them by
    // PATCH, push a group with members, then remove one; plus a duplicate and a bad token.
    let lookup = t
        .get("/Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100")
        .await;
    assert_eq!(lookup.status, 200);
    let ada = t
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.test",
                    "password": "Okta-Sent-This-1!", "active": true, "name": {"givenName": "Ada"},
                    "emails": [{"value": "ada@acme.test", "primary": true}]}),
        )
        .await;
    assert_eq!(ada.status, 201);
    let ada = ada.body["id"].as_str().unwrap().to_owned();
    let grace = t.user("grace@acme.test", json!({})).await;
    let dup = t.post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.test"})).await;
    assert_eq!(dup.status, 409);
    let off = t
        .patch_ops(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(off.status, 200);
    let group = t.post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"})).await;
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let add = t
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": ada}, {"value": grace}]}]),
        )
        .await;
    assert!(add.status == 204 || add.status == 200);
    t.patch_ops(
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{grace}\"]")}]),
    )
    .await;
    let bad = app
        .client
        .get(format!("{}/Users", t.scim))
        .bearer_auth("mst_scim_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    // An admin action and a failed sign-in.
    let r = app
        .client
        .patch(format!(
            "{}/admin/v1/tenants/{}/users/{grace}",
            app.url, t.slug
        ))
        .bearer_auth(&admin)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(format!("{}/t/{}/login", app.url, t.slug))
        .header("origin", &app.url)
        .form(&[
            ("username", "ada@acme.test"),
            ("password", "wrong password here"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // 9 SCIM requests (the user() helper is one), the admin action, the sign-in.
    let all = entries(&app, &admin, &t.slug, 11).await;
    assert_eq!(all.len(), 11, "{all:#?}");
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("Okta-Sent-This-1!"),
        "a password reached the log"
    );
    assert!(
        !text.contains("wrong password here"),
        "a password reached the log"
    );
    assert!(
        !text.contains(&t.token) && !text.contains(&admin),
        "a token reached the log"
    );
    // Newest first.
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let find = |pred: &dyn Fn(&Value) -> bool| -> Value {
        all.iter()
            .find(|e| pred(e))
            .cloned()
            .unwrap_or_else(|| panic!("no such entry in {all:#?}"))
    };

    let created =
        find(&|e| e["method"] == "POST" && e["status"] == 201 && e["resource_id"] == ada.as_str());
    assert_eq!(created["kind"], "scim");
    assert_eq!(created["actor"], "test", "the SCIM token's name");
    assert_eq!(created["path"], format!("/scim/v2/{}/Users", t.slug));
    assert_eq!(created["user_id"], ada.as_str());
    let summary = created["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("created:") && summary.contains("userName=\"ada@acme.test\""),
        "{summary}"
    );
    assert!(
        summary.contains("password (redacted)") && summary.contains("emails"),
        "{summary}"
    );
    assert!(created["request_id"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));

    let conflict = find(&|e| e["status"] == 409);
    assert_eq!(conflict["scim_type"], "uniqueness");
    let lookup = find(&|e| e["method"] == "GET" && e["path"].as_str().unwrap().contains("filter="));
    assert_eq!(lookup["status"], 200);
    let deactivated = find(&|e| e["method"] == "PATCH" && e["resource_id"] == ada.as_str());
    assert_eq!(deactivated["summary"], "replace active=false");
    let added = find(&|e| {
        e["method"] == "PATCH" && e["summary"].as_str().unwrap().contains("members added")
    });
    assert_eq!(added["resource_id"], gid.as_str());
    assert_eq!(
        added["summary"],
        format!("members added (2): {ada}, {grace}")
    );
    let removed = find(&|e| e["summary"].as_str().unwrap().contains("members removed"));
    assert_eq!(removed["summary"], format!("members removed (1): {grace}"));
    let refused = find(&|e| e["status"] == 401 && e["kind"] == "scim");
    assert_eq!(refused["actor"], "no valid credential");
    let action = find(&|e| e["kind"] == "admin");
    assert!(action["actor"]
        .as_str()
        .unwrap()
        .starts_with("admin token ops-"));
    assert_eq!(
        (action["method"].clone(), action["user_id"].clone()),
        (json!("PATCH"), json!(grace))
    );
    let sign_in = find(&|e| e["kind"] == "sign-in");
    assert_eq!(
        (sign_in["status"].clone(), sign_in["actor"].clone()),
        (json!(401), json!("password"))
    );
    assert_eq!(sign_in["summary"], "refused: wrong name or password");

    // Filters: by user (id or userName), by status class, by kind, by time; paging.
    let about_ada = log(&app, &admin, &t.slug, "?user=ada%40acme.test").await;
    assert_eq!(
        about_ada["items"].as_array().unwrap().len(),
        2,
        "{about_ada}"
    );
    let errors = log(&app, &admin, &t.slug, "?status=4xx").await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 3, "{errors}");
    assert_eq!(
        log(&app, &admin, &t.slug, "?kind=admin").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        log(&app, &admin, &t.slug, "?since=1h").await["items"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
    let mut seen = Vec::new();
    let mut query = "?limit=4".to_owned();
    loop {
        let page = log(&app, &admin, &t.slug, &query).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(n) => query = format!("?limit=4&before={n}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let bad = app
        .client
        .get(format!(
            "{}/admin/v1/tenants/{}/log?status=teapot",
            app.url, t.slug
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.json::<Value>().await.unwrap()["field"], "status");
}

async fn the_log_can_be_turned_off(app: TestApp) {
    let t = app.tenant().await;
    let admin = app.admin_token().await;
    t.user("quiet@acme.test", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(log(&app, &admin, &t.slug, "").await["items"], json!([]));
}

async fn off(app_backend: crate::util::Backend) -> Option<TestApp> {
    TestApp::start_with(app_backend, false, |c| c.activity_log = false).await
}

mod switched_off {
    #[actix_web::test]
    async fn sqlite() {
        let app = super::off(crate::util::Backend::Sqlite)
            .await
            .expect("sqlite");
        super::the_log_can_be_turned_off(app).await;
    }

    #[actix_web::test]
    async fn postgres() {
        let Some(app) = super::off(crate::util::Backend::Postgres).await else {
            eprintln!("PostgreSQL not configured (MUSTER_TEST_PG): skipped");
            return;
        };
        super::the_log_can_be_turned_off(app).await;
    }
}

/// Requests without a valid credential are logged, but nobody can fill a tenant's log with
/// them: past a few a minute they are counted, not kept.
async fn anonymous_noise_is_capped(app: TestApp) {
    let t = app.tenant().await;
    let admin = app.admin_token().await;
    for _ in 0..60 {
        let r = app
            .client
            .get(format!("{}/scim/v2/{}/Users", app.url, t.slug))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // One authenticated request after them: once it is stored, so is everything before it.
    assert_eq!(t.get("/Users").await.status, 200);
    let mut kept = Vec::new();
    for _ in 0..100 {
        kept = log(&app, &admin, t.slug.as_str(), "?limit=500").await["items"]
            .as_array()
            .unwrap()
            .clone();
        if kept.iter().any(|e| e["status"] == 200) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let anonymous = kept
        .iter()
        .filter(|e| e["actor"] == "no valid credential")
        .count();
    // One minute's allowance, or two when the minute turned during the loop.
    let per_minute = muster::activity::ANONYMOUS_PER_MINUTE as usize;
    assert!(
        (per_minute..=2 * per_minute).contains(&anonymous),
        "{anonymous} of 60 kept"
    );
}

crate::on_both_backends!(okta_style_sync_is_in_the_log, anonymous_noise_is_capped);
