//! `muster log`: a tenant's activity log.

use super::{open, tenant_named};
use crate::activity;
use crate::config::Config;
use crate::ids::UserId;
use crate::people::users;
use clap::Args;

/// `muster log`.
#[derive(Args)]
pub struct LogArgs {
    tenant: String,
    /// From this time (RFC 3339) or age (90m, 24h, 7d) on.
    #[arg(long)]
    since: Option<String>,
    /// Only entries about this user (id, userName or email).
    #[arg(long)]
    user: Option<String>,
    /// Only this status (409) or class (4xx).
    #[arg(long)]
    status: Option<String>,
    /// Only scim, sign-in, account or admin entries.
    #[arg(long)]
    kind: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

pub fn log(config: Config, args: LogArgs) -> anyhow::Result<()> {
    let LogArgs {
        tenant,
        since,
        user,
        status,
        kind,
        limit,
    } = args;
    let (_, mut c) = open(config)?;
    let t = tenant_named(&mut c, &tenant)?;
    let q = activity::Query {
        since: since
            .map(|s| activity::since_filter(&s))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--since: {e}"))?,
        status: status
            .map(|s| activity::status_filter(&s))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--status: {e}"))?,
        user_id: user
            .map(|u| users::named(&mut c, &t.id, &u).map(UserId::into_string))
            .transpose()?,
        kind,
        before: None,
        limit: limit.clamp(1, 1000),
    };
    let (rows, _) = activity::list(&mut c, &t.id, &q)?;
    for r in rows {
        println!(
            "{}\t{}\t{}\t{} {}\t{}{}\t{}\t{}",
            r.at,
            r.kind,
            r.actor,
            r.method,
            r.path,
            r.status,
            r.scim_type.map(|t| format!(" {t}")).unwrap_or_default(),
            r.resource_id.unwrap_or_default(),
            r.summary
        );
    }
    Ok(())
}
