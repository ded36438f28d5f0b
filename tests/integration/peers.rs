//! The real identity providers the SSO tests sign in at, started on loopback from
//! tests/peers/ (installed by `scripts/setup test`). Each one exits when its stdin closes,
//! so a test that dies leaves nothing behind.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running peer process.
pub struct Peer {
    child: Child,
    pub url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spawn(mut cmd: Command) -> Peer {
    let mut child = cmd
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start test peer (run scripts/setup test)");
    let out = child.stdout.take().expect("peer stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("peer output");
    let port = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("peer did not start: {line:?}"))
        .to_owned();
    Peer {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// oidc-provider with one confidential client `muster` (secret `muster-secret`) allowed to
/// redirect to `redirect_uris`.
pub fn oidc(redirect_uris: &[String]) -> Peer {
    let mut cmd = Command::new("node");
    cmd.arg("tests/peers/oidc.mjs").env("OIDC_PORT", "0").env(
        "OIDC_CLIENTS",
        json!([{
            "client_id": "muster",
            "client_secret": "muster-secret",
            "redirect_uris": redirect_uris,
        }])
        .to_string(),
    );
    spawn(cmd)
}

/// The pysaml2 IdP (tests/peers/saml_idp.py): users alice and bob, knobs that spoil
/// responses in controlled ways; metadata at `<url>/metadata`.
pub fn saml() -> Peer {
    let mut cmd = Command::new(root().join(".venv/bin/python"));
    cmd.arg("tests/peers/saml_idp.py").env("SAML_PORT", "0");
    spawn(cmd)
}

impl Peer {
    /// Arms a one-shot change to the next ID token (see tests/peers/oidc.mjs).
    pub async fn mutate_next_token(&self, mutate: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__scenario", self.url))
            .json(&json!({ "mutate": mutate }))
            .send()
            .await
            .expect("scenario");
        assert!(r.status().is_success(), "scenario refused: {}", r.status());
    }
}
