//! Who a verified login is. An external identity (provider, subject) links to one user. At a
//! first login a provisioned user is found by userName, or by an email address that the IdP
//! verified, and linked; in `jit` mode an unknown person is created from the mapped claims;
//! otherwise the person is not provisioned. Never by an unverified email: that is how an
//! attacker's IdP account with the victim's address would take the victim's account over.

use super::idp::{Idp, Kind as IdpKind};
use super::Claims;
use crate::auth::identities;
use crate::db::schema::groups;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::people::invites::{self, Lookup};
use crate::people::users;
use crate::scim::schema::Kind;
use crate::scim::{patch, resource, store};
use crate::tenants::Mode;
use diesel::prelude::*;
use serde_json::{json, Value};

/// The result of resolving a login.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    SignedIn {
        user: UserId,
    },
    /// No user matches and the tenant's mode does not create one.
    NotProvisioned,
    /// The matching user is deactivated.
    Inactive,
    /// The match is already linked to another person at this provider.
    Conflict,
}

/// The result of accepting an invitation through an IdP sign-in.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteOutcome {
    SignedIn {
        user: UserId,
    },
    /// The link is used, expired, revoked or unknown.
    Dead(Lookup),
    /// The IdP did not vouch for the invited address.
    EmailMismatch {
        invited: String,
    },
    /// This IdP identity already belongs to another user.
    Conflict,
}

/// Accepts an invitation with an IdP sign-in: only when the IdP vouches for the invited
/// address (a verified email, equal ignoring case). The identity is linked to the invited
/// user, who becomes active.
///
/// # Errors
/// Database errors.
pub fn accept_invite(
    c: &mut DbConn,
    tenant: &TenantId,
    idp: &Idp,
    claims: &Claims,
    token: &str,
) -> Result<InviteOutcome, Error> {
    crate::db::write_tx(c, |c| {
        let found = invites::lookup(c, tenant, token)?;
        let Lookup::Valid { user_id, email, .. } = found else {
            return Ok(InviteOutcome::Dead(found));
        };
        let p = profile(idp, claims);
        let vouched = p.email_verified
            && p.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()));
        if !vouched {
            return Ok(InviteOutcome::EmailMismatch { invited: email });
        }
        match identities::linked(c, tenant, &idp.id, &claims.subject)? {
            Some(o) if o != user_id => return Ok(InviteOutcome::Conflict),
            Some(_) => {}
            None => identities::link(c, tenant, &idp.id, &claims.subject, &user_id)?,
        }
        Ok(match invites::accept(c, tenant, token, None)? {
            Some(user) => InviteOutcome::SignedIn { user },
            None => InviteOutcome::Dead(Lookup::Used),
        })
    })
}

/// The user-facing attributes of a login, after the provider's mapping.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
}

/// Applies the provider's mapping. userName falls back to the SAML NameID, then to a verified
/// email.
pub fn profile(idp: &Idp, claims: &Claims) -> Profile {
    let m = &idp.mapping;
    let email = claims.first(m, "email");
    let email_verified = claims.email_verified && email.is_some();
    let mut user_name = claims.first(m, "userName");
    if user_name.is_none() && idp.kind == IdpKind::Saml {
        user_name.clone_from(&claims.name_id);
    }
    if user_name.is_none() && email_verified {
        user_name.clone_from(&email);
    }
    Profile {
        user_name,
        email,
        email_verified,
        given_name: claims.first(m, "givenName"),
        family_name: claims.first(m, "familyName"),
        display_name: claims.first(m, "displayName"),
        groups: claims
            .mapped(m, "groups")
            .into_iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect(),
    }
}

/// One attempt at resolving: two first logins of one person can race to create them, and
/// the one that loses is told so, to look again.
enum Attempt {
    Done(Outcome),
    Raced,
}

/// Resolves a login to a user of the tenant, linking or creating as the rules allow.
///
/// # Errors
/// Database errors; a JIT creation the SCIM rules refuse.
pub fn resolve(
    c: &mut DbConn,
    tenant: &TenantId,
    mode: Mode,
    idp: &Idp,
    claims: &Claims,
) -> Result<Outcome, Error> {
    match attempt(c, tenant, mode, idp, claims)? {
        Attempt::Done(o) => Ok(o),
        // The winner has made and linked the person by now: this finds them.
        Attempt::Raced => match attempt(c, tenant, mode, idp, claims)? {
            Attempt::Done(o) => Ok(o),
            Attempt::Raced => Err(Error::Conflict(
                "another sign-in is creating this person; try again".into(),
            )),
        },
    }
}

fn attempt(
    c: &mut DbConn,
    tenant: &TenantId,
    mode: Mode,
    idp: &Idp,
    claims: &Claims,
) -> Result<Attempt, Error> {
    if let Some(user) = identities::linked(c, tenant, &idp.id, &claims.subject)? {
        match users::active(c, tenant, &user)? {
            Some(true) => {
                identities::touch(c, &idp.id, &claims.subject)?;
                return Ok(Attempt::Done(Outcome::SignedIn { user }));
            }
            Some(false) => return Ok(Attempt::Done(Outcome::Inactive)),
            // The user was deleted: the link is stale.
            None => identities::unlink(c, &idp.id, &claims.subject)?,
        }
    }
    let p = profile(idp, claims);
    let found = match &p.user_name {
        Some(name) => users::by_user_name(c, tenant, name)?,
        None => None,
    };
    let found = match (found, &p.email) {
        (Some(id), _) => Some(id),
        (None, Some(email)) if p.email_verified => users::by_email(c, tenant, email)?,
        _ => None,
    };
    let user = match found {
        Some(user) => {
            if users::active(c, tenant, &user)? != Some(true) {
                // An invited person signing in at an IdP that vouches for the invited
                // address accepts the invitation, as the link's IdP button would.
                let invited = match (&p.email, p.email_verified) {
                    (Some(email), true) => invites::accept_pending(c, tenant, &user, email)?,
                    _ => false,
                };
                if !invited {
                    return Ok(Attempt::Done(Outcome::Inactive));
                }
            }
            // One person per user and provider: a second subject claiming the same account
            // is refused rather than silently sharing it.
            let other = identities::subject_of(c, &idp.id, &user)?;
            if other.is_some_and(|s| s != claims.subject) {
                return Ok(Attempt::Done(Outcome::Conflict));
            }
            user
        }
        None if mode == Mode::Jit => match create(c, tenant, claims, &p) {
            Ok(user) => user,
            Err(Error::Taken(_)) => return Ok(Attempt::Raced),
            Err(e) => return Err(e),
        },
        None => return Ok(Attempt::Done(Outcome::NotProvisioned)),
    };
    identities::link(c, tenant, &idp.id, &claims.subject, &user)?;
    Ok(Attempt::Done(Outcome::SignedIn { user }))
}

/// Creates a user from the profile (JIT) and adds them to the groups the IdP names, creating
/// groups that do not exist yet. A userName taken meanwhile is [`Error::Taken`].
fn create(
    c: &mut DbConn,
    tenant: &TenantId,
    claims: &Claims,
    p: &Profile,
) -> Result<UserId, Error> {
    let user_name = p
        .user_name
        .clone()
        .unwrap_or_else(|| claims.subject.clone());
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
    });
    let mut name = serde_json::Map::new();
    if let Some(g) = &p.given_name {
        name.insert("givenName".into(), Value::String(g.clone()));
    }
    if let Some(f) = &p.family_name {
        name.insert("familyName".into(), Value::String(f.clone()));
    }
    if !name.is_empty() {
        doc["name"] = Value::Object(name);
    }
    if let Some(d) = &p.display_name {
        doc["displayName"] = Value::String(d.clone());
    }
    // Only a verified address is recorded: a later login may be linked by it.
    if let (Some(e), true) = (&p.email, p.email_verified) {
        doc["emails"] = json!([{"value": e, "type": "work", "primary": true}]);
    }
    let incoming = resource::normalize(Kind::User, &doc)?;
    let stamp = now();
    let user = store::create(c, tenant, Kind::User, incoming, None, &stamp)?;
    for group in &p.groups {
        let existing: Option<String> = groups::table
            .filter(groups::tenant_id.eq(tenant))
            .filter(groups::display_name.eq(group))
            .select(groups::id)
            .first(c)
            .optional()?;
        let add = patch::parse_ops(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": &user.id}]}],
        }))?;
        match existing {
            Some(gid) => {
                let key = store::Key {
                    tenant,
                    kind: Kind::Group,
                    id: &gid,
                };
                store::patch(c, key, &add, None, &store::Precondition::default(), &stamp)?;
            }
            None => {
                let mut incoming = resource::normalize(
                    Kind::Group,
                    &json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": group,
                    }),
                )?;
                incoming.members = Some(vec![user.id.clone()]);
                store::create(c, tenant, Kind::Group, incoming, None, &stamp)?;
            }
        }
    }
    Ok(UserId::from(user.id))
}
