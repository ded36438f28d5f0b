//! The `muster` binary: tenant and token commands on a fresh SQLite file, a printed token used
//! against `muster serve`, and tokens stored only as SHA-256 hashes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `muster` in `dir`, with a clean environment: SQLite `muster.db` in `dir`, quiet logs.
pub(crate) fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_muster"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MUSTER_BIND")
        .env_remove("MUSTER_PUBLIC_URL")
        .env_remove("MUSTER_DB_POOL")
        .env_remove("MUSTER_WORKERS")
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_SMTP_URL")
        .env_remove("MUSTER_MAIL_FROM")
        .env_remove("MUSTER_OUTBOX_DIR")
        .env_remove("MUSTER_LOG_FORMAT")
        .env_remove("MUSTER_SECRET_KEY")
        .env_remove("MUSTER_SECRET_KEY_PREVIOUS")
        // The test IdPs run on this machine.
        .env("MUSTER_DEV_LOOPBACK_IDPS", "on")
        .env("MUSTER_LOG", "warn")
        .stdin(Stdio::null());
    c
}

/// Runs `muster <args>` in `dir` to completion.
pub(crate) fn muster(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("run muster")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `muster <args>` and asserts it succeeded; returns stdout.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let o = muster(dir, args);
    assert!(
        o.status.success(),
        "muster {args:?} failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs `muster <args>`, asserts it failed with a message on stderr and nothing on stdout;
/// returns stderr.
pub(crate) fn fails(dir: &Path, args: &[&str]) -> String {
    let o = muster(dir, args);
    assert!(
        !o.status.success(),
        "muster {args:?} should fail\nstdout: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        !err.trim().is_empty(),
        "muster {args:?}: a message on stderr"
    );
    assert_eq!(stdout(&o), "", "muster {args:?}: nothing on stdout");
    err
}

/// A fresh working directory with tenant `acme` in it.
pub(crate) fn with_acme() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(dir.path(), &["tenant", "create", "acme", "--name", "Acme"]);
    dir
}

/// The `tenant list` line of a slug, split on tabs.
fn tenant_row(dir: &Path, slug: &str) -> Option<Vec<String>> {
    ok(dir, &["tenant", "list"])
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(slug))
}

/// The token names `token list` shows.
fn token_names(dir: &Path, tenant: &str) -> Vec<String> {
    ok(dir, &["token", "list", tenant])
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}

/// Creates a token and returns it, asserting it is the only thing on stdout.
fn create_token(dir: &Path, tenant: &str, name: &str) -> String {
    let out = ok(dir, &["token", "create", tenant, "--name", name]);
    assert!(out.ends_with('\n'), "{out:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on stdout: {out:?}");
    let token = lines[0];
    assert_eq!(token, token.trim(), "no surrounding whitespace: {out:?}");
    assert!(token.starts_with("mst_scim_"), "{token}");
    assert!(token.len() >= 40, "{token}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "a token is safe to paste into a header: {token}"
    );
    token.to_owned()
}

#[test]
fn tenant_create_list_and_set_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ok(
        dir.path(),
        &[
            "tenant", "create", "acme", "--name", "Acme", "--mode", "jit",
        ],
    );
    assert_eq!(out.trim(), "acme");
    assert!(
        dir.path().join("muster.db").exists(),
        "SQLite in the working directory"
    );
    let row = tenant_row(dir.path(), "acme").expect("acme is listed");
    assert_eq!(row[1], "jit", "{row:?}");
    assert_eq!(row.last().map(String::as_str), Some("Acme"), "{row:?}");

    ok(dir.path(), &["tenant", "set-mode", "acme", "scim"]);
    assert_eq!(tenant_row(dir.path(), "acme").expect("acme")[1], "scim");
    ok(dir.path(), &["tenant", "set-mode", "acme", "invite"]);
    assert_eq!(tenant_row(dir.path(), "acme").expect("acme")[1], "invite");

    // A second tenant, default mode scim, name defaulting to the slug.
    ok(dir.path(), &["tenant", "create", "globex"]);
    let row = tenant_row(dir.path(), "globex").expect("globex");
    assert_eq!(row[1], "scim");
    assert_eq!(row.last().map(String::as_str), Some("globex"));
    assert_eq!(ok(dir.path(), &["tenant", "list"]).lines().count(), 2);

    let err = fails(dir.path(), &["tenant", "set-mode", "nobody", "jit"]);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn tenant_create_refuses_bad_slugs_duplicates_and_unknown_modes() {
    let dir = with_acme();
    for slug in [
        "Bad Slug",
        "UPPER",
        "under_score",
        "-leading",
        "",
        &"a".repeat(64),
    ] {
        let err = fails(dir.path(), &["tenant", "create", "--", slug]);
        assert!(err.contains("slug"), "{slug:?}: {err}");
    }
    let err = fails(dir.path(), &["tenant", "create", "acme"]);
    assert!(err.contains("already exists"), "{err}");
    let err = fails(
        dir.path(),
        &["tenant", "create", "newco", "--mode", "sometimes"],
    );
    assert!(err.contains("sometimes"), "{err}");
    let err = fails(dir.path(), &["tenant", "set-mode", "acme", "sometimes"]);
    assert!(err.contains("sometimes"), "{err}");

    // Only acme exists, unchanged.
    let list = ok(dir.path(), &["tenant", "list"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert_eq!(tenant_row(dir.path(), "acme").expect("acme")[1], "scim");
}

#[test]
fn token_create_prints_the_token_alone_and_fresh_each_time() {
    let dir = with_acme();
    let a = create_token(dir.path(), "acme", "okta");
    let b = create_token(dir.path(), "acme", "entra");
    assert_ne!(a, b);
    // The default name.
    let c = create_token(dir.path(), "acme", "default");
    assert_ne!(c, a);
    let o = muster(dir.path(), &["token", "create", "acme"]);
    assert!(!o.status.success(), "the name \"default\" is taken");

    let err = fails(dir.path(), &["token", "create", "acme", "--name", "okta"]);
    assert!(err.contains("okta"), "{err}");
    let err = fails(dir.path(), &["token", "create", "nobody", "--name", "okta"]);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn token_list_never_shows_secrets_and_revoke_removes_the_token() {
    let dir = with_acme();
    let okta = create_token(dir.path(), "acme", "okta");
    let entra = create_token(dir.path(), "acme", "entra");
    let list = ok(dir.path(), &["token", "list", "acme"]);
    assert!(!list.contains(&okta) && !list.contains(&entra), "{list}");
    assert!(!list.contains("mst_scim_"), "{list}");
    let mut names = token_names(dir.path(), "acme");
    names.sort();
    assert_eq!(names, vec!["entra", "okta"]);
    assert!(list.contains("never"), "unused tokens say so: {list}");

    ok(dir.path(), &["token", "revoke", "acme", "okta"]);
    assert_eq!(token_names(dir.path(), "acme"), vec!["entra"]);

    let err = fails(dir.path(), &["token", "revoke", "acme", "okta"]);
    assert!(err.contains("okta"), "{err}");
    let err = fails(dir.path(), &["token", "revoke", "acme", "nope"]);
    assert!(err.contains("nope"), "{err}");
    fails(dir.path(), &["token", "revoke", "nobody", "entra"]);
    fails(dir.path(), &["token", "list", "nobody"]);
    assert_eq!(token_names(dir.path(), "acme"), vec!["entra"]);

    // The name can be used again after revocation, with a new secret.
    let again = create_token(dir.path(), "acme", "okta");
    assert_ne!(again, okta);
}

/// A `muster serve` child, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts `muster serve` in `dir` and waits for `/healthz`.
async fn serve(dir: &Path) -> Server {
    serve_with(dir, None, |_| {}).await
}

/// Starts `muster serve` in `dir` on `port` (or a free one), its stderr into `dir/serve.log`,
/// with `env` applied to the command.
async fn serve_with(dir: &Path, port: Option<u16>, env: impl FnOnce(&mut Command)) -> Server {
    let port = port.unwrap_or_else(free_port);
    let url = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("serve.log")).expect("log file");
    let mut cmd = command(dir);
    cmd.arg("serve")
        .env("MUSTER_BIND", format!("127.0.0.1:{port}"))
        .env("MUSTER_WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(log);
    env(&mut cmd);
    let child = cmd.spawn().expect("spawn muster serve");
    let mut server = Server { child, url };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/healthz", server.url)).send().await {
            if r.status().is_success() {
                return server;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("muster serve exited: {status}");
        }
        assert!(Instant::now() < deadline, "muster serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn printed_token_works_against_muster_serve() {
    let dir = with_acme();
    let token = create_token(dir.path(), "acme", "okta");
    let server = serve(dir.path()).await;
    let client = reqwest::Client::new();
    let users = format!("{}/scim/v2/acme/Users", server.url);

    let r = client
        .get(&users)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/scim+json")
    );
    let body: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(body["totalResults"], 0);

    let created = client
        .post(&users)
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"userName": "cli.user"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.expect("JSON");
    // meta.location uses MUSTER_BIND when no public URL is configured.
    assert!(
        created["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with(&format!("{users}/"))),
        "{created}"
    );

    let wrong = client
        .get(&users)
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), 401);

    // `token list` records the use; revoking in the CLI shuts the running server's door.
    let list = ok(dir.path(), &["token", "list", "acme"]);
    assert!(!list.contains("last used never"), "{list}");
    ok(dir.path(), &["token", "revoke", "acme", "okta"]);
    let r = client
        .get(&users)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    drop(server);
}

/// Every file of the SQLite database (main file, WAL, shared memory).
pub(crate) fn database_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("muster.db"))
        })
        .collect()
}

#[test]
fn database_stores_only_a_sha256_hash_of_the_token() {
    use diesel::prelude::*;
    use muster::db::schema::scim_tokens;
    use sha2::{Digest, Sha256};

    let dir = with_acme();
    let token = create_token(dir.path(), "acme", "okta");

    for file in database_files(dir.path()) {
        let bytes = std::fs::read(&file).expect("read database file");
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token appears in {}",
            file.display()
        );
    }

    let path = dir.path().join("muster.db").to_string_lossy().into_owned();
    let db = muster::db::Db::open(
        &muster::db::DbUrl::Sqlite(path),
        1,
        std::time::Duration::from_secs(30),
    )
    .expect("open database");
    let mut c = db.conn().expect("connection");
    let rows: Vec<(String, String)> = scim_tokens::table
        .select((scim_tokens::name, scim_tokens::token_hash))
        .load(&mut *c)
        .expect("tokens");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (name, hash) = &rows[0];
    assert_eq!(name, "okta");
    assert_eq!(hash.len(), 64, "{hash}");
    assert!(
        hash.chars()
            .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch)),
        "{hash}"
    );
    assert_ne!(hash, &token);
    assert!(!token.contains(hash.as_str()) && !hash.contains(&token));
    assert_eq!(hash, &hex::encode(Sha256::digest(token.as_bytes())));
}

#[test]
fn idp_add_checks_the_provider_first_and_never_lists_secrets() {
    let dir = with_acme();
    let d = dir.path();
    let oidc = crate::peers::oidc(&["http://127.0.0.1:8080/t/acme/sso/okta/callback".into()]);
    let saml = crate::peers::saml();

    // Unreachable discovery: refused, with the reason.
    let err = fails(
        d,
        &[
            "idp",
            "add",
            "acme",
            "oidc",
            "--slug",
            "okta",
            "--title",
            "Okta",
            "--issuer",
            "http://127.0.0.1:9",
            "--client-id",
            "muster",
            "--client-secret",
            "s3cret-value",
        ],
    );
    assert!(err.contains("discovery"), "{err}");
    let out = ok(
        d,
        &[
            "idp",
            "add",
            "acme",
            "oidc",
            "--slug",
            "okta",
            "--title",
            "Okta",
            "--issuer",
            &oidc.url,
            "--client-id",
            "muster",
            "--client-secret",
            "s3cret-value",
        ],
    );
    assert_eq!(out, "okta\n");

    // SAML metadata without a signing certificate, or not metadata at all: refused.
    let err = fails(
        d,
        &[
            "idp",
            "add",
            "acme",
            "saml",
            "--slug",
            "entra",
            "--title",
            "Entra ID",
            "--metadata-url",
            &format!("{}/metadata?nocert=1", saml.url),
        ],
    );
    assert!(err.contains("no signing certificate"), "{err}");
    let junk = d.join("junk.xml");
    std::fs::write(&junk, "<html><body>login</body></html>").unwrap();
    let err = fails(
        d,
        &[
            "idp",
            "add",
            "acme",
            "saml",
            "--slug",
            "entra",
            "--title",
            "Entra ID",
            "--metadata-file",
            junk.to_str().unwrap(),
        ],
    );
    assert!(err.contains("EntityDescriptor"), "{err}");
    let o = muster(
        d,
        &[
            "idp",
            "add",
            "acme",
            "saml",
            "--slug",
            "entra",
            "--title",
            "Entra ID",
            "--metadata-url",
            &format!("{}/metadata", saml.url),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/t/acme/sso/entra/metadata"),
        "the SP metadata URL to hand to the IdP: {}",
        stderr(&o)
    );

    let list = ok(d, &["idp", "list", "acme"]);
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0][..3], ["entra", "saml", "active"]);
    assert!(rows[0][4].contains(&saml.url), "{list}");
    assert_eq!(rows[1][..3], ["okta", "oidc", "active"]);
    assert!(!list.contains("s3cret-value"), "{list}");

    ok(d, &["idp", "disable", "acme", "okta"]);
    assert!(ok(d, &["idp", "list", "acme"]).contains("okta\toidc\tdisabled"));
    let mapping = ok(d, &["idp", "map", "acme", "entra", "groups", "memberOf"]);
    assert!(mapping.contains("groups\tmemberOf\n"), "{mapping}");
    assert_eq!(rows[0][5], "links by email", "{list}");
    ok(
        d,
        &[
            "idp",
            "link",
            "acme",
            "entra",
            "userName",
            "--trust-email",
            "on",
        ],
    );
    let list = ok(d, &["idp", "list", "acme"]);
    assert!(
        list.contains("links by userName (all addresses trusted)"),
        "{list}"
    );
    let err = fails(d, &["idp", "link", "acme", "entra", "nickname"]);
    assert!(err.contains("email, userName or claim:<name>"), "{err}");
    ok(d, &["idp", "remove", "acme", "entra"]);
    assert!(!ok(d, &["idp", "list", "acme"]).contains("entra"));
    let err = fails(d, &["idp", "remove", "acme", "entra"]);
    assert!(err.contains("no identity provider"), "{err}");
}

#[test]
fn keys_rotate_prints_the_new_key_and_keeps_the_old_one_listed() {
    let dir = with_acme();
    let d = dir.path();
    // The first key was made when the database was first opened.
    let before = ok(d, &["keys", "list"]);
    let rows: Vec<&str> = before.lines().collect();
    assert_eq!(rows.len(), 1, "{before}");
    let first = rows[0].split('\t').next().unwrap().to_owned();
    assert!(
        rows[0].ends_with('\t'),
        "current key, not retired: {before}"
    );

    let out = ok(d, &["keys", "rotate"]);
    let new_kid = out.trim();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_ne!(new_kid, first);
    let after = ok(d, &["keys", "list"]);
    let rows: Vec<Vec<&str>> = after.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{after}");
    let old = rows.iter().find(|r| r[0] == first).expect("old key kept");
    assert!(!old[2].is_empty(), "the old key is retired: {after}");
    let new = rows.iter().find(|r| r[0] == new_kid).expect("new key");
    assert!(new[2].is_empty(), "{after}");
}

#[test]
fn invite_prints_the_link_alone_and_lists_resends_and_revokes() {
    let dir = with_acme();
    let d = dir.path();
    let out = ok(d, &["invite", "acme", "ada@example.test"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "the link alone on stdout: {out:?}");
    assert!(lines[0].contains("/t/acme/invite/msi_"), "{out}");
    let o = muster(d, &["invite", "acme", "ada@example.test"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("invited again"), "{}", stderr(&o));
    assert_ne!(stdout(&o), out, "a new link");
    let list = ok(d, &["invites", "acme"]);
    let states: Vec<&str> = list
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(states, ["pending", "revoked"], "{list}");
    ok(d, &["invite", "acme", "ada@example.test", "--revoke"]);
    assert!(!ok(d, &["invites", "acme"]).contains("pending"));
    let err = fails(d, &["invite", "acme", "not-an-address"]);
    assert!(err.contains("not an email address"), "{err}");
    // Nothing is emailed without a server; the email waits in the database for `serve`.
    let err = fails(
        d,
        &["user", "reset-password", "acme", "nobody@example.test"],
    );
    assert!(err.contains("no user"), "{err}");
    let err = fails(d, &["user", "reset-password", "acme", "ada@example.test"]);
    assert!(err.contains("cannot reset"), "{err}");
}

#[test]
fn template_set_refuses_what_does_not_render() {
    let dir = with_acme();
    let d = dir.path();
    let shown = ok(d, &["template", "show", "acme", "invite"]);
    assert!(shown.contains("{{ link }}"), "{shown}");
    let bad = d.join("bad.html");
    std::fs::write(&bad, "<p>Hello</p>\n<p>{% for %}</p>\n").unwrap();
    let err = fails(
        d,
        &[
            "template",
            "set",
            "acme",
            "invite",
            "--html-file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(err.contains("line 2"), "{err}");
    ok(
        d,
        &[
            "template",
            "set",
            "acme",
            "invite",
            "--subject",
            "Join {{ tenant_name }} today",
        ],
    );
    assert!(ok(d, &["template", "show", "acme", "invite"]).contains("Join {{ tenant_name }} today"));
    ok(d, &["template", "reset", "acme", "invite"]);
    assert!(!ok(d, &["template", "show", "acme", "invite"]).contains("today"));
    let err = fails(d, &["template", "show", "acme", "welcome"]);
    assert!(err.contains("unknown email kind"), "{err}");
}

/// Drives every kind of secret through a running server with debug JSON logs, then checks
/// that none of them reached a log line, and that request lines carry a request id.
#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let dir = with_acme();
    let d = dir.path();
    let token = create_token(d, "acme", "okta");
    let admin_token = ok(d, &["admin-token", "create"]).trim().to_owned();
    let port = free_port();
    // The links the CLI prints use the public URL, which must be the server's.
    let public = format!("http://127.0.0.1:{port}");
    let invite_out = command(d)
        .args(["invite", "acme", "ann@example.test"])
        .env("MUSTER_PUBLIC_URL", &public)
        .output()
        .unwrap();
    let invite_link = String::from_utf8(invite_out.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(invite_link.starts_with(&public), "{invite_link}");
    let server = serve_with(d, Some(port), |c| {
        c.env("MUSTER_LOG", "debug")
            .env("MUSTER_LOG_FORMAT", "json")
            .env("MUSTER_PUBLIC_URL", &public);
    })
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let scim_password = "Scim-Pa55word-Value";
    let r = http
        .post(format!("{}/scim/v2/acme/Users", server.url))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-42")
        .json(
            &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bo@example.test", "password": scim_password}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    // The invitation is accepted with a password, which then signs in.
    let password = "a long invitation passphrase";
    let r = http
        .post(&invite_link)
        .form(&[("password", password), ("confirm", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let login = http
        .post(format!("{}/t/acme/login", server.url))
        .form(&[("username", "ann@example.test"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();
    let wrong = http
        .post(format!("{}/t/acme/login", server.url))
        .form(&[
            ("username", "ann@example.test"),
            ("password", "a wrong guess of hers"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let jwt: serde_json::Value = http
        .post(format!("{}/t/acme/token", server.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = jwt["access_token"].as_str().unwrap().to_owned();
    let me = http
        .get(format!("{}/t/acme/userinfo", server.url))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // A personal access token, made with the session and used; the admin token, used.
    let pat: serde_json::Value = http
        .post(format!("{}/admin/v1/tenants/acme/me/tokens", server.url))
        .header("cookie", &session)
        .json(&serde_json::json!({"name": "laptop"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pat = pat["token"].as_str().unwrap().to_owned();
    for bearer in [&pat, &admin_token] {
        let r = http
            .get(format!("{}/admin/v1/tenants/acme/me/tokens", server.url))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert!(r.status() == 200 || r.status() == 403, "{}", r.status());
    }
    // A reset link, written by the email worker into the outbox folder.
    let r = http
        .post(format!("{}/t/acme/forgot", server.url))
        .form(&[("email", "ann@example.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let outbox = d.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    let reset_link = loop {
        let found = std::fs::read_dir(&outbox).ok().and_then(|entries| {
            entries.flatten().find_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                let at = text.find("/t/acme/reset/")?;
                Some(text[at..].split_whitespace().next()?.to_owned())
            })
        });
        if let Some(l) = found {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "no reset email in the outbox folder"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(server);

    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    let session_id = session.split('=').nth(1).unwrap();
    let invite_token = invite_link.rsplit('/').next().unwrap();
    let reset_token = reset_link
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(['\r', '=']);
    for (what, secret) in [
        ("SCIM token", token.as_str()),
        ("SCIM password", scim_password),
        ("user password", password),
        ("wrong password", "a wrong guess of hers"),
        ("session id", session_id),
        ("access token", jwt.as_str()),
        ("personal access token", pat.as_str()),
        ("admin token", admin_token.as_str()),
        ("invite token", invite_token),
        ("reset token", &reset_token[..20]),
    ] {
        assert!(
            secret.len() >= 16,
            "{what} too short to search for: {secret}"
        );
        assert!(!log.contains(secret), "the {what} is in the log");
    }
    // Every line is JSON, and request lines carry the request id.
    let mut requests = 0;
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if v["fields"]["message"] == "request" {
            requests += 1;
            assert!(v["span"]["request_id"].is_string(), "{line}");
        }
    }
    assert!(requests >= 7, "{log}");
    assert!(log.contains("trace-me-42"));
}

/// SIGTERM: requests in flight finish, the email worker stops between messages, exit 0.
#[tokio::test]
async fn serve_stops_gracefully_on_sigterm() {
    let dir = with_acme();
    let d = dir.path();
    for n in 0..5 {
        ok(d, &["invite", "acme", &format!("p{n}@example.test")]);
    }
    let mut server = serve_with(d, None, |c| {
        c.env("MUSTER_LOG", "info");
    })
    .await;
    let r = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "muster serve did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert!(log.contains("muster stopped"), "{log}");
    // Whatever was not sent before the stop is still in the outbox for the next start.
    let sent = std::fs::read_dir(d.join("outbox"))
        .map(|e| e.count())
        .unwrap_or(0);
    let _server = serve_with(d, None, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files: Vec<_> = std::fs::read_dir(d.join("outbox"))
            .map(|e| e.flatten().map(|f| f.file_name()).collect())
            .unwrap_or_default();
        if files
            .iter()
            .filter(|f| f.to_string_lossy().ends_with(".eml"))
            .count()
            == 5
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {sent} sent before the stop, {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn muster_toml_configures_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("muster.toml"),
        "public_url = \"https://muster.example.com\"\ndb_pool = 4\n",
    )
    .unwrap();
    let o = muster(d, &["tenant", "create", "acme"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("https://muster.example.com/scim/v2/acme"),
        "{}",
        stderr(&o)
    );
    let o = command(d)
        .args(["tenant", "create", "beta"])
        .env("MUSTER_PUBLIC_URL", "https://env.example.com")
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("https://env.example.com/scim/v2/beta"),
        "{}",
        stderr(&o)
    );

    // Wrong settings stop start-up and name the setting, wherever it came from.
    for (file, says) in [
        (
            "db_pool = 0\n",
            "MUSTER_DB_POOL (db_pool in muster.toml) must be a positive number",
        ),
        ("public_url = \"ftp://x\"\n", "MUSTER_PUBLIC_URL"),
        (
            "pubic_url = \"https://x\"\n",
            "unknown setting \"pubic_url\"",
        ),
        ("log_format = \"yaml\"\n", "MUSTER_LOG_FORMAT"),
        ("mail_from = \"not an address\"\n", "MUSTER_MAIL_FROM"),
        ("workers = [1]\n", "workers must be text or a number"),
        ("this is not toml\n", "not valid TOML"),
    ] {
        std::fs::write(d.join("muster.toml"), file).unwrap();
        let err = fails(d, &["tenant", "list"]);
        assert!(err.contains(says), "{file}: {err}");
    }
    std::fs::remove_file(d.join("muster.toml")).unwrap();
    let o = command(d)
        .args(["tenant", "list"])
        .env("MUSTER_CONFIG", d.join("missing.toml"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("MUSTER_CONFIG"), "{}", stderr(&o));
    let o = command(d)
        .args(["tenant", "list"])
        .env("MUSTER_WORKERS", "many")
        .output()
        .unwrap();
    assert!(stderr(&o).contains("MUSTER_WORKERS"), "{}", stderr(&o));
}

#[test]
fn client_create_prints_id_and_secret_once() {
    let dir = with_acme();
    let d = dir.path();
    let out = ok(d, &["client", "create", "acme", "entra"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("acme-"), "{out}");
    assert!(
        lines[1].starts_with("mcs_") && lines[1].len() >= 40,
        "{out}"
    );
    let list = ok(d, &["client", "list", "acme"]);
    assert!(list.starts_with("entra\t"), "{list}");
    assert!(
        list.contains(lines[0]) && !list.contains(lines[1]),
        "{list}"
    );
    let err = fails(d, &["client", "create", "acme", "entra"]);
    assert!(err.contains("already has a client"), "{err}");
    ok(d, &["client", "remove", "acme", "entra"]);
    assert_eq!(ok(d, &["client", "list", "acme"]), "");
}

#[tokio::test]
async fn admin_token_and_user_role_open_the_admin_api() {
    let dir = with_acme();
    let token = ok(dir.path(), &["admin-token", "create", "--name", "ops"]);
    let token = token.trim().to_owned();
    assert!(token.starts_with("mst_admin_") && !token.contains('\n'));
    let list = ok(dir.path(), &["admin-token", "list"]);
    assert!(
        list.starts_with("ops\t") && !list.contains(&token),
        "{list}"
    );
    fails(dir.path(), &["admin-token", "create", "--name", "ops"]);
    let scim = create_token(dir.path(), "acme", "okta");
    let server = serve(dir.path()).await;
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{}/scim/v2/acme/Users", server.url))
        .bearer_auth(&scim)
        .json(&serde_json::json!({"userName": "ada@acme.test"}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let user = |id: &str| format!("{}/admin/v1/tenants/acme/users/{id}", server.url);
    let id = created["id"].as_str().expect("id");
    let got: serde_json::Value = client
        .get(user(id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(got["role"], "member");
    let said = muster(
        dir.path(),
        &["user", "role", "acme", "ada@acme.test", "admin"],
    );
    assert!(
        stderr(&said).contains("is now an admin of acme"),
        "{}",
        stderr(&said)
    );
    let got: serde_json::Value = client
        .get(user(id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(got["role"], "admin");
    fails(
        dir.path(),
        &["user", "role", "acme", "ada@acme.test", "owner"],
    );
    ok(dir.path(), &["admin-token", "revoke", "ops"]);
    let r = client
        .get(user(id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    drop(server);
}
