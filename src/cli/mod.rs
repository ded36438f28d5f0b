//! The `muster` command line: run the server, and administer tenants where it runs. Each
//! command group is a module calling the same functions as the admin API; [`open`] gives
//! them the state, a connection and the tenant they name.

mod credentials;
mod log;
mod people;
mod sso;
mod templates;
mod tenant;

use crate::config::Config;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantSlug, UserId};
use crate::state::AppState;
use crate::tenants::{self, Tenant};
use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::r2d2::{ConnectionManager, PooledConnection};

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
    Tenant(tenant::TenantCmd),
    /// Manage a tenant's SCIM bearer tokens.
    #[command(subcommand)]
    Token(tenant::TokenCmd),
    /// Manage a tenant's identity providers (sign-in through OIDC or SAML).
    #[command(subcommand)]
    Idp(sso::IdpCmd),
    /// Manage a tenant's OAuth clients: SCIM by client credentials (Entra ID's app gallery).
    #[command(subcommand)]
    Client(credentials::ClientCmd),
    /// Trust JWTs from a tenant's own IdP (TokenIntrospectors) as API credentials of the
    /// person they name; in jit mode the first valid token creates the user.
    #[command(subcommand)]
    Introspector(sso::IntrospectorCmd),
    /// Manage the keys muster signs access tokens with (published at /.well-known/jwks.json).
    #[command(subcommand)]
    Keys(credentials::KeysCmd),
    /// The key muster seals stored secrets with (signing keys, IdP client secrets).
    #[command(subcommand)]
    SecretKey(credentials::SecretKeyCmd),
    /// Invite someone by email (or send a pending invitation again with a new link). Prints
    /// the link alone on stdout; the email goes out through `muster serve`.
    Invite(people::InviteArgs),
    /// List a tenant's invitations: email, state, created, expires.
    Invites { tenant: String },
    /// Read a tenant's activity log, newest first: SCIM requests, sign-ins, account forms and
    /// admin actions.
    Log(log::LogArgs),
    /// Act on one user, named by userName or email.
    #[command(subcommand)]
    User(people::UserCmd),
    /// Manage platform admin tokens: bearers of the admin API (/admin/v1) for every tenant.
    #[command(subcommand, name = "admin-token")]
    AdminToken(credentials::AdminTokenCmd),
    /// Show, change or reset a tenant's email templates (kinds: invite, password_reset).
    #[command(subcommand)]
    Template(templates::TemplateCmd),
}

/// Parses the command line and runs it.
///
/// # Errors
/// Any failure, with a message for the operator.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sources = crate::config::Sources::load()?;
    init_tracing(&sources)?;
    let config = Config::from_sources(&sources)?;
    match cli.command {
        Command::Serve => serve(config),
        Command::Migrate => {
            AppState::open(config)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Tenant(cmd) => tenant::tenant(config, cmd),
        Command::Token(cmd) => tenant::token(config, cmd),
        Command::Idp(cmd) => sso::idp(config, cmd),
        Command::Keys(cmd) => credentials::keys(config, cmd),
        Command::SecretKey(cmd) => credentials::secret_key(config, cmd),
        Command::Introspector(cmd) => sso::introspector(config, cmd),
        Command::Client(cmd) => credentials::client(config, cmd),
        Command::Invite(args) => people::invite(config, args),
        Command::Invites { tenant } => people::invites(config, &tenant),
        Command::Log(args) => log::log(config, args),
        Command::User(cmd) => people::user(config, cmd),
        Command::Template(cmd) => templates::template(config, cmd),
        Command::AdminToken(cmd) => credentials::admin_token(config, cmd),
    }
}

/// Logs go to stderr so that stdout carries only command output (a new token, say): human
/// lines by default, one JSON object per line with `MUSTER_LOG_FORMAT=json`.
fn init_tracing(src: &crate::config::Sources) -> anyhow::Result<()> {
    let spec = src.get("MUSTER_LOG").unwrap_or_else(|| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&spec).map_err(|e| {
        anyhow::anyhow!(
            "{} {spec:?} is not a log filter: {e}",
            crate::config::label("MUSTER_LOG")
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = src.get("MUSTER_LOG_FORMAT").unwrap_or_default();
    let _ = match format.trim() {
        "" | "text" => builder.try_init(),
        "json" => builder.json().with_current_span(true).try_init(),
        other => anyhow::bail!(
            "{} must be text or json (got {other:?})",
            crate::config::label("MUSTER_LOG_FORMAT")
        ),
    };
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let public = config.public_url.clone();
    let state = AppState::open(config)?;
    let listener = std::net::TcpListener::bind(&bind)
        .with_context(|| format!("cannot listen on {bind} (MUSTER_BIND)"))?;
    tracing::info!(%bind, %public, "muster is listening");
    // On SIGTERM or Ctrl-C the server stops taking connections and lets requests in flight
    // finish (up to 30 s); then the email worker stops between two messages.
    actix_web::rt::System::new().block_on(async move {
        crate::http::server(state.clone(), listener)?.await?;
        state.email_stop.stop().await;
        state.activity.stop().await;
        tracing::info!("muster stopped");
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}

/// A connection of the command's own.
type Conn = PooledConnection<ConnectionManager<DbConn>>;

/// Opens the state (applying migrations) and a connection: what every command starts with.
fn open(config: Config) -> anyhow::Result<(AppState, Conn)> {
    let state = AppState::open(config)?;
    let c = state.db.conn()?;
    Ok((state, c))
}

/// The tenant a command names by its slug.
fn tenant_named(c: &mut DbConn, slug: &str) -> Result<Tenant, Error> {
    tenants::by_slug(c, &TenantSlug::from(slug))
}

/// Runs an async piece (a provider checked over the network) from a command.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

/// An admin action taken on the command line, in the tenant's activity log.
fn audit(c: &mut DbConn, tenant: &Tenant, user: Option<&UserId>, what: &str) {
    let mut e = crate::activity::Entry::new("admin", &tenant.slug);
    e.actor = "command line".into();
    e.method = "CLI".into();
    e.path = format!("muster {what}");
    e.status = 200;
    e.user_id = user.map(ToString::to_string);
    e.resource_id = e.user_id.clone();
    e.summary = "done".into();
    if let Err(err) = crate::activity::insert(c, &tenant.id, &e) {
        tracing::warn!(error = %err, "the action is done but not in the activity log");
    }
}
