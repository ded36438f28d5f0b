//! The `muster` command line: run the server and manage tenants and SCIM tokens.

use crate::app::{server, AppState};
use crate::config::Config;
use crate::tenants::{self, Mode};
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "muster",
    version,
    about = "Multi-tenant identity provisioning (SCIM 2.0)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (MUSTER_BIND, MUSTER_PUBLIC_URL, DATABASE_URL).
    Serve,
    /// Apply database migrations and exit (serve applies them too).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage a tenant's SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand)]
enum TenantCmd {
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
}

#[derive(Subcommand)]
enum TokenCmd {
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

/// Parses the command line and runs it.
///
/// # Errors
/// Any failure, with a message for the operator.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => serve(config),
        Command::Migrate => {
            AppState::open(config)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Tenant(cmd) => tenant(config, cmd),
        Command::Token(cmd) => token(config, cmd),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so that stdout carries only command output (a new token, say).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let public = config.public_url.clone();
    let state = AppState::open(config)?;
    let listener = std::net::TcpListener::bind(&bind)
        .with_context(|| format!("cannot listen on {bind} (MUSTER_BIND)"))?;
    tracing::info!(%bind, %public, "muster is listening");
    actix_web::rt::System::new().block_on(async move { server(state, listener)?.await })?;
    Ok(())
}

fn tenant(config: Config, cmd: TenantCmd) -> anyhow::Result<()> {
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        TenantCmd::Create { slug, name, mode } => {
            let t = tenants::create(&mut c, &slug, name.as_deref(), mode)?;
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
            tenants::set_mode(&mut c, &slug, mode)?;
            eprintln!("tenant {slug} now uses {mode} mode");
        }
    }
    Ok(())
}

fn token(config: Config, cmd: TokenCmd) -> anyhow::Result<()> {
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        TokenCmd::Create { tenant, name } => {
            let token = tenants::create_token(&mut c, &tenant, &name)?;
            println!("{token}");
            eprintln!("token {name:?} created for {tenant}; it will not be shown again");
        }
        TokenCmd::List { tenant } => {
            for t in tenants::list_tokens(&mut c, &tenant)? {
                let used = t.last_used_at.unwrap_or_else(|| "never".into());
                println!("{}\tcreated {}\tlast used {}", t.name, t.created_at, used);
            }
        }
        TokenCmd::Revoke { tenant, name } => {
            tenants::revoke_token(&mut c, &tenant, &name)?;
            eprintln!("token {name:?} of {tenant} revoked");
        }
    }
    Ok(())
}
