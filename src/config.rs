//! Configuration from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `muster.db` (SQLite, working directory) | `postgres://...` selects PostgreSQL |
//! | `MUSTER_BIND` | `127.0.0.1:8080` | address the HTTP server listens on |
//! | `MUSTER_PUBLIC_URL` | `http://<MUSTER_BIND>` | URL clients reach muster at (`meta.location`) |
//! | `MUSTER_DB_POOL` | 16 (PostgreSQL), 8 (SQLite) | database connections per process |
//! | `MUSTER_WORKERS` | number of CPUs | HTTP worker threads |
//! | `MUSTER_SMTP_URL` | unset: emails go to the outbox folder | `smtp://user:pass@host:587` (STARTTLS), `smtps://...:465` |
//! | `MUSTER_MAIL_FROM` | `muster@<public host>` | the sender of every email |
//! | `MUSTER_OUTBOX_DIR` | `outbox` | where emails are written as `.eml` files without SMTP |

use crate::db::DbUrl;
use anyhow::{bail, Context};

/// Settings read once at start-up and passed down in the application state.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub public_url: String,
    pub database: DbUrl,
    pub pool_size: u32,
    pub workers: usize,
    /// SMTP server URL; `None` writes emails to `outbox_dir`.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub outbox_dir: std::path::PathBuf,
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    /// A message naming the setting that is wrong.
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let bind = var("MUSTER_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = var("MUSTER_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let database = DbUrl::parse(var("DATABASE_URL").as_deref());
        let pool_size = match var("MUSTER_DB_POOL") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .context("MUSTER_DB_POOL must be a positive number")?,
            None => match database {
                DbUrl::Postgres(_) => 16,
                DbUrl::Sqlite(_) => 8,
            },
        };
        let mut config = Config::new(bind, public_url, database, pool_size)?;
        config.smtp_url = var("MUSTER_SMTP_URL");
        if let Some(from) = var("MUSTER_MAIL_FROM") {
            from.parse::<lettre::message::Mailbox>()
                .map_err(|e| anyhow::anyhow!("MUSTER_MAIL_FROM {from:?} is not an address: {e}"))?;
            config.mail_from = from;
        }
        if let Some(dir) = var("MUSTER_OUTBOX_DIR") {
            config.outbox_dir = dir.into();
        }
        if let Some(v) = var("MUSTER_WORKERS") {
            config.workers = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .context("MUSTER_WORKERS must be a positive number")?;
        }
        Ok(config)
    }

    /// Builds a checked configuration.
    ///
    /// # Errors
    /// When `public_url` is not an http(s) URL.
    pub fn new(
        bind: String,
        public_url: String,
        database: DbUrl,
        pool_size: u32,
    ) -> anyhow::Result<Config> {
        let public_url = public_url.trim().trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("MUSTER_PUBLIC_URL must start with http:// or https:// (got {public_url:?})");
        }
        let host = url::Url::parse(&public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(Config {
            bind,
            public_url,
            database,
            pool_size,
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            smtp_url: None,
            mail_from: format!("muster <muster@{host}>"),
            outbox_dir: "outbox".into(),
        })
    }
}
