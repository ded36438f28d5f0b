//! What every request handler and background task can reach: the database, the configuration,
//! the password hasher, the mailer and the queues of this process. Nothing here is state that
//! matters across processes: that lives in the database.

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::Db;
use std::sync::Arc;

/// What every request handler can reach. Nothing here is state that matters across processes:
/// that lives in the database.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    pub mailer: crate::notify::mailer::Mailer,
    /// Stops this process's email worker between two messages (graceful shutdown).
    pub email_stop: crate::notify::outbox::Stop,
    /// The provisioning activity log's queue.
    pub activity: crate::activity::Log,
    /// This process's share of the SCIM rate counts.
    pub limiter: crate::limits::Limiter,
}

impl AppState {
    /// Where requests to tenants' identity providers may go.
    pub fn outbound(&self) -> crate::sso::fetch::Outbound {
        crate::sso::fetch::Outbound {
            loopback: self.config.dev_loopback_idps,
        }
    }

    /// Loads the secret key, opens the database (applying migrations), seals what is not
    /// sealed under the current key, and builds the state.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        crate::vault::install(crate::vault::load(&config)?)?;
        let db = Db::open(&config.database, config.pool_size, config.db_wait)?;
        let mut c = db.conn()?;
        reseal(&mut c)?;
        // The token signing key exists before the first request needs it.
        crate::issuer::keys::current(&mut c)?;
        drop(c);
        let mailer = crate::notify::mailer::Mailer::new(
            config.smtp_url.as_deref(),
            config.smtp_ca_file.as_deref(),
            config.outbox_dir.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(AppState {
            mailer,
            email_stop: crate::notify::outbox::Stop::default(),
            activity: crate::activity::Log::new(config.activity_log),
            limiter: crate::limits::Limiter::default(),
            db,
            config: Arc::new(config),
            hasher: Hasher::new(2),
        })
    }
}

/// Seals every stored secret under the current secret key: values from before sealing, and
/// those a previous key sealed (a rotation). Returns how many were rewritten.
///
/// # Errors
/// Database errors; a value no loaded key opens.
pub fn reseal(c: &mut crate::db::DbConn) -> anyhow::Result<usize> {
    let n = crate::db::write_tx(c, |c| {
        Ok::<_, crate::error::Error>(crate::issuer::keys::reseal(c)? + crate::sso::idp::reseal(c)?)
    })?;
    if n > 0 {
        tracing::info!(
            secrets = n,
            "sealed stored secrets under the current secret key"
        );
    }
    Ok(n)
}
