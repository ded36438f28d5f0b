//! `muster client`, `muster keys` and `muster admin-token`: OAuth clients for SCIM, the keys
//! muster signs tokens with, and the platform admin tokens.

use super::{open, tenant_named};
use crate::auth::admin_tokens;
use crate::config::Config;
use crate::issuer::{clients, keys};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ClientCmd {
    /// Make a client. Prints its id, then its secret, each alone on a line: the secret is
    /// shown only this once. Token URL: <public url>/t/<tenant>/oauth/token.
    Create { tenant: String, name: String },
    /// List the clients: name, client id, scopes, created, last used. Never the secrets.
    List { tenant: String },
    /// Remove a client; its tokens stop working at once.
    Remove { tenant: String, name: String },
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Sign with a new key from now on. The old one stays published for an hour, so tokens it
    /// signed keep verifying until they expire. Prints the new key id.
    Rotate,
    /// List the keys: id, created, retired (empty while current).
    List,
}

#[derive(Subcommand)]
pub enum SecretKeyCmd {
    /// Print a new random key, for MUSTER_SECRET_KEY.
    Generate,
    /// Seal every stored secret under the current key. With MUSTER_SECRET_KEY: set the new key
    /// there and the old one in MUSTER_SECRET_KEY_PREVIOUS, run this, then drop the old key.
    /// With the SQLite key file: a new key replaces the file.
    Rotate,
}

#[derive(Subcommand)]
pub enum AdminTokenCmd {
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

pub fn client(config: Config, cmd: ClientCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    match cmd {
        ClientCmd::Create { tenant, name } => {
            let t = tenant_named(&mut c, &tenant)?;
            let made = clients::create(&mut c, &t, &name)?;
            println!("{}\n{}", made.client_id, made.secret);
            eprintln!(
                "client {name} of {tenant} created; token URL {}/t/{tenant}/oauth/token, \
                 SCIM base URL {}/scim/v2/{tenant}; the secret is not shown again",
                state.config.public_url, state.config.public_url
            );
        }
        ClientCmd::List { tenant } => {
            let t = tenant_named(&mut c, &tenant)?;
            for l in clients::list(&mut c, &t.id)? {
                println!(
                    "{}\t{}\t{}\t{}\tlast used {}",
                    l.name,
                    l.client_id,
                    l.scopes,
                    l.created_at,
                    l.last_used_at.as_deref().unwrap_or("never")
                );
            }
        }
        ClientCmd::Remove { tenant, name } => {
            let t = tenant_named(&mut c, &tenant)?;
            clients::remove(&mut c, &t.id, &name)?;
            eprintln!("client {name} of {tenant} removed");
        }
    }
    Ok(())
}

pub fn keys(config: Config, cmd: KeysCmd) -> anyhow::Result<()> {
    let (_, mut c) = open(config)?;
    match cmd {
        KeysCmd::Rotate => {
            let kid = keys::rotate(&mut c)?;
            keys::prune(&mut c)?;
            println!("{kid}");
            eprintln!(
                "signing with key {kid} from now on; the previous key stays published for an hour"
            );
        }
        KeysCmd::List => {
            for (kid, created, retired) in keys::list(&mut c)? {
                println!("{kid}\t{created}\t{}", retired.unwrap_or_default());
            }
        }
    }
    Ok(())
}

pub fn secret_key(config: Config, cmd: SecretKeyCmd) -> anyhow::Result<()> {
    match cmd {
        SecretKeyCmd::Generate => println!("{}", crate::vault::Key::generate().encoded()),
        SecretKeyCmd::Rotate => {
            let file = crate::vault::begin_file_rotation(&config)?;
            let current = crate::vault::load(&config)?.current_id();
            // Opening the state seals every secret under the current key.
            let (_, mut c) = open(config.clone())?;
            crate::state::reseal(&mut c)?;
            if file {
                crate::vault::finish_file_rotation(&config)?;
            }
            println!("{current}");
            eprintln!("every stored secret is sealed under key {current}");
        }
    }
    Ok(())
}

pub fn admin_token(config: Config, cmd: AdminTokenCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    match cmd {
        AdminTokenCmd::Create { name } => {
            let token = admin_tokens::create(&mut c, &name)?;
            println!("{token}");
            eprintln!(
                "admin token {name:?} created; use it as the bearer of {}/admin/v1; it will \
                 not be shown again",
                state.config.public_url
            );
        }
        AdminTokenCmd::List => {
            for t in admin_tokens::list(&mut c)? {
                println!(
                    "{}\tcreated {}\tlast used {}",
                    t.name,
                    t.created_at,
                    t.last_used_at.as_deref().unwrap_or("never")
                );
            }
        }
        AdminTokenCmd::Revoke { name } => {
            admin_tokens::revoke(&mut c, &name)?;
            eprintln!("admin token {name:?} revoked");
        }
    }
    Ok(())
}
