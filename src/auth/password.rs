//! Password hashing with argon2id. Hashing is CPU-heavy on purpose, so it runs on the blocking
//! pool behind a semaphore: a burst of password writes cannot starve other requests.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

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
