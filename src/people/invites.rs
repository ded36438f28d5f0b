//! Invitations. An invite creates (or reuses) an inactive user with the address, and a random
//! single-use token, stored as a hash, that expires (7 days unless told otherwise). The email
//! is rendered first, then goes to the outbox in the transaction that stores the invitation. Accepting (a password, or a sign-in at the
//! tenant's IdP whose verified email matches) activates the user. Inviting again issues a new
//! link and revokes the old one.

use super::users;
use crate::auth::secret;
use crate::db::schema::{invites as inv, users as u};
use crate::db::time::{format_time, human_time, now};
use crate::db::{write_tx, DbConn};
use crate::error::Error;
use crate::ids::{TenantId, TenantSlug, UserId};
use crate::notify::{outbox, templates, Kind as MailKind, Rendered};
use crate::scim::resource;
use crate::scim::schema::Kind;
use crate::scim::store;
use crate::tenants::Tenant;
use diesel::prelude::*;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// How long an invitation link works unless the admin says otherwise.
pub const LIFETIME: Duration = Duration::days(7);

/// The result of an invite: the link is shown once, here, and is in the email.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user_id: UserId,
    pub link: String,
    pub expires_at: OffsetDateTime,
    /// The outbox id of the email, when one was sent.
    pub email_id: Option<String>,
    /// An earlier pending invitation was replaced.
    pub resent: bool,
}

fn check_email(email: &str) -> Result<String, Error> {
    let email = email.trim();
    email
        .parse::<lettre::Address>()
        .map_err(|e| Error::invalid(format!("{email:?} is not an email address: {e}")))?;
    Ok(email.to_owned())
}

/// The link of a token.
pub fn link(public_url: &str, tenant: &TenantSlug, token: &str) -> String {
    format!(
        "{}/t/{tenant}/invite/{token}",
        public_url.trim_end_matches('/')
    )
}

/// An invitation ready to be stored. Its secret, link and email exist before the write
/// transaction, so the email (from the tenant's own template) is rendered outside it.
pub struct Draft {
    email: String,
    token: String,
    link: String,
    expires_at: OffsetDateTime,
    mail: Option<Rendered>,
}

/// Prepares an invitation of `email`, with its email rendered when `send_email`. Reads only.
///
/// # Errors
/// A bad address; database errors.
pub fn draft(
    c: &mut DbConn,
    public_url: &str,
    t: &Tenant,
    email: &str,
    send_email: bool,
    lifetime: Duration,
) -> Result<Draft, Error> {
    let email = check_email(email)?;
    let token = secret::generate("msi_");
    let link = link(public_url, &t.slug, &token);
    let expires_at = OffsetDateTime::now_utc() + lifetime;
    let mail = if send_email {
        let values = json!({
            "tenant_name": t.name,
            "link": link,
            "expires_at": human_time(expires_at),
            "email": email,
            "user_name": email,
        });
        Some(templates::render_for(c, &t.id, MailKind::Invite, &values)?)
    } else {
        None
    };
    Ok(Draft {
        email,
        token,
        link,
        expires_at,
        mail,
    })
}

/// Drafts and stores an invitation on one connection (the CLI's way; a server drafts on a
/// read connection and stores on the write one).
///
/// # Errors
/// Those of [`draft`] and [`store`].
pub fn invite(
    c: &mut DbConn,
    public_url: &str,
    t: &Tenant,
    email: &str,
    send_email: bool,
    lifetime: Duration,
) -> Result<Invited, Error> {
    let d = draft(c, public_url, t, email, send_email, lifetime)?;
    store(c, t, d)
}

/// Invites the drafted address to the tenant (or re-invites a person whose invitation is
/// still pending), in one transaction with its email.
///
/// # Errors
/// An address that already belongs to an active or deactivated (not invited) user.
pub fn store(c: &mut DbConn, t: &Tenant, d: Draft) -> Result<Invited, Error> {
    let Draft {
        email,
        token,
        link,
        expires_at,
        mail,
    } = d;
    write_tx(c, |c| {
        let existing = users::find(c, &t.id, &email)?;
        let mut resent = false;
        let user_id = match existing {
            Some(id) => {
                let active: bool = u::table.find(&id).select(u::active).first(c)?;
                let pending = inv::table
                    .filter(inv::user_id.eq(&id))
                    .filter(inv::accepted_at.is_null())
                    .filter(inv::revoked_at.is_null())
                    .count()
                    .get_result::<i64>(c)?
                    > 0;
                if active {
                    return Err(Error::Conflict(format!(
                        "{email} already has an active account in {}",
                        t.slug
                    )));
                }
                if !pending {
                    return Err(Error::Conflict(format!(
                        "{email} has a deactivated account in {}; reactivate it \
                         (muster user reactivate) instead of inviting",
                        t.slug
                    )));
                }
                revoke_pending(c, &id)?;
                resent = true;
                id
            }
            None => {
                let doc = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": email,
                    "emails": [{"value": email, "primary": true}],
                    "active": false,
                });
                let incoming = resource::normalize(Kind::User, &doc).map_err(Error::from)?;
                UserId::from(
                    store::create(c, &t.id, Kind::User, incoming, None, &now())
                        .map_err(Error::from)?
                        .id,
                )
            }
        };
        let created = OffsetDateTime::now_utc();
        diesel::insert_into(inv::table)
            .values((
                inv::id.eq(uuid::Uuid::new_v4().to_string()),
                inv::tenant_id.eq(&t.id),
                inv::user_id.eq(&user_id),
                inv::email.eq(&email),
                inv::token_hash.eq(secret::hash(&token)),
                inv::created_at.eq(format_time(created)),
                inv::expires_at.eq(format_time(expires_at)),
            ))
            .execute(c)?;
        let email_id = match &mail {
            Some(m) => Some(outbox::enqueue(
                c,
                &t.id,
                MailKind::Invite,
                &email,
                m,
                expires_at,
            )?),
            None => None,
        };
        Ok(Invited {
            user_id,
            link,
            expires_at,
            email_id,
            resent,
        })
    })
}

fn revoke_pending(c: &mut DbConn, user: &UserId) -> Result<usize, Error> {
    Ok(diesel::update(
        inv::table
            .filter(inv::user_id.eq(user))
            .filter(inv::accepted_at.is_null())
            .filter(inv::revoked_at.is_null()),
    )
    .set(inv::revoked_at.eq(now()))
    .execute(c)?)
}

/// Revokes a person's pending invitation; their inactive user stays, so a new invite can
/// follow.
///
/// # Errors
/// Unknown person, or nothing pending.
pub fn revoke(c: &mut DbConn, tenant: &TenantId, email: &str) -> Result<(), Error> {
    let id = users::require(c, tenant, email)?;
    if revoke_pending(c, &id)? == 0 {
        return Err(Error::NotFound(format!(
            "{email} has no pending invitation in this tenant"
        )));
    }
    Ok(())
}

/// One row of the invitation list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub email: String,
    pub created_at: String,
    pub expires_at: String,
    /// pending, accepted, expired or revoked.
    pub state: &'static str,
}

/// email, created, expires, accepted, revoked.
type ListRow = (String, String, String, Option<String>, Option<String>);

/// id, user, email, expires, accepted, revoked.
type LookupRow = (
    String,
    UserId,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The tenant's invitations, newest first.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<Listed>, Error> {
    let now = now();
    let rows: Vec<ListRow> = inv::table
        .filter(inv::tenant_id.eq(tenant))
        .order(inv::created_at.desc())
        .select((
            inv::email,
            inv::created_at,
            inv::expires_at,
            inv::accepted_at,
            inv::revoked_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(email, created_at, expires_at, accepted, revoked)| {
            let state = if accepted.is_some() {
                "accepted"
            } else if revoked.is_some() {
                "revoked"
            } else if expires_at <= now {
                "expired"
            } else {
                "pending"
            };
            Listed {
                email,
                created_at,
                expires_at,
                state,
            }
        })
        .collect())
}

/// What a link leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Valid {
        invite_id: String,
        user_id: UserId,
        email: String,
    },
    Unknown,
    Used,
    Expired,
    Revoked,
}

/// Looks a token up without using it.
///
/// # Errors
/// Database errors.
pub fn lookup(c: &mut DbConn, tenant: &TenantId, token: &str) -> Result<Lookup, Error> {
    let row: Option<LookupRow> = inv::table
        .filter(inv::token_hash.eq(secret::hash(token)))
        .filter(inv::tenant_id.eq(tenant))
        .select((
            inv::id,
            inv::user_id,
            inv::email,
            inv::expires_at,
            inv::accepted_at,
            inv::revoked_at,
        ))
        .first(c)
        .optional()?;
    Ok(match row {
        None => Lookup::Unknown,
        Some((_, _, _, _, Some(_), _)) => Lookup::Used,
        Some((_, _, _, _, _, Some(_))) => Lookup::Revoked,
        Some((_, _, _, exp, _, _)) if exp <= now() => Lookup::Expired,
        Some((invite_id, user_id, email, ..)) => Lookup::Valid {
            invite_id,
            user_id,
            email,
        },
    })
}

/// Accepts the pending, unexpired invitation of a user for `email` (case-insensitive), for
/// a sign-in at an IdP that vouched for that address without going through the link.
/// Returns whether there was one.
///
/// # Errors
/// Database and store errors.
pub fn accept_pending(
    c: &mut DbConn,
    tenant: &TenantId,
    user: &UserId,
    email: &str,
) -> Result<bool, Error> {
    write_tx(c, |c| {
        let pending: Vec<(String, String)> = inv::table
            .filter(inv::tenant_id.eq(tenant))
            .filter(inv::user_id.eq(user))
            .filter(inv::accepted_at.is_null())
            .filter(inv::revoked_at.is_null())
            .filter(inv::expires_at.gt(now()))
            .select((inv::id, inv::email))
            .load(c)?;
        let Some((id, _)) = pending
            .into_iter()
            .find(|(_, e)| e.trim().eq_ignore_ascii_case(email.trim()))
        else {
            return Ok(false);
        };
        let won = diesel::update(inv::table.find(&id).filter(inv::accepted_at.is_null()))
            .set(inv::accepted_at.eq(now()))
            .execute(c)?;
        if won == 1 {
            users::set_active(c, tenant, user, true)?;
        }
        Ok(won == 1)
    })
}

/// Accepts a valid invitation inside the caller's transaction: marks it used (only once, even
/// when two requests race), stores the password hash if one was chosen, and activates the
/// user. Returns the user id, or `None` when the link was no longer valid.
///
/// # Errors
/// Database and store errors.
pub fn accept(
    c: &mut DbConn,
    tenant: &TenantId,
    token: &str,
    password_hash: Option<String>,
) -> Result<Option<UserId>, Error> {
    write_tx(c, |c| {
        let Lookup::Valid {
            invite_id, user_id, ..
        } = lookup(c, tenant, token)?
        else {
            return Ok(None);
        };
        let won = diesel::update(
            inv::table
                .filter(inv::id.eq(&invite_id))
                .filter(inv::accepted_at.is_null())
                .filter(inv::revoked_at.is_null()),
        )
        .set(inv::accepted_at.eq(now()))
        .execute(c)?;
        if won == 0 {
            return Ok(None);
        }
        if let Some(h) = password_hash {
            diesel::update(u::table.find(&user_id))
                .set(u::password_hash.eq(h))
                .execute(c)?;
        }
        users::set_active(c, tenant, &user_id, true)?;
        Ok(Some(user_id))
    })
}
