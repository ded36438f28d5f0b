//! Operations: health and readiness, request ids, and Prometheus metrics after real traffic.

use crate::util::{Backend, TestApp};
use muster::tenants::Mode;
use serde_json::{json, Value};

async fn health_readiness_and_request_ids(app: TestApp) {
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");

    // Made when absent, kept when sane, replaced when not.
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    for (sent, kept) in [
        ("abc-123_X.y", true),
        ("two words", false),
        (&"x".repeat(65)[..], false),
    ] {
        let r = app
            .client
            .get(format!("{}/healthz", app.url))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let got = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(got == sent, kept, "{sent:?} -> {got:?}");
    }
}

/// The value of the first sample whose line has all the given parts.
fn sample(text: &str, name: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

async fn metrics_after_traffic(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Scim).await;
    let id = t.user("mo@example.test", json!({})).await;
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, 200);
    let r = app
        .client
        .post(format!("{}/t/{}/login", app.url, t.slug))
        .form(&[
            ("username", "mo@example.test"),
            ("password", "not a real password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Its labels name every tenant: only a platform admin may read them.
    let anonymous = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let text = anonymous.text().await.unwrap();
    assert!(!text.contains(t.slug.as_str()), "{text}");
    let scim = app
        .client
        .get(format!("{}/metrics", app.url))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scim.status(),
        401,
        "a tenant's SCIM token is no platform credential"
    );
    let admin = app.admin_token().await;
    let text = app
        .client
        .get(format!("{}/metrics", app.url))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let created = sample(
        &text,
        "muster_http_requests_total",
        &[
            "route=\"/scim/v2/{tenant}/Users\"",
            "status=\"201\"",
            "method=\"POST\"",
        ],
    );
    assert!(created.is_some_and(|n| n >= 1.0), "{text}");
    let tenant = format!("tenant=\"{}\"", t.slug);
    for op in ["create", "get"] {
        let n = sample(
            &text,
            "muster_scim_operations_total",
            &[&tenant, &format!("operation=\"{op}\""), "resource=\"User\""],
        );
        assert_eq!(n, Some(1.0), "{op}: {text}");
    }
    let failed = sample(
        &text,
        "muster_logins_total",
        &["method=\"password\"", "outcome=\"failed\""],
    );
    assert!(failed.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains(
            "muster_http_request_duration_seconds_bucket{route=\"/scim/v2/{tenant}/Users\""
        ),
        "{text}"
    );
    assert!(sample(&text, "muster_db_connections", &["state=\"open\""]).is_some_and(|n| n >= 1.0));
}

crate::on_both_backends!(health_readiness_and_request_ids, metrics_after_traffic);

/// While no database connection can be had, every surface answers 503 in its own form, and
/// serves again once one is free.
async fn a_full_pool_answers_503_everywhere(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, false, |c| {
        c.pool_size = 1;
        c.db_wait = std::time::Duration::from_secs(1);
    })
    .await
    else {
        eprintln!("PostgreSQL not configured (MUSTER_TEST_PG): skipped");
        return;
    };
    let t = app.tenant().await;
    let admin = app
        .state
        .db
        .run_write(|c| muster::auth::admin_tokens::create(c, "pool"))
        .await
        .unwrap();
    let login = format!("{}/t/{}/login", app.url, t.slug);
    assert_eq!(app.client.get(&login).send().await.unwrap().status(), 200);

    // The one connection (on SQLite, the one that reads) is taken.
    let db = app.state.db.clone();
    let held = tokio::task::spawn_blocking(move || db.conn())
        .await
        .unwrap()
        .unwrap();
    let page = app.client.get(&login).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("busy"));
    // A session cookie has to be looked up (no credentials at all are refused unread).
    let info = app
        .client
        .get(format!("{}/t/{}/userinfo", app.url, t.slug))
        .header("cookie", format!("muster_session_{}=mss_unknown", t.slug))
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 503);
    assert_eq!(
        info.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    t.get("/Users").await.assert_error(503, None);
    let api = app
        .client
        .get(format!("{}/admin/v1/tenants", app.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 503);
    assert_eq!(api.json::<Value>().await.unwrap()["code"], "unavailable");

    drop(held);
    assert_eq!(app.client.get(&login).send().await.unwrap().status(), 200);
    assert_eq!(t.get("/Users").await.status, 200);
}

mod full_pool {
    #[actix_web::test]
    async fn sqlite() {
        super::a_full_pool_answers_503_everywhere(super::Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn postgres() {
        super::a_full_pool_answers_503_everywhere(super::Backend::Postgres).await;
    }
}
