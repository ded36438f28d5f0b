//! Secrets muster must read back (its token signing keys, IdP client secrets) are sealed at
//! rest with ChaCha20-Poly1305 under the server's secret key, so a copy of the database alone
//! mints no token and signs in to no IdP. Each value is bound to its row (associated data), so
//! sealed values cannot be swapped between rows either.
//!
//! The key is `MUSTER_SECRET_KEY`, or for SQLite a key file beside the database made on first
//! start (`<database>.key`). PostgreSQL needs the variable: every process must share the key.
//! Rotation: keys in `MUSTER_SECRET_KEY_PREVIOUS` still open values, and every start re-seals
//! what they opened under the current key; with the key file, `muster secret-key rotate` writes
//! `<database>.key.next`, which is current until the rotation renames it over the old file.

use crate::config::Config;
use crate::db::DbUrl;
use crate::error::Error;
use anyhow::{bail, Context as _};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How a sealed value starts: the format, then the id of the key that sealed it.
const PREFIX: &str = "sealed:v1:";

/// A 256-bit secret key.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 32],
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Key {
        Key {
            bytes: ChaCha20Poly1305::generate_key(&mut OsRng).into(),
        }
    }

    /// A key derived from a random secret held elsewhere (a cookie), for one purpose: what it
    /// seals opens only for whoever holds that secret.
    pub fn derive(purpose: &str, secret: &str) -> Key {
        let digest = Sha256::new()
            .chain_update(b"muster derived key\0")
            .chain_update(purpose.as_bytes())
            .chain_update(b"\0")
            .chain_update(secret.as_bytes())
            .finalize();
        Key {
            bytes: digest.into(),
        }
    }

    /// Reads a key written as base64 (either alphabet) or 64 hex digits.
    ///
    /// # Errors
    /// Text that is not 32 bytes in one of those forms.
    pub fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok());
        match bytes.map(<[u8; 32]>::try_from) {
            Some(Ok(bytes)) => Ok(Key { bytes }),
            _ => Err(
                "a secret key is 32 bytes in base64 or 64 hex digits: make one with \
                      `muster secret-key generate`"
                    .into(),
            ),
        }
    }

    /// The key as written in the environment or the key file.
    pub fn encoded(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// A short public name of the key, stored with each value it seals.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"muster secret key id\0")
            .chain_update(self.bytes)
            .finalize();
        hex::encode(&digest[..4])
    }

    /// Seals `plain` bound to `context`: `sealed:v1:<key id>:<nonce and ciphertext>`.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, Error> {
        let cipher = ChaCha20Poly1305::new(&self.bytes.into());
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: context.as_bytes(),
        };
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, payload)
                .map_err(|_| Error::internal("sealing a secret failed"))?,
        );
        Ok(format!(
            "{PREFIX}{}:{}",
            self.id(),
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a value this key sealed for `context`; `None` when it did not, or it was altered.
    pub fn open(&self, context: &str, stored: &str) -> Option<String> {
        let (id, body) = stored.strip_prefix(PREFIX)?.split_once(':')?;
        if id != self.id() {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = ChaCha20Poly1305::new(&self.bytes.into());
        let payload = Payload {
            msg: ct,
            aad: context.as_bytes(),
        };
        let plain = cipher.decrypt(Nonce::from_slice(nonce), payload).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The key that seals, and the keys that still open during a rotation.
pub struct Vault {
    current: Key,
    previous: Vec<Key>,
}

impl Vault {
    pub fn new(current: Key, previous: Vec<Key>) -> Vault {
        Vault { current, previous }
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> String {
        self.current.id()
    }
}

static INSTALLED: OnceLock<Vault> = OnceLock::new();

/// Makes `vault` the one this process seals and opens with. One process has one key: a second
/// install with another current key is refused.
///
/// # Errors
/// A different vault is already installed.
pub fn install(vault: Vault) -> anyhow::Result<()> {
    let id = vault.current.id();
    let installed = INSTALLED.get_or_init(|| vault);
    if installed.current.id() != id {
        bail!("this process already seals secrets with another key");
    }
    Ok(())
}

fn installed() -> Result<&'static Vault, Error> {
    INSTALLED
        .get()
        .ok_or_else(|| Error::internal("no secret key is loaded"))
}

/// Seals a secret for storage under the current key.
///
/// # Errors
/// No key loaded.
pub fn seal(context: &str, plain: &str) -> Result<String, Error> {
    installed()?.current.seal(context, plain)
}

/// Opens a stored secret. A value from before sealing (no prefix) is returned as it is; the
/// next start seals it.
///
/// # Errors
/// No key loaded, or no loaded key opens the value (a wrong `MUSTER_SECRET_KEY`).
pub fn open(context: &str, stored: &str) -> Result<String, Error> {
    if !stored.starts_with(PREFIX) {
        return Ok(stored.to_owned());
    }
    let v = installed()?;
    std::iter::once(&v.current)
        .chain(&v.previous)
        .find_map(|k| k.open(context, stored))
        .ok_or_else(|| {
            Error::internal(format!(
                "a stored secret ({context}) does not open with the secret key \
                 (MUSTER_SECRET_KEY or the key file); set the key it was sealed with"
            ))
        })
}

/// The value re-sealed under the current key, when it is under another key or not sealed.
///
/// # Errors
/// As [`open`].
pub fn refresh(context: &str, stored: &str) -> Result<Option<String>, Error> {
    let current = format!("{PREFIX}{}:", installed()?.current.id());
    if stored.starts_with(&current) {
        return Ok(None);
    }
    seal(context, &open(context, stored)?).map(Some)
}

/// The key file of a SQLite database, and the one a rotation writes first.
fn key_files(database: &DbUrl) -> Option<(PathBuf, PathBuf)> {
    match database {
        DbUrl::Sqlite(path) => Some((
            PathBuf::from(format!("{path}.key")),
            PathBuf::from(format!("{path}.key.next")),
        )),
        DbUrl::Postgres(_) => None,
    }
}

fn read_key(path: &Path) -> anyhow::Result<Key> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
    Key::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes a new key file readable by its owner alone; never over an existing one.
fn write_key(path: &Path, key: &Key) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the secret key file {}", path.display()))?;
    writeln!(f, "{}", key.encoded())?;
    f.sync_all()?;
    Ok(())
}

/// The vault the configuration names: `MUSTER_SECRET_KEY` (and `_PREVIOUS`), or the SQLite
/// key file, made now when there is none.
///
/// # Errors
/// A malformed key, PostgreSQL without a key, an unreadable key file.
pub fn load(config: &Config) -> anyhow::Result<Vault> {
    let mut previous = config
        .secret_key_previous
        .iter()
        .map(|k| Key::parse(k).map_err(|e| anyhow::anyhow!("MUSTER_SECRET_KEY_PREVIOUS: {e}")))
        .collect::<anyhow::Result<Vec<Key>>>()?;
    if let Some(k) = &config.secret_key {
        let current = Key::parse(k).map_err(|e| anyhow::anyhow!("MUSTER_SECRET_KEY: {e}"))?;
        return Ok(Vault::new(current, previous));
    }
    let Some((file, next)) = key_files(&config.database) else {
        bail!(
            "MUSTER_SECRET_KEY must be set with PostgreSQL: every muster process needs the \
             same key to read the secrets it stores. Make one with `muster secret-key generate`."
        );
    };
    if !file.exists() {
        write_key(&file, &Key::generate())?;
        tracing::warn!(
            file = %file.display(),
            "no MUSTER_SECRET_KEY: made a secret key file beside the database; back it up \
             apart from the database, which cannot be read without it"
        );
    }
    let key = read_key(&file)?;
    // A rotation in progress: the new key seals, the old one still opens.
    if next.exists() {
        previous.push(key);
        return Ok(Vault::new(read_key(&next)?, previous));
    }
    Ok(Vault::new(key, previous))
}

/// Starts a rotation of the SQLite key file: writes the new key beside it (kept when an
/// interrupted rotation left one). [`load`] then seals with it. `false` when the key comes
/// from `MUSTER_SECRET_KEY`, which the operator rotates.
///
/// # Errors
/// The file cannot be written.
pub fn begin_file_rotation(config: &Config) -> anyhow::Result<bool> {
    match (&config.secret_key, key_files(&config.database)) {
        (None, Some((_, next))) => {
            if next.exists() {
                tracing::warn!("finishing a secret key rotation that was interrupted");
            } else {
                write_key(&next, &Key::generate())?;
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Ends a rotation of the key file, once every value is sealed under the new key.
///
/// # Errors
/// The rename failed.
pub fn finish_file_rotation(config: &Config) -> anyhow::Result<()> {
    if let Some((file, next)) = key_files(&config.database) {
        std::fs::rename(&next, &file)
            .with_context(|| format!("cannot move {} to {}", next.display(), file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_row() {
        let (a, b) = (Key::generate(), Key::generate());
        let sealed = a.seal("idp:1", "s3cret").unwrap();
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("s3cret"));
        assert_eq!(a.open("idp:1", &sealed).as_deref(), Some("s3cret"));
        assert_eq!(a.open("idp:2", &sealed), None, "bound to its row");
        assert_eq!(b.open("idp:1", &sealed), None, "another key");
        let mut altered = sealed.clone();
        let last = altered.pop();
        altered.push(if last == Some('A') { 'B' } else { 'A' });
        assert_eq!(a.open("idp:1", &altered), None);
        assert_ne!(a.seal("idp:1", "s3cret").unwrap(), sealed, "fresh nonce");
    }

    #[test]
    fn keys_read_back_in_every_written_form() {
        let k = Key::generate();
        for text in [
            k.encoded(),
            hex::encode(k.bytes),
            URL_SAFE_NO_PAD.encode(k.bytes),
        ] {
            assert_eq!(Key::parse(&text).unwrap().id(), k.id());
        }
        assert!(Key::parse("short").is_err());
    }
}
