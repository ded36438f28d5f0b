//! The `muster` command line: run the server and manage tenants and SCIM tokens.

use crate::app::{server, AppState};
use crate::config::Config;
use crate::sso::idp;
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
    /// Manage a tenant's OAuth clients: SCIM by client credentials (Entra ID's app gallery).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Trust JWTs from a tenant's own IdP (TokenIntrospectors) as API credentials of the
    /// person they name; in jit mode the first valid token creates the user.
    #[command(subcommand)]
    Introspector(IntrospectorCmd),
    /// Manage the keys muster signs access tokens with (published at /.well-known/jwks.json).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Invite someone by email (or send a pending invitation again with a new link). Prints
    /// the link alone on stdout; the email goes out through `muster serve`.
    Invite {
        tenant: String,
        email: String,
        /// Do not email the link; hand it over yourself.
        #[arg(long)]
        no_email: bool,
        /// Withdraw the pending invitation instead.
        #[arg(long, conflicts_with = "no_email")]
        revoke: bool,
        /// Days the link works.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=90))]
        days: u16,
    },
    /// List a tenant's invitations: email, state, created, expires.
    Invites { tenant: String },
    /// Read a tenant's activity log, newest first: SCIM requests, sign-ins, account forms and
    /// admin actions.
    Log {
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
    },
    /// Act on one user, named by userName or email.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage platform admin tokens: bearers of the admin API (/admin/v1) for every tenant.
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCmd),
    /// Show, change or reset a tenant's email templates (kinds: invite, password_reset).
    #[command(subcommand)]
    Template(TemplateCmd),
}

#[derive(Subcommand)]
enum AdminTokenCmd {
    /// Make a token and print it alone on stdout. It is shown only this once.
    Create {
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List the tokens: name, created, last used. Never the secrets.
    List,
    /// Revoke a token by name.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Give a user a role: admin (administers the tenant through the admin API) or member.
    Role {
        tenant: String,
        user: String,
        role: crate::people::users::Role,
    },
    /// Stop the user from signing in by any means; their sessions end at once.
    Deactivate { tenant: String, user: String },
    /// Let a deactivated user sign in again.
    Reactivate { tenant: String, user: String },
    /// Delete the user; refused while they are in a group.
    Delete { tenant: String, user: String },
    /// Send the user a single-use link to choose a new password (users who sign in with a
    /// password only). Prints the link alone on stdout.
    ResetPassword {
        tenant: String,
        user: String,
        /// Do not email the link; hand it over yourself.
        #[arg(long)]
        no_email: bool,
    },
}

#[derive(Subcommand)]
enum TemplateCmd {
    /// Print the template the tenant uses (its own, or the default).
    Show { tenant: String, kind: String },
    /// Replace parts of the tenant's template. Each part is test-rendered first; a part that
    /// does not render is refused with its line.
    Set {
        tenant: String,
        kind: String,
        #[arg(long)]
        subject: Option<String>,
        /// File with the HTML body.
        #[arg(long)]
        html_file: Option<std::path::PathBuf>,
        /// File with the plain-text body.
        #[arg(long)]
        text_file: Option<std::path::PathBuf>,
    },
    /// Go back to the default template.
    Reset { tenant: String, kind: String },
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Make a client. Prints its id, then its secret, each alone on a line: the secret is
    /// shown only this once. Token URL: <public url>/t/<tenant>/oauth/token.
    Create { tenant: String, name: String },
    /// List the clients: name, client id, scopes, created, last used. Never the secrets.
    List { tenant: String },
    /// Remove a client; its tokens stop working at once.
    Remove { tenant: String, name: String },
}

#[derive(Subcommand)]
enum IntrospectorCmd {
    /// Add one; the key set is fetched once now, so a wrong URL is refused here.
    Add {
        tenant: String,
        #[arg(long)]
        name: String,
        /// The slug of the tenant's identity provider whose people the tokens name.
        #[arg(long)]
        idp: String,
        /// The `iss` of the tokens.
        #[arg(long)]
        issuer: String,
        /// The `aud` the tokens must carry.
        #[arg(long)]
        audience: String,
        /// Where the IdP publishes its public keys.
        #[arg(long)]
        jwks_url: String,
        /// Accepted algorithms (public-key only).
        #[arg(long, value_delimiter = ',', default_value = "RS256")]
        algorithms: Vec<String>,
        /// The claim that names the person (Entra ID access tokens: oid).
        #[arg(long, default_value = "sub")]
        subject_claim: String,
    },
    /// List them: name, provider, issuer, audience, algorithms, key set URL.
    List { tenant: String },
    /// Remove one; its tokens stop working at once.
    Remove { tenant: String, name: String },
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
        Command::Tenant(cmd) => tenant(config, cmd),
        Command::Token(cmd) => token(config, cmd),
        Command::Idp(cmd) => idp_cmd(config, cmd),
        Command::Keys(cmd) => keys_cmd(config, cmd),
        Command::Introspector(cmd) => introspector_cmd(config, cmd),
        Command::Client(cmd) => client_cmd(config, cmd),
        Command::Invite {
            tenant,
            email,
            no_email,
            revoke,
            days,
        } => invite_cmd(config, &tenant, &email, no_email, revoke, days),
        Command::Invites { tenant } => {
            let state = AppState::open(config)?;
            let mut c = state.db.conn()?;
            for i in crate::people::invites::list(&mut c, &tenant)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    i.email, i.state, i.created_at, i.expires_at
                );
            }
            Ok(())
        }
        Command::Log {
            tenant,
            since,
            user,
            status,
            kind,
            limit,
        } => log_cmd(config, &tenant, since, user, status, kind, limit),
        Command::User(cmd) => user_cmd(config, cmd),
        Command::Template(cmd) => template_cmd(config, cmd),
        Command::AdminToken(cmd) => admin_token_cmd(config, cmd),
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
        server(state.clone(), listener)?.await?;
        state.email_stop.stop().await;
        state.activity.stop().await;
        tracing::info!("muster stopped");
        Ok::<_, std::io::Error>(())
    })?;
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
        TenantCmd::Limits {
            slug,
            per_credential,
            per_address,
        } => {
            tenants::set_limits(&mut c, &slug, per_credential, per_address)?;
            let (cred, addr) = tenants::limits(&mut c, &slug)?;
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

fn invite_cmd(
    config: Config,
    tenant: &str,
    email: &str,
    no_email: bool,
    revoke: bool,
    days: u16,
) -> anyhow::Result<()> {
    use crate::people::invites;
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    if revoke {
        invites::revoke(&mut c, tenant, email)?;
        eprintln!("the invitation of {email} to {tenant} is withdrawn");
        return Ok(());
    }
    let lifetime = time::Duration::days(i64::from(days));
    let i = invites::invite(
        &mut c,
        &state.config.public_url,
        tenant,
        email,
        !no_email,
        lifetime,
    )?;
    let t = tenants::by_slug(&mut c, tenant)?;
    audit(&mut c, &t, Some(&i.user_id), "invite");
    println!("{}", i.link);
    let what = if i.resent {
        "invited again (the earlier link no longer works)"
    } else {
        "invited"
    };
    let how = if no_email {
        "no email sent; hand the link over yourself".to_owned()
    } else {
        match &state.config.smtp_url {
            Some(_) => "the email goes out through muster serve".to_owned(),
            None => format!(
                "no SMTP server configured: muster serve writes the email to {}/",
                state.config.outbox_dir.display()
            ),
        }
    };
    eprintln!(
        "{email} {what} to {tenant} until {}; {how}",
        crate::db::time::human_time(i.expires_at)
    );
    Ok(())
}

fn user_cmd(config: Config, cmd: UserCmd) -> anyhow::Result<()> {
    use crate::people::{passwords, users};
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    let find = |c: &mut crate::db::DbConn, tenant: &str, user: &str| {
        let t = tenants::by_slug(c, tenant)?;
        let id = users::require(c, &t.id, user)?;
        Ok::<_, crate::error::Error>((t, id))
    };
    match cmd {
        UserCmd::Role { tenant, user, role } => {
            let (t, id) = find(&mut c, &tenant, &user)?;
            users::set_role(&mut c, &t.id, &id, role)?;
            audit(
                &mut c,
                &t,
                Some(&id),
                &format!("user role {}", role.as_str()),
            );
            eprintln!(
                "{user} is now {} of {tenant}",
                match role {
                    users::Role::Admin => "an admin",
                    users::Role::Member => "a member",
                }
            );
        }
        UserCmd::Deactivate { tenant, user } => {
            let (t, id) = find(&mut c, &tenant, &user)?;
            users::set_active(&mut c, &t.id, &id, false)?;
            audit(&mut c, &t, Some(&id), "user deactivate");
            eprintln!("{user} deactivated in {tenant}; their sessions have ended");
        }
        UserCmd::Reactivate { tenant, user } => {
            let (t, id) = find(&mut c, &tenant, &user)?;
            users::set_active(&mut c, &t.id, &id, true)?;
            audit(&mut c, &t, Some(&id), "user reactivate");
            eprintln!("{user} reactivated in {tenant}");
        }
        UserCmd::Delete { tenant, user } => {
            let (t, id) = find(&mut c, &tenant, &user)?;
            users::delete(&mut c, &t.id, &id)?;
            audit(&mut c, &t, Some(&id), "user delete");
            eprintln!("{user} deleted from {tenant}");
        }
        UserCmd::ResetPassword {
            tenant,
            user,
            no_email,
        } => {
            let (t, id) = find(&mut c, &tenant, &user)?;
            let link = passwords::start_reset(
                &mut c,
                &state.config.public_url,
                &tenant,
                &user,
                !no_email,
            )?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{user} cannot reset a password: they are deactivated, sign in only through \
                     an identity provider (they change their password there), or have no email \
                     address (use --no-email and hand the link over)"
                )
            })?;
            audit(&mut c, &t, Some(&id), "user reset-password");
            println!("{link}");
            eprintln!("password link for {user} in {tenant}: works once, for an hour");
        }
    }
    Ok(())
}

fn template_cmd(config: Config, cmd: TemplateCmd) -> anyhow::Result<()> {
    use crate::notify::{templates, Kind};
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    let kind = |k: &str| k.parse::<Kind>().map_err(anyhow::Error::msg);
    match cmd {
        TemplateCmd::Show { tenant, kind: k } => {
            let t = tenants::by_slug(&mut c, &tenant)?;
            let (tpl, own) = templates::current(&mut c, &t.id, kind(&k)?)?;
            let source = if own {
                "the tenant's own"
            } else {
                "the default"
            };
            eprintln!("{k} template of {tenant}: {source}");
            println!(
                "--- subject\n{}\n--- html\n{}\n--- text\n{}",
                tpl.subject.trim_end(),
                tpl.html.trim_end(),
                tpl.text.trim_end()
            );
        }
        TemplateCmd::Set {
            tenant,
            kind: k,
            subject,
            html_file,
            text_file,
        } => {
            let read = |p: Option<std::path::PathBuf>| {
                p.map(|p| {
                    std::fs::read_to_string(&p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
                })
                .transpose()
            };
            let change = templates::Change {
                subject,
                html: read(html_file)?,
                text: read(text_file)?,
            };
            if change.subject.is_none() && change.html.is_none() && change.text.is_none() {
                anyhow::bail!("give --subject, --html-file or --text-file");
            }
            templates::set(&mut c, &tenant, kind(&k)?, change)
                .map_err(|e| anyhow::anyhow!("template refused: {e}"))?;
            eprintln!("{k} template of {tenant} saved");
        }
        TemplateCmd::Reset { tenant, kind: k } => {
            templates::reset(&mut c, &tenant, kind(&k)?)?;
            eprintln!("{k} template of {tenant} is the default again");
        }
    }
    Ok(())
}

fn client_cmd(config: Config, cmd: ClientCmd) -> anyhow::Result<()> {
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        ClientCmd::Create { tenant, name } => {
            let made = crate::clients::create(&mut c, &tenant, &name)?;
            println!("{}\n{}", made.client_id, made.secret);
            eprintln!(
                "client {name} of {tenant} created; token URL {}/t/{tenant}/oauth/token, \
                 SCIM base URL {}/scim/v2/{tenant}; the secret is not shown again",
                state.config.public_url, state.config.public_url
            );
        }
        ClientCmd::List { tenant } => {
            for (name, id, scopes, created, used) in crate::clients::list(&mut c, &tenant)? {
                println!(
                    "{name}\t{id}\t{scopes}\t{created}\tlast used {}",
                    used.as_deref().unwrap_or("never")
                );
            }
        }
        ClientCmd::Remove { tenant, name } => {
            crate::clients::remove(&mut c, &tenant, &name)?;
            eprintln!("client {name} of {tenant} removed");
        }
    }
    Ok(())
}

fn keys_cmd(config: Config, cmd: KeysCmd) -> anyhow::Result<()> {
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
            for (kid, created, retired) in crate::keys::list(&mut c)? {
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
            let spec = match kind {
                IdpKindCmd::Oidc {
                    slug,
                    title,
                    issuer,
                    client_id,
                    client_secret,
                    scopes,
                } => idp::Spec::Oidc {
                    slug,
                    title,
                    issuer,
                    client_id,
                    client_secret,
                    scopes,
                },
                IdpKindCmd::Saml {
                    slug,
                    title,
                    metadata_file,
                    metadata_url,
                    allow_idp_initiated,
                    trust_email,
                } => idp::Spec::Saml {
                    slug,
                    title,
                    metadata_xml: metadata_file
                        .map(|f| {
                            std::fs::read_to_string(&f).map_err(|e| {
                                anyhow::anyhow!(
                                    "cannot read the metadata file {}: {e}",
                                    f.display()
                                )
                            })
                        })
                        .transpose()?,
                    metadata_url,
                    idp_initiated: allow_idp_initiated,
                    trust_email,
                },
            };
            // Refuse a provider muster cannot talk to before storing anything.
            let new = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(idp::prepare(spec))?;
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

fn admin_token_cmd(config: Config, cmd: AdminTokenCmd) -> anyhow::Result<()> {
    use crate::admin::tokens;
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    match cmd {
        AdminTokenCmd::Create { name } => {
            let token = tokens::create(&mut c, &name)?;
            println!("{token}");
            eprintln!(
                "admin token {name:?} created; use it as the bearer of {}/admin/v1; it will \
                 not be shown again",
                state.config.public_url
            );
        }
        AdminTokenCmd::List => {
            for (name, created, used) in tokens::list(&mut c)? {
                println!(
                    "{name}\tcreated {created}\tlast used {}",
                    used.as_deref().unwrap_or("never")
                );
            }
        }
        AdminTokenCmd::Revoke { name } => {
            tokens::revoke(&mut c, &name)?;
            eprintln!("admin token {name:?} revoked");
        }
    }
    Ok(())
}

fn introspector_cmd(config: Config, cmd: IntrospectorCmd) -> anyhow::Result<()> {
    use crate::sso::introspect;
    let state = AppState::open(config)?;
    match cmd {
        IntrospectorCmd::Add {
            tenant,
            name,
            idp,
            issuer,
            audience,
            jwks_url,
            algorithms,
            subject_claim,
        } => {
            let new = introspect::NewIntrospector {
                name,
                idp,
                issuer,
                audience,
                jwks_url,
                algorithms,
                subject_claim: Some(subject_claim),
            };
            let added = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(introspect::add(&state.db, &tenant, new))?;
            println!("{}", added.name);
            eprintln!(
                "{tenant} now accepts tokens from {} for audience {} on its userinfo and admin API",
                added.issuer, added.audience
            );
        }
        IntrospectorCmd::List { tenant } => {
            let mut c = state.db.conn()?;
            for (i, idp) in introspect::list(&mut c, &tenant)? {
                println!(
                    "{}\t{idp}\t{}\t{}\t{}\t{}",
                    i.name, i.issuer, i.audience, i.algorithms, i.jwks_url
                );
            }
        }
        IntrospectorCmd::Remove { tenant, name } => {
            let mut c = state.db.conn()?;
            introspect::remove(&mut c, &tenant, &name)?;
            eprintln!("introspector {name} of {tenant} removed");
        }
    }
    Ok(())
}

fn log_cmd(
    config: Config,
    tenant: &str,
    since: Option<String>,
    user: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    limit: i64,
) -> anyhow::Result<()> {
    use crate::activity;
    let state = AppState::open(config)?;
    let mut c = state.db.conn()?;
    let t = tenants::by_slug(&mut c, tenant)?;
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
            .map(|u| activity::user_filter(&mut c, &t.id, &u))
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

/// An admin action taken on the command line, in the tenant's activity log.
fn audit(c: &mut crate::db::DbConn, tenant: &tenants::Tenant, user_id: Option<&str>, what: &str) {
    let mut e = crate::activity::Entry::new("admin", &tenant.slug);
    e.actor = "command line".into();
    e.method = "CLI".into();
    e.path = format!("muster {what}");
    e.status = 200;
    e.user_id = user_id.map(str::to_owned);
    e.resource_id = e.user_id.clone();
    e.summary = "done".into();
    if let Err(err) = crate::activity::insert(c, &tenant.id, &e) {
        tracing::warn!(error = %err, "the action is done but not in the activity log");
    }
}
