//! The `muster` command line: run the server and manage tenants and SCIM tokens.

use crate::app::{server, AppState};
use crate::config::Config;
use crate::sso::{idp, oidc, saml};
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
    /// Manage a tenant's identity providers (sign-in through OIDC or SAML).
    #[command(subcommand)]
    Idp(IdpCmd),
    /// Manage the keys muster signs access tokens with (published at /.well-known/jwks.json).
    #[command(subcommand)]
    Keys(KeysCmd),
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Sign with a new key from now on. The old one stays published for an hour, so tokens it
    /// signed keep verifying until they expire. Prints the new key id.
    Rotate,
    /// List the keys: id, created, retired (empty while current).
    List,
}

#[derive(Subcommand)]
enum IdpCmd {
    /// Add an identity provider. Its settings are checked against the provider first.
    Add {
        tenant: String,
        #[command(subcommand)]
        kind: IdpKindCmd,
    },
    /// List a tenant's identity providers (never their secrets).
    List { tenant: String },
    /// Remove an identity provider; the users it signed in stay.
    Remove { tenant: String, slug: String },
    /// Show the login button again and accept its responses.
    Enable { tenant: String, slug: String },
    /// Hide the login button and refuse its responses.
    Disable { tenant: String, slug: String },
    /// Set which claims or attributes fill a User attribute, first present wins
    /// (userName, email, givenName, familyName, displayName, groups). No claims: the default.
    Map {
        tenant: String,
        slug: String,
        attribute: String,
        claims: Vec<String>,
    },
}

#[derive(Subcommand)]
enum IdpKindCmd {
    /// An OpenID Connect provider (Okta, Entra ID, Google, Keycloak, ...). Its redirect URI is
    /// <public url>/t/<tenant>/sso/<slug>/callback.
    Oidc {
        #[arg(long)]
        slug: String,
        /// The name on the login button ("Log in with <title>").
        #[arg(long)]
        title: String,
        /// The issuer URL; its /.well-known/openid-configuration must answer.
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// Also read from MUSTER_IDP_CLIENT_SECRET, which keeps it out of shell history.
        #[arg(long, env = "MUSTER_IDP_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Scopes besides openid.
        #[arg(long, value_delimiter = ',', default_value = "email,profile")]
        scopes: Vec<String>,
    },
    /// A SAML 2.0 provider (Entra ID, Okta, ADFS, ...). Give it muster's SP metadata at
    /// <public url>/t/<tenant>/sso/<slug>/metadata; its ACS is .../sso/<slug>/acs.
    Saml {
        #[arg(long)]
        slug: String,
        /// The name on the login button ("Log in with <title>").
        #[arg(long)]
        title: String,
        /// The IdP's metadata XML, from a file...
        #[arg(
            long,
            conflicts_with = "metadata_url",
            required_unless_present = "metadata_url"
        )]
        metadata_file: Option<std::path::PathBuf>,
        /// ...or from a URL.
        #[arg(long)]
        metadata_url: Option<String>,
        /// Accept sign-ins started at the IdP (unsolicited responses). Off by default: they
        /// cannot be tied to the browser that receives them.
        #[arg(long)]
        allow_idp_initiated: bool,
        /// Vouch for the email addresses this IdP sends (a directory your organisation runs,
        /// such as Entra ID or Okta): they may then link existing accounts by email and are
        /// stored on users it creates. SAML itself cannot say an address was verified.
        #[arg(long)]
        trust_email: bool,
    },
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
    /// Allow sign-ins to return to URLs that start with this prefix (?return_to=...).
    AllowRedirect {
        slug: String,
        prefix: String,
        /// Stop allowing the prefix instead.
        #[arg(long)]
        remove: bool,
    },
    /// List the allowed return_to prefixes.
    Redirects { slug: String },
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
        Command::Idp(cmd) => idp_cmd(config, cmd),
        Command::Keys(cmd) => keys_cmd(config, cmd),
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
        TenantCmd::AllowRedirect {
            slug,
            prefix,
            remove,
        } => {
            if remove {
                idp::disallow_redirect(&mut c, &slug, &prefix)?;
                eprintln!("{prefix} is no longer an allowed return_to of {slug}");
            } else {
                idp::allow_redirect(&mut c, &slug, &prefix)?;
                eprintln!("return_to URLs starting with {prefix} are allowed for {slug}");
            }
        }
        TenantCmd::Redirects { slug } => {
            let t = tenants::by_slug(&mut c, &slug)?;
            for p in idp::redirects(&mut c, &t.id)? {
                println!("{p}");
            }
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

fn keys_cmd(config: Config, cmd: KeysCmd) -> anyhow::Result<()> {
    use crate::db::schema::signing_keys as k;
    use diesel::prelude::*;
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        KeysCmd::Rotate => {
            let kid = crate::keys::rotate(&mut c)?;
            crate::keys::prune(&mut c)?;
            println!("{kid}");
            eprintln!(
                "signing with key {kid} from now on; the previous key stays published for an hour"
            );
        }
        KeysCmd::List => {
            let rows: Vec<(String, String, Option<String>)> = k::table
                .order(k::created_at)
                .select((k::kid, k::created_at, k::retired_at))
                .load(&mut c)?;
            for (kid, created, retired) in rows {
                println!("{kid}\t{created}\t{}", retired.unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn idp_cmd(config: Config, cmd: IdpCmd) -> anyhow::Result<()> {
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        IdpCmd::Add { tenant, kind } => {
            let new = match kind {
                IdpKindCmd::Oidc {
                    slug,
                    title,
                    issuer,
                    client_id,
                    client_secret,
                    scopes,
                } => {
                    let issuer = issuer.trim().to_owned();
                    // Refuse a provider muster cannot talk to before storing anything.
                    let doc = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?
                        .block_on(oidc::discover(&issuer))
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let scopes = scopes
                        .into_iter()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    idp::NewIdp {
                        slug,
                        title,
                        kind: idp::Kind::Oidc,
                        settings: serde_json::to_value(idp::OidcSettings {
                            issuer,
                            client_id,
                            scopes,
                        })?,
                        client_secret: Some(client_secret),
                        discovered: Some(doc),
                    }
                }
                IdpKindCmd::Saml {
                    slug,
                    title,
                    metadata_file,
                    metadata_url,
                    allow_idp_initiated,
                    trust_email,
                } => {
                    let xml = match (&metadata_file, &metadata_url) {
                        (Some(f), _) => std::fs::read_to_string(f).map_err(|e| {
                            anyhow::anyhow!("cannot read the metadata file {}: {e}", f.display())
                        })?,
                        (None, Some(u)) => tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?
                            .block_on(saml::fetch_metadata(u))
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                        (None, None) => anyhow::bail!("give --metadata-file or --metadata-url"),
                    };
                    let mut settings = saml::read_metadata(&xml, metadata_url)
                        .map_err(|e| anyhow::anyhow!("refused: {e}"))?;
                    settings.idp_initiated = allow_idp_initiated;
                    settings.trust_email = trust_email;
                    idp::NewIdp {
                        slug,
                        title,
                        kind: idp::Kind::Saml,
                        settings: serde_json::to_value(settings)?,
                        client_secret: None,
                        discovered: None,
                    }
                }
            };
            let added = idp::add(&mut c, &tenant, new)?;
            println!("{}", added.slug);
            let base = format!("{}/t/{tenant}/sso/{}", state.config.public_url, added.slug);
            match added.kind {
                idp::Kind::Oidc => eprintln!(
                    "identity provider {} added to {tenant}; its redirect URI is {base}/callback",
                    added.slug
                ),
                idp::Kind::Saml => eprintln!(
                    "identity provider {} added to {tenant}; give it the SP metadata at \
                     {base}/metadata (entity id {base}/metadata, ACS {base}/acs)",
                    added.slug
                ),
            }
        }
        IdpCmd::List { tenant } => {
            let t = tenants::by_slug(&mut c, &tenant)?;
            for i in idp::list(&mut c, &t.id)? {
                let what = match (i.oidc(), i.saml()) {
                    (Some(o), _) => format!("issuer {} client {}", o.issuer, o.client_id),
                    (_, Some(s)) => format!("entity {}", s.entity_id),
                    _ => String::new(),
                };
                let state_word = if i.active { "active" } else { "disabled" };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    i.slug, i.kind, state_word, i.title, what
                );
            }
        }
        IdpCmd::Remove { tenant, slug } => {
            idp::remove(&mut c, &tenant, &slug)?;
            eprintln!("identity provider {slug} removed from {tenant}");
        }
        IdpCmd::Enable { tenant, slug } => {
            idp::set_active(&mut c, &tenant, &slug, true)?;
            eprintln!("identity provider {slug} of {tenant} enabled");
        }
        IdpCmd::Disable { tenant, slug } => {
            idp::set_active(&mut c, &tenant, &slug, false)?;
            eprintln!("identity provider {slug} of {tenant} disabled");
        }
        IdpCmd::Map {
            tenant,
            slug,
            attribute,
            claims,
        } => {
            let mapping = idp::set_mapping(&mut c, &tenant, &slug, &attribute, claims)?;
            for (attr, names) in mapping {
                println!("{attr}\t{}", names.join(","));
            }
        }
    }
    Ok(())
}
