//! The password policy, and hashing with argon2id. Hashing is CPU-heavy on purpose, so it runs on the blocking
//! pool behind a semaphore: a burst of password writes cannot starve other requests.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// The longest (argon2 takes any length; this bounds the work per request).
pub const MAX_LENGTH: usize = 1024;

/// Checks a new password against the policy; the error says what to change.
///
/// # Errors
/// Too short, too long, or the person's own address or userName.
pub fn check_policy(password: &str, identities: &[&str]) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(format!(
            "Use at least {MIN_LENGTH} characters; a few words strung together are easy to remember."
        ));
    }
    if n > MAX_LENGTH {
        return Err(format!("Use at most {MAX_LENGTH} characters."));
    }
    let lower = password.to_lowercase();
    for id in identities
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
    {
        let local = id.split('@').next().unwrap_or_default().to_owned();
        if lower == id || (local.len() >= 4 && lower.contains(&local)) {
            return Err("Do not use your email address or user name in your password.".into());
        }
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err("Do not repeat one character.".into());
    }
    Ok(())
}

/// argon2id with m=19 MiB, t=2, p=1 (the OWASP minimum).
fn hasher() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None)?,
    ))
}

/// Hashes a password synchronously (call from blocking code only).
///
/// # Errors
/// When argon2 rejects its parameters (a bug) or the input.
pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let h = hasher().map_err(argon2::password_hash::Error::from)?;
    Ok(h.hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Checks a password against a stored hash synchronously. With no hash (unknown user, or one
/// without a password) it checks against a fixed dummy hash, so the answer takes as long.
pub fn verify_blocking(hash: Option<&str>, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_blocking("muster dummy password").unwrap_or_default());
    let real = hash.is_some();
    let stored = hash.unwrap_or(dummy);
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    // The parameters come from the stored hash; `hasher()` only supplies the algorithm set.
    let ok = hasher().is_ok_and(|h| h.verify_password(password.as_bytes(), &parsed).is_ok());
    ok && real
}

/// Bounds concurrent hashes; cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// At most `concurrent` hashes at once.
    pub fn new(concurrent: usize) -> Hasher {
        Hasher {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
        }
    }

    /// Checks a password on the blocking pool (see [`verify_blocking`]).
    pub async fn verify(&self, hash: Option<String>, password: String) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_blocking(hash.as_deref(), &password))
            .await
            .unwrap_or(false)
    }

    /// Hashes on the blocking pool.
    ///
    /// # Errors
    /// A message when hashing failed.
    pub async fn hash(&self, password: String) -> Result<String, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || hash_blocking(&password).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }
}
