//! `muster invite`, `muster invites` and `muster user`: invitations and the admin's actions
//! on one person, each written to the tenant's activity log.

use super::{audit, open, tenant_named};
use crate::config::Config;
use crate::db::time::human_time;
use crate::db::DbConn;
use crate::error::Error;
use crate::people::{invites, passwords, users};
use clap::{Args, Subcommand};

/// `muster invite`.
#[derive(Args)]
pub struct InviteArgs {
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
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Give a user a role: admin (administers the tenant through the admin API) or member.
    Role {
        tenant: String,
        user: String,
        role: users::Role,
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

pub fn invite(config: Config, args: InviteArgs) -> anyhow::Result<()> {
    let InviteArgs {
        tenant,
        email,
        no_email,
        revoke,
        days,
    } = args;
    let (state, mut c) = open(config)?;
    let t = tenant_named(&mut c, &tenant)?;
    if revoke {
        invites::revoke(&mut c, &t.id, &email)?;
        eprintln!("the invitation of {email} to {tenant} is withdrawn");
        return Ok(());
    }
    let lifetime = time::Duration::days(i64::from(days));
    let i = invites::invite(
        &mut c,
        &state.config.public_url,
        &t,
        &email,
        !no_email,
        lifetime,
    )?;
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
        human_time(i.expires_at)
    );
    Ok(())
}

/// `muster invites`: the tenant's invitations.
pub fn invites(config: Config, slug: &str) -> anyhow::Result<()> {
    let (_, mut c) = open(config)?;
    let t = tenant_named(&mut c, slug)?;
    for i in invites::list(&mut c, &t.id)? {
        println!(
            "{}\t{}\t{}\t{}",
            i.email, i.state, i.created_at, i.expires_at
        );
    }
    Ok(())
}

pub fn user(config: Config, cmd: UserCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    let find = |c: &mut DbConn, slug: &str, user: &str| {
        let t = tenant_named(c, slug)?;
        let id = users::require(c, &t.id, user)?;
        Ok::<_, Error>((t, id))
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
            let link =
                passwords::start_reset(&mut c, &state.config.public_url, &t, &user, !no_email)?
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
