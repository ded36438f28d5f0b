//! Configuration: environment variables, or the same settings in an optional `muster.toml`
//! (in the working directory, or the file named by `MUSTER_CONFIG`). The environment wins.
//! A setting that is wrong, or a key the file should not have, stops start-up with a message
//! that names it. The table is in README.md ("Configuration").

use crate::db::DbUrl;
use anyhow::{bail, Context};
use std::collections::BTreeMap;

/// Every setting: its environment variable and its key in `muster.toml`.
pub const SETTINGS: [(&str, &str); 20] = [
    ("DATABASE_URL", "database_url"),
    ("MUSTER_BIND", "bind"),
    ("MUSTER_PUBLIC_URL", "public_url"),
    ("MUSTER_DB_POOL", "db_pool"),
    ("MUSTER_DB_WAIT", "db_wait"),
    ("MUSTER_WORKERS", "workers"),
    ("MUSTER_TRUSTED_PROXIES", "trusted_proxies"),
    ("MUSTER_DEV_LOOPBACK_IDPS", "dev_loopback_idps"),
    ("MUSTER_SMTP_URL", "smtp_url"),
    ("MUSTER_SMTP_CA_FILE", "smtp_ca_file"),
    ("MUSTER_MAIL_FROM", "mail_from"),
    ("MUSTER_OUTBOX_DIR", "outbox_dir"),
    ("MUSTER_LOG", "log"),
    ("MUSTER_LOG_FORMAT", "log_format"),
    ("MUSTER_ACTIVITY_LOG", "activity_log"),
    ("MUSTER_ACTIVITY_RETENTION_DAYS", "activity_retention_days"),
    ("MUSTER_PAT_DAYS", "pat_days"),
    ("MUSTER_PAT_MAX_DAYS", "pat_max_days"),
    ("MUSTER_SECRET_KEY", "secret_key"),
    ("MUSTER_SECRET_KEY_PREVIOUS", "secret_key_previous"),
];

/// The settings as given, from the environment over `muster.toml`.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    values: BTreeMap<&'static str, String>,
}

impl Sources {
    /// Reads `muster.toml` (if any) and the environment.
    ///
    /// # Errors
    /// An unreadable or malformed file, a key it should not have, a value that is not text or
    /// a number.
    pub fn load() -> anyhow::Result<Sources> {
        let named = std::env::var("MUSTER_CONFIG")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let path = named.clone().unwrap_or_else(|| "muster.toml".to_owned());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && named.is_none() => None,
            Err(e) => bail!("cannot read the configuration file {path} (MUSTER_CONFIG): {e}"),
        };
        let mut values = BTreeMap::new();
        if let Some(text) = text {
            let table: toml::Table = text
                .parse()
                .map_err(|e| anyhow::anyhow!("{path} is not valid TOML: {e}"))?;
            for (key, value) in table {
                let Some((env, _)) = SETTINGS.iter().find(|(_, k)| *k == key) else {
                    let known: Vec<&str> = SETTINGS.iter().map(|(_, k)| *k).collect();
                    bail!(
                        "{path}: unknown setting {key:?}; the settings are {}",
                        known.join(", ")
                    );
                };
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(n) => n.to_string(),
                    other => bail!(
                        "{path}: {key} must be text or a number, not {}",
                        other.type_str()
                    ),
                };
                values.insert(*env, value);
            }
        }
        for (env, _) in SETTINGS {
            if let Ok(v) = std::env::var(env) {
                if !v.trim().is_empty() {
                    values.insert(env, v);
                }
            }
        }
        Ok(Sources { values })
    }

    /// A setting by its environment variable name; blank counts as unset.
    pub fn get(&self, env: &str) -> Option<String> {
        self.values
            .get(env)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }
}

/// How an error names a setting: `MUSTER_DB_POOL (db_pool)`.
pub fn label(env: &str) -> String {
    SETTINGS.iter().find(|(e, _)| *e == env).map_or_else(
        || env.to_owned(),
        |(e, k)| format!("{e} ({k} in muster.toml)"),
    )
}

/// Parses the trusted proxies: addresses or networks, separated by commas.
///
/// # Errors
/// The entry that is neither.
pub fn parse_trusted(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is not an address or a network (10.0.0.0/8)"))
        })
        .collect()
}

/// Settings read once at start-up and passed down in the application state.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub public_url: String,
    pub database: DbUrl,
    pub pool_size: u32,
    /// How long a request waits for a database connection before it is answered 503.
    pub db_wait: std::time::Duration,
    pub workers: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Development only: identity providers on this machine may be reached (http too).
    pub dev_loopback_idps: bool,
    /// SMTP server URL; `None` writes emails to `outbox_dir`.
    pub smtp_url: Option<String>,
    /// A PEM certificate to trust for the SMTP server, besides the system's (a private CA).
    pub smtp_ca_file: Option<std::path::PathBuf>,
    pub mail_from: String,
    pub outbox_dir: std::path::PathBuf,
    /// Record the provisioning activity log (SCIM requests, sign-ins, admin actions).
    pub activity_log: bool,
    /// Days an activity entry is kept.
    pub activity_retention_days: u32,
    /// Days a personal access token works when its maker does not say.
    pub pat_days: u32,
    /// The longest lifetime a personal access token may be given.
    pub pat_max_days: u32,
    /// The key stored secrets are sealed with (see `vault`); `None`: the SQLite key file.
    pub secret_key: Option<String>,
    /// Keys that still open secrets during a rotation.
    pub secret_key_previous: Vec<String>,
}

impl Config {
    /// Reads the environment and `muster.toml`.
    ///
    /// # Errors
    /// A message naming the setting that is wrong.
    pub fn from_env() -> anyhow::Result<Config> {
        Config::from_sources(&Sources::load()?)
    }

    /// Builds the configuration from its sources.
    ///
    /// # Errors
    /// A message naming the setting that is wrong.
    pub fn from_sources(src: &Sources) -> anyhow::Result<Config> {
        let var = |k: &str| src.get(k);
        let positive = |k: &str| -> anyhow::Result<Option<u32>> {
            var(k)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| {
                            format!("{} must be a positive number (got {v:?})", label(k))
                        })
                })
                .transpose()
        };
        let bind = var("MUSTER_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = var("MUSTER_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let database = DbUrl::parse(var("DATABASE_URL").as_deref());
        let pool_size = match positive("MUSTER_DB_POOL")? {
            Some(n) => n,
            None => match database {
                DbUrl::Postgres(_) => 16,
                DbUrl::Sqlite(_) => 8,
            },
        };
        let mut config = Config::new(bind, public_url, database, pool_size)?;
        if let Some(n) = positive("MUSTER_DB_WAIT")? {
            config.db_wait = std::time::Duration::from_secs(u64::from(n));
        }
        if let Some(n) = positive("MUSTER_WORKERS")? {
            config.workers = n as usize;
        }
        if let Some(list) = var("MUSTER_TRUSTED_PROXIES") {
            config.trusted_proxies = parse_trusted(&list)
                .map_err(|e| anyhow::anyhow!("{}: {e}", label("MUSTER_TRUSTED_PROXIES")))?;
        }
        config.secret_key = var("MUSTER_SECRET_KEY").filter(|k| !k.trim().is_empty());
        config.secret_key_previous = var("MUSTER_SECRET_KEY_PREVIOUS")
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        config.smtp_url = var("MUSTER_SMTP_URL");
        config.smtp_ca_file = var("MUSTER_SMTP_CA_FILE").map(Into::into);
        if let Some(from) = var("MUSTER_MAIL_FROM") {
            from.parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!(
                    "{} {from:?} is not an address: {e}",
                    label("MUSTER_MAIL_FROM")
                )
            })?;
            config.mail_from = from;
        }
        if let Some(dir) = var("MUSTER_OUTBOX_DIR") {
            config.outbox_dir = dir.into();
        }
        let on_off = |k: &str| -> anyhow::Result<Option<bool>> {
            var(k)
                .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                    "on" | "true" | "1" => Ok(true),
                    "off" | "false" | "0" => Ok(false),
                    _ => bail!("{} must be on or off (got {v:?})", label(k)),
                })
                .transpose()
        };
        if let Some(on) = on_off("MUSTER_ACTIVITY_LOG")? {
            config.activity_log = on;
        }
        if let Some(on) = on_off("MUSTER_DEV_LOOPBACK_IDPS")? {
            config.dev_loopback_idps = on;
        }
        if let Some(days) = positive("MUSTER_ACTIVITY_RETENTION_DAYS")? {
            config.activity_retention_days = days;
        }
        if let Some(days) = positive("MUSTER_PAT_MAX_DAYS")? {
            config.pat_max_days = days;
        }
        if let Some(days) = positive("MUSTER_PAT_DAYS")? {
            config.pat_days = days;
        }
        if config.pat_days > config.pat_max_days {
            bail!(
                "{} ({}) must not exceed {} ({})",
                label("MUSTER_PAT_DAYS"),
                config.pat_days,
                label("MUSTER_PAT_MAX_DAYS"),
                config.pat_max_days
            );
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
            bail!(
                "{} must start with http:// or https:// (got {public_url:?})",
                label("MUSTER_PUBLIC_URL")
            );
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
            db_wait: std::time::Duration::from_secs(30),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            trusted_proxies: Vec::new(),
            dev_loopback_idps: false,
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: format!("muster <muster@{host}>"),
            outbox_dir: "outbox".into(),
            activity_log: true,
            activity_retention_days: 90,
            pat_days: 90,
            pat_max_days: 366,
            secret_key: None,
            secret_key_previous: Vec::new(),
        })
    }
}
