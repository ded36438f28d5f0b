//! `muster tenant` and `muster token`: tenants, their modes, limits and return_to prefixes,
//! and their SCIM tokens.

use super::{open, tenant_named};
use crate::auth::scim_tokens;
use crate::config::Config;
use crate::ids::TenantSlug;
use crate::tenants::{self, Mode};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TenantCmd {
    /// Create a tenant; its SCIM base URL is <public url>/scim/v2/<slug>.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "scim")]
        mode: Mode,
    },
    /// List tenants.
    List,
    /// Switch a tenant's provisioning mode (scim, jit, invite); users are kept.
    SetMode { slug: String, mode: Mode },
    /// Allow sign-ins to return to URLs that start with this prefix (?return_to=...).
    AllowRedirect {
        slug: String,
        prefix: String,
        /// Stop allowing the prefix instead.
        #[arg(long)]
        remove: bool,
    },
    /// Set the tenant's SCIM rate limits in requests per minute (0: no limit); over a limit,
    /// muster answers 429 with Retry-After. Without options, print them.
    Limits {
        slug: String,
        /// Per SCIM token or OAuth client.
        #[arg(long)]
        per_credential: Option<i32>,
        /// Per client address.
        #[arg(long)]
        per_address: Option<i32>,
    },
    /// List the allowed return_to prefixes.
    Redirects { slug: String },
    /// Let SCIM clients set passwords (on) or not (off, the default). Even when on, SCIM
    /// never sets a tenant admin's password, and a new password must meet the policy.
    ScimPasswords { slug: String, setting: OnOff },
}

/// `on` or `off`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token and print it alone on stdout. It is shown only this once.
    Create {
        tenant: String,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List a tenant's tokens (name, created, last used); never the secrets.
    List { tenant: String },
    /// Revoke a token by name.
    Revoke { tenant: String, name: String },
}

pub fn tenant(config: Config, cmd: TenantCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    match cmd {
        TenantCmd::Create { slug, name, mode } => {
            let t = tenants::create(&mut c, &TenantSlug::from(slug), name.as_deref(), mode)?;
            println!("{}", t.slug);
            eprintln!(
                "tenant {} created ({} mode); SCIM base URL: {}/scim/v2/{}",
                t.slug, t.mode, state.config.public_url, t.slug
            );
        }
        TenantCmd::List => {
            for t in tenants::list(&mut c)? {
                println!("{}\t{}\t{}\t{}", t.slug, t.mode, t.created_at, t.name);
            }
        }
        TenantCmd::SetMode { slug, mode } => {
            let t = tenant_named(&mut c, &slug)?;
            tenants::set_mode(&mut c, &t.id, mode)?;
            eprintln!("tenant {slug} now uses {mode} mode");
        }
        TenantCmd::AllowRedirect {
            slug,
            prefix,
            remove,
        } => {
            let t = tenant_named(&mut c, &slug)?;
            if remove {
                tenants::disallow_redirect(&mut c, &t.id, &prefix)?;
                eprintln!("{prefix} is no longer an allowed return_to of {slug}");
            } else {
                tenants::allow_redirect(&mut c, &t.id, &prefix)?;
                eprintln!("return_to URLs starting with {prefix} are allowed for {slug}");
            }
        }
        TenantCmd::Limits {
            slug,
            per_credential,
            per_address,
        } => {
            let t = tenant_named(&mut c, &slug)?;
            tenants::set_limits(&mut c, &t.id, per_credential, per_address)?;
            let t = tenants::get(&mut c, &t.id)?;
            let (cred, addr) = (t.scim_rate_limit, t.address_rate_limit);
            let show = |n: i32| {
                if n == 0 {
                    "none".to_owned()
                } else {
                    format!("{n}/min")
                }
            };
            println!(
                "per-credential\t{}\nper-address\t{}",
                show(cred),
                show(addr)
            );
        }
        TenantCmd::ScimPasswords { slug, setting } => {
            let t = tenant_named(&mut c, &slug)?;
            let on = matches!(setting, OnOff::On);
            tenants::set_scim_passwords(&mut c, &t.id, on)?;
            if on {
                eprintln!("SCIM clients of {slug} may now set passwords (never a tenant admin's)");
            } else {
                eprintln!(
                    "SCIM clients of {slug} can no longer set passwords; any they send are ignored"
                );
            }
        }
        TenantCmd::Redirects { slug } => {
            let t = tenant_named(&mut c, &slug)?;
            for p in tenants::redirects(&mut c, &t.id)? {
                println!("{p}");
            }
        }
    }
    Ok(())
}

pub fn token(config: Config, cmd: TokenCmd) -> anyhow::Result<()> {
    let (_, mut c) = open(config)?;
    match cmd {
        TokenCmd::Create { tenant, name } => {
            let t = tenant_named(&mut c, &tenant)?;
            let token = scim_tokens::create(&mut c, &t.id, &name)?;
            println!("{token}");
            eprintln!("token {name:?} created for {tenant}; it will not be shown again");
        }
        TokenCmd::List { tenant } => {
            let t = tenant_named(&mut c, &tenant)?;
            for t in scim_tokens::list(&mut c, &t.id)? {
                let used = t.last_used_at.unwrap_or_else(|| "never".into());
                println!("{}\tcreated {}\tlast used {}", t.name, t.created_at, used);
            }
        }
        TokenCmd::Revoke { tenant, name } => {
            let t = tenant_named(&mut c, &tenant)?;
            scim_tokens::revoke(&mut c, &t.id, &name)?;
            eprintln!("token {name:?} of {tenant} revoked");
        }
    }
    Ok(())
}
