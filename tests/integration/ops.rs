//! Operations: health and readiness, request ids, and Prometheus metrics after real traffic.

use crate::util::TestApp;
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
    let text = app
        .client
        .get(format!("{}/metrics", app.url))
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
