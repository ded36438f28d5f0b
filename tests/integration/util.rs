//! The test harness: a real muster HTTP server on a loopback port, on SQLite (a fresh file per
//! test) or PostgreSQL (one fresh database per test run, a fresh tenant per test), driven over
//! HTTP with reqwest.

use muster::config::Config;
use muster::db::DbUrl;
use muster::http::server;
use muster::state::AppState;
use muster::tenants::{self, Mode};
use serde_json::Value;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::OnceCell;

/// The secret key of every test app (32 bytes, base64): seals signing keys and IdP secrets.
pub const TEST_SECRET_KEY: &str = "bXVzdGVyLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcyE=";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running muster.
pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

static PG_DB: OnceCell<Option<String>> = OnceCell::const_new();
static TENANTS: AtomicUsize = AtomicUsize::new(0);

/// The PostgreSQL database of this test run, created on first use from the admin URL in
/// `MUSTER_TEST_PG`. `None` when it is unset (local runs without PostgreSQL); in CI that is an
/// error, so PostgreSQL tests cannot silently pass by not running.
async fn pg_database() -> Option<String> {
    PG_DB.get_or_init(new_pg_database).await.clone()
}

/// A new PostgreSQL database from the admin URL in `MUSTER_TEST_PG` (see [`pg_database`]).
/// Dropped with the others by the test command.
async fn new_pg_database() -> Option<String> {
    let Ok(admin) = std::env::var("MUSTER_TEST_PG") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: set MUSTER_TEST_PG"
        );
        return None;
    };
    tokio::task::spawn_blocking(move || {
        use diesel::{Connection, RunQueryDsl};
        let name = format!(
            "muster_test_{}_{}",
            std::process::id(),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("x")
        );
        let mut c = diesel::PgConnection::establish(&admin).expect("MUSTER_TEST_PG reachable");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .expect("create test database");
        let (base, _) = admin
            .rsplit_once('/')
            .expect("MUSTER_TEST_PG is a URL with a database");
        Some(format!("{base}/{name}"))
    })
    .await
    .expect("create database task")
}

impl TestApp {
    /// Starts muster on `backend`; `None` when PostgreSQL is not configured for this run.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        TestApp::start_with(backend, false, |_| {}).await
    }

    /// A new platform admin token.
    pub async fn admin_token(&self) -> String {
        self.state
            .db
            .run(|c| {
                let name = format!("ops-{}", uuid::Uuid::new_v4().simple());
                muster::auth::admin_tokens::create(c, &name)
            })
            .await
            .expect("admin token")
    }

    /// Like [`TestApp::start`], with `tweak` applied to the configuration. With `own_database`
    /// the app gets a PostgreSQL database of its own: its background workers (the email
    /// outbox) then see no other test's rows.
    pub async fn start_with(
        backend: Backend,
        own_database: bool,
        tweak: impl FnOnce(&mut Config) + Send + 'static,
    ) -> Option<TestApp> {
        // Every app has a directory of its own: the SQLite file and the email outbox folder.
        let dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => {
                DbUrl::Sqlite(dir.path().join("muster.db").to_string_lossy().into_owned())
            }
            Backend::Postgres if own_database => DbUrl::Postgres(new_pg_database().await?),
            Backend::Postgres => DbUrl::Postgres(pg_database().await?),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = format!("http://{addr}");
        let mut config = Config::new(addr.to_string(), url.clone(), database, 4).expect("config");
        config.workers = 1;
        config.outbox_dir = dir.path().join("outbox");
        // The test IdPs (oidc-provider, pysaml2) run on this machine.
        config.dev_loopback_idps = true;
        // One process seals with one key; every app of the test binary shares this one.
        config.secret_key = Some(TEST_SECRET_KEY.to_owned());
        tweak(&mut config);
        let state = tokio::task::spawn_blocking(move || AppState::open(config))
            .await
            .expect("open task")
            .expect("open database");
        let srv = server(state.clone(), listener).expect("server");
        let handle = srv.handle();
        actix_web::rt::spawn(srv);
        Some(TestApp {
            url,
            state,
            client: reqwest::Client::new(),
            backend,
            dir,
            handle,
        })
    }

    /// A fresh tenant with a SCIM token.
    pub async fn tenant(&self) -> Tenant {
        self.tenant_with_mode(Mode::Scim).await
    }

    /// A fresh tenant (SCIM mode) whose SCIM clients may set passwords.
    pub async fn tenant_with_scim_passwords(&self) -> Tenant {
        let t = self.tenant().await;
        let slug = t.slug.clone();
        self.state
            .db
            .run(move |c| {
                let id = tenants::by_slug(c, &slug.as_str().into())?.id;
                tenants::set_scim_passwords(c, &id, true)
            })
            .await
            .expect("scim passwords on");
        t
    }

    /// A fresh tenant in the given mode, with a SCIM token.
    pub async fn tenant_with_mode(&self, mode: Mode) -> Tenant {
        let n = TENANTS.fetch_add(1, Ordering::Relaxed);
        let slug = format!(
            "t{}-{n}",
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..10)
                .unwrap_or("x")
        );
        let s = slug.clone();
        let token = self
            .state
            .db
            .run(move |c| {
                let t = tenants::create(c, &s.as_str().into(), None, mode)?;
                muster::auth::scim_tokens::create(c, &t.id, "test")
            })
            .await
            .map_err(|e: muster::error::Error| e.to_string())
            .expect("tenant and token");
        Tenant {
            scim: format!("{}/scim/v2/{slug}", self.url),
            slug,
            token,
            client: self.client.clone(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A tenant and its SCIM token.
#[derive(Clone)]
pub struct Tenant {
    pub slug: String,
    pub token: String,
    /// `<url>/scim/v2/<slug>`
    pub scim: String,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The SCIM `scimType` of an error body.
    pub fn scim_type(&self) -> Option<&str> {
        self.body["scimType"].as_str()
    }

    /// Asserts a SCIM error with this status (and `scimType`, when given).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(
            self.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(self.body["status"], status.to_string());
        assert_eq!(self.scim_type(), scim_type, "{:?}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

impl Tenant {
    /// A request to `path` under this tenant's SCIM base, with its token.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.scim))
            .bearer_auth(&self.token)
    }

    /// Sends a request and reads the response.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.req(reqwest::Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.req(reqwest::Method::POST, path)
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.req(reqwest::Method::PUT, path)
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.req(reqwest::Method::PATCH, path)
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
        .await
    }

    /// PATCH with a PatchOp body built from the operations.
    pub async fn patch_ops(&self, path: &str, ops: Value) -> Resp {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        });
        self.patch(path, &body).await
    }

    /// Creates a user with this userName (and any other attributes) and returns its id.
    pub async fn user(&self, user_name: &str, extra: Value) -> String {
        let mut body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
        });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        let r = self.post("/Users", &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self
            .post(
                "/Groups",
                &serde_json::json!({"displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// The ids a filter on `/Users` returns, in order.
    pub async fn user_ids(&self, filter: &str) -> Vec<String> {
        self.ids("/Users", filter).await
    }

    /// The ids a filter on an endpoint returns, in order.
    pub async fn ids(&self, endpoint: &str, filter: &str) -> Vec<String> {
        let r = self
            .send(
                self.req(reqwest::Method::GET, endpoint)
                    .query(&[("filter", filter), ("count", "1000")]),
            )
            .await;
        assert_eq!(r.status, 200, "filter {filter}: {:?}", r.body);
        r.body["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

/// Declares each listed `async fn name(app: TestApp)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL one returns early (passing) only outside CI when
/// `MUSTER_TEST_PG` is unset.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    let app = $crate::util::TestApp::start($crate::util::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    let Some(app) = $crate::util::TestApp::start($crate::util::Backend::Postgres).await else {
                        eprintln!("PostgreSQL not configured (MUSTER_TEST_PG): skipped");
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}
