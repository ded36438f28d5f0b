//! The real identity providers the SSO tests sign in at, started on loopback from
//! tests/peers/ (installed by `scripts/setup test`). Each one exits when its stdin closes,
//! so a test that dies leaves nothing behind.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running peer process.
pub struct Peer {
    child: Child,
    /// The peer's HTTP address (its first port).
    pub url: String,
    /// Every port the peer announced, in order.
    pub ports: Vec<u16>,
}

impl Peer {
    /// Stops the peer now, as an outage would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let ports: Vec<u16> = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("peer did not start: {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().expect("port"))
        .collect();
    Peer {
        child,
        url: format!("http://127.0.0.1:{}", ports[0]),
        ports,
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

/// A real SMTP server (aiosmtpd, tests/peers/smtp.py) that keeps what it receives.
pub struct Smtp {
    _peer: Peer,
    /// For MUSTER_SMTP_URL: `smtp://127.0.0.1:<port>` with STARTTLS, `...?tls=none` without.
    pub url: String,
    control: String,
}

/// Starts the SMTP peer.
pub fn smtp() -> Smtp {
    smtp_with(None)
}

/// Starts the plain SMTP peer; with `auth`, it requires AUTH with that user and password.
pub fn smtp_with(auth: Option<(&str, &str)>) -> Smtp {
    smtp_peer(auth, false, &[])
}

/// Starts the plain SMTP peer refusing these recipients for good (550 at RCPT).
pub fn smtp_rejecting(recipients: &[&str]) -> Smtp {
    smtp_peer(None, false, recipients)
}

/// Starts the SMTP peer with STARTTLS (a self-signed certificate, see
/// [`Smtp::certificate`]), required before AUTH (`auth`: user and password) and MAIL.
pub fn smtp_tls(auth: Option<(&str, &str)>) -> Smtp {
    smtp_peer(auth, true, &[])
}

fn smtp_peer(auth: Option<(&str, &str)>, tls: bool, reject: &[&str]) -> Smtp {
    let mut cmd = Command::new(root().join(".venv/bin/python"));
    cmd.arg("tests/peers/smtp.py").env("SMTP_PORT", "0");
    if let Some((user, password)) = auth {
        cmd.env("SMTP_USER", user).env("SMTP_PASSWORD", password);
    }
    if tls {
        cmd.env("SMTP_TLS", "1");
    }
    if !reject.is_empty() {
        cmd.env("SMTP_REJECT", reject.join(","));
    }
    let peer = spawn(cmd);
    let (smtp_port, http_port) = (peer.ports[0], peer.ports[1]);
    Smtp {
        url: format!(
            "smtp://127.0.0.1:{smtp_port}{}",
            if tls { "" } else { "?tls=none" }
        ),
        control: format!("http://127.0.0.1:{http_port}"),
        _peer: peer,
    }
}

impl Smtp {
    /// Every message received so far: mail_from, rcpt_tos, subject, to, text, html, raw.
    pub async fn messages(&self) -> Vec<Value> {
        reqwest::get(format!("{}/messages", self.control))
            .await
            .expect("smtp peer")
            .json()
            .await
            .expect("messages")
    }

    /// Waits until at least `n` messages arrived (up to 30 s) and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let m = self.messages().await;
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("expected {n} emails, got {:?}", self.messages().await);
    }

    /// The TLS peer's certificate (PEM), for the client to trust.
    pub async fn certificate(&self) -> String {
        let r = reqwest::get(format!("{}/certificate", self.control))
            .await
            .expect("smtp peer");
        assert!(r.status().is_success(), "the peer has no TLS");
        r.text().await.expect("certificate")
    }

    async fn control(&self, what: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/{what}", self.control))
            .send()
            .await
            .expect("smtp control");
        assert!(r.status().is_success());
    }

    /// Refuses connections until [`Smtp::start`].
    pub async fn stop(&self) {
        self.control("stop").await;
    }

    pub async fn start(&self) {
        self.control("start").await;
    }
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
