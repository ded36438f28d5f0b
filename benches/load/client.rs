//! The HTTP side: one tenant's SCIM endpoint with its token, and the few requests the benchmark
//! sends. Every call checks the status it expects and fails otherwise.

use anyhow::{bail, Context};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::time::Duration;

/// Upper bound on any single request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A client that talks to loopback only: no proxy, a connection per concurrent client.
pub fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency.max(1) * 2)
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// One tenant's SCIM base URL and token.
#[derive(Clone)]
pub struct Scim {
    client: reqwest::Client,
    /// `<server>/scim/v2/<slug>`
    base: String,
    token: String,
}

impl Scim {
    pub fn new(client: reqwest::Client, server_url: &str, slug: &str, token: &str) -> Scim {
        Scim {
            client,
            base: format!("{server_url}/scim/v2/{slug}"),
            token: token.to_owned(),
        }
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    fn with_body(&self, method: Method, path: &str, body: &Value) -> RequestBuilder {
        self.req(method, path)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
    }

    /// Sends, reads the whole body, and checks the status.
    async fn expect(&self, rb: RequestBuilder, status: u16) -> anyhow::Result<Vec<u8>> {
        let r = rb.send().await?;
        let got = r.status().as_u16();
        let body = r.bytes().await?.to_vec();
        if got != status {
            bail!(
                "expected {status}, got {got}: {}",
                String::from_utf8_lossy(body.get(..300).unwrap_or(&body))
            );
        }
        Ok(body)
    }

    /// POST `/Users` or `/Groups`; returns the new id.
    pub async fn create(&self, endpoint: &str, body: &Value) -> anyhow::Result<String> {
        let raw = self
            .expect(self.with_body(Method::POST, endpoint, body), 201)
            .await?;
        let v: Value = serde_json::from_slice(&raw)?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .context("created resource without an id")
    }

    /// POST `/Users` without reading the answer beyond its status.
    pub async fn create_user(&self, body: &Value) -> anyhow::Result<()> {
        self.expect(self.with_body(Method::POST, "/Users", body), 201)
            .await
            .map(drop)
    }

    /// GET `/Users/<id>`.
    pub async fn get_user(&self, id: &str) -> anyhow::Result<()> {
        self.expect(self.req(Method::GET, &format!("/Users/{id}")), 200)
            .await
            .map(drop)
    }

    /// GET `/Users?filter=...`; fails unless exactly `want` users match.
    pub async fn filter_users(&self, filter: &str, want: i64) -> anyhow::Result<()> {
        let rb = self.req(Method::GET, "/Users").query(&[("filter", filter)]);
        let raw = self.expect(rb, 200).await?;
        let v: Value = serde_json::from_slice(&raw)?;
        let total = v["totalResults"].as_i64();
        if total != Some(want) {
            bail!("filter {filter:?}: {total:?} results, expected {want}");
        }
        Ok(())
    }

    /// PATCH `/Users/<id>` (answers 200 with the user).
    pub async fn patch_user(&self, id: &str, ops: Value) -> anyhow::Result<()> {
        let body = json!({"schemas": [PATCH_OP], "Operations": ops});
        self.expect(
            self.with_body(Method::PATCH, &format!("/Users/{id}"), &body),
            200,
        )
        .await
        .map(drop)
    }

    /// PATCH `/Groups/<id>` adding these members (answers 204: no representation asked for).
    pub async fn add_members(&self, group: &str, members: &[&str]) -> anyhow::Result<()> {
        let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let body = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": value}],
        });
        self.expect(
            self.with_body(Method::PATCH, &format!("/Groups/{group}"), &body),
            204,
        )
        .await
        .map(drop)
    }

    /// A fresh, empty group; returns its id.
    pub async fn group(&self, name: &str) -> anyhow::Result<String> {
        self.create(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
            }),
        )
        .await
    }
}
