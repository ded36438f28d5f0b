//! Secrets at rest: token signing keys and IdP client secrets are sealed under the server's
//! secret key, so a copy of the database alone opens none of them; the key file is the
//! owner's alone; the key rotates, from the key file and to an environment key.

use crate::cli::{command, database_files, fails, ok, with_acme};
use diesel::prelude::*;
use muster::db::schema::{identity_providers, signing_keys};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// The stored signing keys and client secrets, as a database reader sees them.
fn stored(dir: &Path) -> Vec<String> {
    let path = dir.join("muster.db").to_string_lossy().into_owned();
    let db = muster::db::Db::open(
        &muster::db::DbUrl::Sqlite(path),
        1,
        std::time::Duration::from_secs(30),
    )
    .expect("open database");
    let mut c = db.conn().expect("connection");
    let mut values: Vec<String> = signing_keys::table
        .select(signing_keys::private_pem)
        .load(&mut *c)
        .expect("keys");
    let secrets: Vec<Option<String>> = identity_providers::table
        .select(identity_providers::client_secret)
        .load(&mut *c)
        .expect("secrets");
    values.extend(secrets.into_iter().flatten());
    values
}

fn assert_sealed_under(dir: &Path, key_id: &str) {
    let values = stored(dir);
    assert_eq!(values.len(), 2, "a signing key and a client secret");
    for v in values {
        assert!(v.starts_with(&format!("sealed:v1:{key_id}:")), "{v}");
    }
}

#[test]
fn stored_secrets_are_sealed_and_the_key_rotates() {
    let dir = with_acme();
    let d = dir.path();
    let oidc = crate::peers::oidc(&["http://127.0.0.1:8080/t/acme/sso/okta/callback".into()]);
    ok(
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

    // No MUSTER_SECRET_KEY: a key file beside the database, for its owner alone.
    let key_file = d.join("muster.db.key");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let first_key = std::fs::read_to_string(&key_file).unwrap();

    // Neither the private key nor the client secret is in the database files.
    for file in database_files(d)
        .into_iter()
        .filter(|f| f.extension().is_none_or(|e| e != "key"))
    {
        let bytes = std::fs::read(&file).unwrap();
        for plain in ["PRIVATE KEY", "s3cret-value"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{plain} in {}",
                file.display()
            );
        }
    }
    let first_id = stored(d)[0][10..18].to_owned();
    assert_sealed_under(d, &first_id);

    // A muster holding another key refuses to start rather than guess.
    let other = ok(d, &["secret-key", "generate"]);
    let o = command(d)
        .env("MUSTER_SECRET_KEY", other.trim())
        .args(["tenant", "list"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not open"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Rotating the key file: a new key, every secret sealed under it, nothing left behind.
    let rotated_id = ok(d, &["secret-key", "rotate"]).trim().to_owned();
    assert_ne!(rotated_id, first_id);
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), first_key);
    assert!(!d.join("muster.db.key.next").exists());
    assert_sealed_under(d, &rotated_id);
    assert!(ok(d, &["tenant", "list"]).contains("acme"));

    // Moving to an environment key: the old one opens during the rotation, then is not needed.
    let file_key = std::fs::read_to_string(&key_file).unwrap();
    let env_key = other.trim();
    let o = command(d)
        .env("MUSTER_SECRET_KEY", env_key)
        .env("MUSTER_SECRET_KEY_PREVIOUS", file_key.trim())
        .args(["secret-key", "rotate"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let env_id = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_sealed_under(d, &env_id);
    let o = command(d)
        .env("MUSTER_SECRET_KEY", env_key)
        .args(["tenant", "list"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = fails(d, &["tenant", "list"]);
    assert!(err.contains("does not open"), "{err}");
}
