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

    /// Opens the database (applying migrations) and builds the state.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::open(&config.database, config.pool_size, config.db_wait)?;
        // The token signing key exists before the first request needs it.
        db.conn()
            .map_err(anyhow::Error::from)
            .and_then(|mut c| crate::issuer::keys::current(&mut c).map_err(anyhow::Error::from))?;
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
