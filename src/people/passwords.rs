//! Passwords: sign-in and reset links. Hashing, checking and the policy are in
//! `auth::password`.
//!
//! Sign-in attempts are counted per account and per client address ([`super::throttle`]):
//! past a limit, the answer is 429 with Retry-After before any hash is computed, which keeps
//! guessing slow and the CPUs free.

use super::{throttle, users};
use crate::auth::password::Hasher;
use crate::auth::secret;
use crate::db::schema::{password_resets as pr, users as u};
use crate::db::time::{format_time, human_time, now};
use crate::db::{write_tx, Db, DbConn};
use crate::error::Error;
use crate::ids::{TenantId, TenantSlug, UserId};
use crate::notify::{outbox, templates, Kind as MailKind, Rendered};
use crate::tenants::Tenant;
use diesel::prelude::*;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// Attempts per account within a window before sign-in is refused until it ends.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Attempts per client address within a window (many accounts guessed from one place);
/// a successful sign-in gives its attempt back.
pub const ADDRESS_LIMIT: i32 = 30;

/// How long a reset link works.
pub const RESET_LIFETIME: Duration = Duration::hours(1);

/// What a password sign-in needs to know about a login name: the user, their hash, and
/// whether they may sign in at all. Unknown names give `None` (the caller still hashes).
///
/// # Errors
/// Database errors.
pub fn credentials(
    c: &mut DbConn,
    tenant: &TenantId,
    login: &str,
) -> Result<Option<(UserId, Option<String>, bool)>, Error> {
    let Some(id) = users::find(c, tenant, login)? else {
        return Ok(None);
    };
    let (hash, active): (Option<String>, bool) = u::table
        .find(&id)
        .select((u::password_hash, u::active))
        .first(c)?;
    Ok(Some((id, hash, active)))
}

/// How a password sign-in ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SignIn {
    /// Too many failures for the account or the address: wait this many seconds.
    Throttled(i64),
    /// The name, the password, or the account's state is not right; which, nobody is told.
    Wrong,
    SignedIn(UserId),
}

/// A password sign-in to the tenant from `address`. Refused before any hash is computed when
/// the account or the address is over its limit; an unknown name is checked against a dummy
/// hash, so every wrong answer takes as long.
///
/// # Errors
/// Database errors.
pub async fn sign_in(
    db: &Db,
    hasher: &Hasher,
    tenant: &TenantId,
    login: &str,
    password: String,
    address: &str,
) -> Result<SignIn, Error> {
    let (tid, l) = (tenant.clone(), login.to_owned());
    let (user, hash, active) = match db.run(move |c| credentials(c, &tid, &l)).await? {
        Some((id, h, a)) => (Some(id), h, a),
        None => (None, None, false),
    };
    // Counted before the check, against the person (whichever of their names was typed).
    let account = throttle::account_key(tenant, user.as_ref(), login);
    let address = throttle::address_key(address);
    let keys = vec![
        (account.clone(), ACCOUNT_LIMIT),
        (address.clone(), ADDRESS_LIMIT),
    ];
    if let Some(secs) = db.run_write(move |c| throttle::attempt(c, &keys)).await? {
        crate::ops::login("password", "throttled");
        return Ok(SignIn::Throttled(secs));
    }
    let ok = hasher.verify(hash, password).await && active;
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!(tenant = %tenant, "password sign-in failed");
        crate::ops::login("password", "failed");
        return Ok(SignIn::Wrong);
    };
    db.run_write(move |c| throttle::succeeded(c, &account, &address))
        .await?;
    tracing::info!(tenant = %tenant, user = %user, "signed in with a password");
    crate::ops::login("password", "success");
    Ok(SignIn::SignedIn(user))
}

/// The link of a reset token.
pub fn reset_link(public_url: &str, tenant: &TenantSlug, token: &str) -> String {
    format!(
        "{}/t/{tenant}/reset/{token}",
        public_url.trim_end_matches('/')
    )
}

/// A reset link ready to be stored, with its email rendered (outside the write transaction).
pub struct ResetDraft {
    user_id: UserId,
    token: String,
    link: String,
    expires: OffsetDateTime,
    mail: Option<(String, Rendered)>,
}

/// Prepares a reset for the person behind `login`: a single-use link, with its email rendered
/// when `send_email`. Only active users who sign in with a password get one (people who sign
/// in through SSO reset at their IdP). `None` means no link is made; a self-service caller
/// answers the same either way. Reads only.
///
/// # Errors
/// Database errors.
pub fn draft_reset(
    c: &mut DbConn,
    public_url: &str,
    t: &Tenant,
    login: &str,
    send_email: bool,
) -> Result<Option<ResetDraft>, Error> {
    let Some((user_id, hash, active)) = credentials(c, &t.id, login)? else {
        return Ok(None);
    };
    if hash.is_none() || !active {
        return Ok(None);
    }
    let user = users::person(c, &t.id, &user_id)?.unwrap_or_default();
    let email = match (send_email, user.email) {
        (true, None) => return Ok(None),
        (true, Some(e)) => Some(e),
        (false, _) => None,
    };
    let token = secret::generate("msr_");
    let link = reset_link(public_url, &t.slug, &token);
    let expires = OffsetDateTime::now_utc() + RESET_LIFETIME;
    let mail = match email {
        Some(email) => {
            let values: Value = json!({
                "tenant_name": t.name,
                "link": link,
                "expires_at": human_time(expires),
                "email": email,
                "user_name": user.user_name.unwrap_or_default(),
            });
            let rendered = templates::render_for(c, &t.id, MailKind::PasswordReset, &values)?;
            Some((email, rendered))
        }
        None => None,
    };
    Ok(Some(ResetDraft {
        user_id,
        token,
        link,
        expires,
        mail,
    }))
}

/// Stores a drafted reset and queues its email, in one transaction; returns the link.
///
/// # Errors
/// Database errors.
pub fn store_reset(c: &mut DbConn, t: &Tenant, d: ResetDraft) -> Result<String, Error> {
    write_tx(c, |c| {
        diesel::insert_into(pr::table)
            .values((
                pr::token_hash.eq(secret::hash(&d.token)),
                pr::tenant_id.eq(&t.id),
                pr::user_id.eq(&d.user_id),
                pr::created_at.eq(format_time(OffsetDateTime::now_utc())),
                pr::expires_at.eq(format_time(d.expires)),
            ))
            .execute(c)?;
        if let Some((email, rendered)) = &d.mail {
            outbox::enqueue(
                c,
                &t.id,
                MailKind::PasswordReset,
                email,
                rendered,
                d.expires,
            )?;
        }
        Ok(d.link.clone())
    })
}

/// Drafts and stores a reset on one connection (the CLI's way).
///
/// # Errors
/// Database errors.
pub fn start_reset(
    c: &mut DbConn,
    public_url: &str,
    t: &Tenant,
    login: &str,
    send_email: bool,
) -> Result<Option<String>, Error> {
    match draft_reset(c, public_url, t, login, send_email)? {
        Some(d) => store_reset(c, t, d).map(Some),
        None => Ok(None),
    }
}

/// Whether a reset token can still be used; its user id when it can.
///
/// # Errors
/// Database errors.
pub fn reset_user(c: &mut DbConn, tenant: &TenantId, token: &str) -> Result<Option<UserId>, Error> {
    Ok(pr::table
        .find(secret::hash(token))
        .filter(pr::tenant_id.eq(tenant))
        .filter(pr::used_at.is_null())
        .filter(pr::expires_at.gt(now()))
        .select(pr::user_id)
        .first(c)
        .optional()?)
}

/// Uses a reset token: sets the new hash, ends every session of the user, and makes every
/// other reset link of theirs useless. `None` when the link was no longer valid.
///
/// # Errors
/// Database errors.
pub fn finish_reset(
    c: &mut DbConn,
    tenant: &TenantId,
    token: &str,
    hash: String,
) -> Result<Option<UserId>, Error> {
    write_tx(c, |c| {
        let Some(user_id) = reset_user(c, tenant, token)? else {
            return Ok(None);
        };
        let active: bool = u::table.find(&user_id).select(u::active).first(c)?;
        let stamp = now();
        let won = diesel::update(
            pr::table
                .find(secret::hash(token))
                .filter(pr::used_at.is_null()),
        )
        .set(pr::used_at.eq(&stamp))
        .execute(c)?;
        if won == 0 || !active {
            return Ok(None);
        }
        diesel::update(u::table.find(&user_id))
            .set(u::password_hash.eq(hash))
            .execute(c)?;
        crate::auth::password_changed(c, &user_id)?;
        Ok(Some(user_id))
    })
}
