//! What muster fetches on a tenant admin's behalf: a tenant admin who points an identity
//! provider, its metadata or a key set at an internal address reaches nothing, learns nothing
//! of what answered, and cannot stream an endless answer into the server.

use crate::util::{Backend, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An internal service on loopback: `/status` answers 500 with a telling body, `/endless`
/// never stops sending, anything else is a small document. Counts its connections.
async fn internal_service() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                if head.starts_with("GET /endless") {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\n\r\n<a>")
                        .await;
                    let chunk = vec![b'x'; 64 * 1024];
                    while s.write_all(&chunk).await.is_ok() {}
                } else {
                    let (status, body) = if head.starts_with("GET /status") {
                        (
                            "500 Internal Server Error",
                            "<internal-secret>db down</internal-secret>",
                        )
                    } else {
                        ("200 OK", "<internal-secret>payroll</internal-secret>")
                    };
                    let _ = s
                        .write_all(
                            format!(
                                "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                }
            });
        }
    });
    (port, connections)
}

async fn admin_post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, String) {
    let r = app
        .client
        .post(format!("{}/admin/v1{path}", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Tries `url` as SAML metadata, as an OIDC issuer and as an introspector's key set.
async fn point_at(app: &TestApp, token: &str, slug: &str, url: &str) -> Vec<(u16, String)> {
    let base = format!("/tenants/{slug}");
    vec![
        admin_post(
            app,
            token,
            &format!("{base}/idps"),
            json!({"slug": "meta", "title": "Meta", "kind": "saml", "metadata_url": url}),
        )
        .await,
        admin_post(
            app,
            token,
            &format!("{base}/idps"),
            json!({"slug": "oidc", "title": "OIDC", "kind": "oidc", "issuer": url,
                   "client_id": "c", "client_secret": "s"}),
        )
        .await,
        admin_post(
            app,
            token,
            &format!("{base}/introspectors"),
            json!({"name": "api", "idp": "none", "issuer": "https://idp.example",
                   "audience": "muster", "jwks_url": url}),
        )
        .await,
    ]
}

fn tells_nothing(answers: &[(u16, String)], url: &str) {
    for (status, body) in answers {
        assert_eq!(*status, 422, "{url}: {body}");
        for leak in ["internal-secret", "payroll", "500", "refused", "db down"] {
            assert!(!body.contains(leak), "{url} leaked {leak:?}: {body}");
        }
    }
}

async fn internal_addresses_are_out_of_reach(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, false, |c| c.dev_loopback_idps = false).await
    else {
        return;
    };
    let (port, connections) = internal_service().await;
    let t = app.tenant().await;
    let token = app.admin_token().await;
    for url in [
        format!("http://127.0.0.1:{port}/metadata"),
        format!("https://127.0.0.1:{port}/metadata"),
        format!("https://localhost:{port}/metadata"),
        format!("https://[::ffff:127.0.0.1]:{port}/metadata"),
        format!("https://[::1]:{port}/metadata"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.1/metadata".to_owned(),
        "https://192.168.1.1/metadata".to_owned(),
        format!("file:///etc/passwd#{port}"),
    ] {
        let answers = point_at(&app, &token, &t.slug, &url).await;
        tells_nothing(&answers, &url);
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing reached the internal service"
    );
}

/// With the development setting (IdPs on this machine), loopback is reachable, but an
/// answer still tells the admin nothing of the service, and an endless one is cut off.
async fn answers_are_bounded_and_not_repeated(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, false, |c| c.dev_loopback_idps = true).await
    else {
        return;
    };
    let (port, connections) = internal_service().await;
    let t = app.tenant().await;
    let token = app.admin_token().await;
    for path in ["status", "endless"] {
        let url = format!("http://127.0.0.1:{port}/{path}");
        let answers = point_at(&app, &token, &t.slug, &url).await;
        tells_nothing(&answers, &url);
        assert!(
            answers.iter().all(|(_, b)| b.contains("could not fetch")),
            "{answers:?}"
        );
    }
    assert!(connections.load(Ordering::SeqCst) > 0);
    // Still nowhere but loopback, and nowhere private.
    let answers = point_at(&app, &token, &t.slug, "http://10.0.0.1/metadata").await;
    tells_nothing(&answers, "http://10.0.0.1/metadata");
}

mod fetches {
    use super::*;

    #[actix_web::test]
    async fn sqlite_internal_addresses_are_out_of_reach() {
        internal_addresses_are_out_of_reach(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_internal_addresses_are_out_of_reach() {
        internal_addresses_are_out_of_reach(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_answers_are_bounded_and_not_repeated() {
        answers_are_bounded_and_not_repeated(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_answers_are_bounded_and_not_repeated() {
        answers_are_bounded_and_not_repeated(Backend::Postgres).await;
    }
}
