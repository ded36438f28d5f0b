//! Who a verified login is. An external identity (provider, subject) links to one user. At a
//! first login a provisioned user is found by the one rule the provider's admin chose (a
//! verified email, the userName, or an immutable claim against the SCIM externalId) and
//! linked; in `jit` mode an unknown person is created from the mapped claims; otherwise the
//! person is not provisioned. Nothing else links: an IdP account that can choose its username
//! or an unverified address would otherwise take over the account of whoever already has it.

use super::idp::{Idp, Kind as IdpKind, LinkBy};
use super::Claims;
use crate::auth::identities;
use crate::db::schema::groups;
use crate::db::text::same_identity;
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
    /// A JIT user would be named after an address the provider did not verify.
    EmailUnverified,
    /// A JIT user would take a userName an unlinked user already has (named).
    NameTaken(String),
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
                .is_some_and(|e| same_identity(e, email.trim()));
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
    /// The mapping takes the userName from an address the provider did not verify.
    pub user_name_unverified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
}

/// Applies the provider's mapping. An address counts as verified when the provider says so or
/// its admin trusts all of them. A userName taken from an email claim counts only when that
/// address is verified; otherwise it falls back to the SAML NameID, then to a verified email.
pub fn profile(idp: &Idp, claims: &Claims) -> Profile {
    let m = &idp.mapping;
    let email = claims.first(m, "email");
    let email_verified = (claims.email_verified || idp.linking.trust_email) && email.is_some();
    let from_email = |claim: &str| {
        claim == "email"
            || m.get("email")
                .is_some_and(|names| names.iter().any(|n| n == claim))
    };
    let mut user_name_unverified = false;
    let mut user_name = match claims.first_named(m, "userName") {
        Some((claim, _)) if from_email(claim) && !email_verified => {
            user_name_unverified = true;
            None
        }
        found => found.map(|(_, v)| v),
    };
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
        user_name_unverified,
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
        // A racing first sign-in of the same person has made and linked them by now: this
        // finds them. If it does not, the userName belongs to someone this sign-in may not
        // link to.
        Attempt::Raced => match attempt(c, tenant, mode, idp, claims)? {
            Attempt::Done(o) => Ok(o),
            Attempt::Raced => Ok(Outcome::NameTaken(
                profile(idp, claims)
                    .user_name
                    .unwrap_or_else(|| claims.subject.clone()),
            )),
        },
    }
}

/// The existing user the provider's linking rule finds, if any.
fn linkable(
    c: &mut DbConn,
    tenant: &TenantId,
    idp: &Idp,
    claims: &Claims,
    p: &Profile,
) -> Result<Option<UserId>, Error> {
    match &idp.linking.by {
        LinkBy::Email => match (&p.email, p.email_verified) {
            (Some(email), true) => users::linkable_by_email(c, tenant, email),
            _ => Ok(None),
        },
        LinkBy::UserName => match &p.user_name {
            Some(name) => users::linkable_by_user_name(c, tenant, name),
            None => Ok(None),
        },
        LinkBy::Claim(claim) => match claims.value_of(claim) {
            Some(value) => users::by_external_id(c, tenant, &value),
            None => Ok(None),
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
    if p.user_name_unverified {
        return Ok(Attempt::Done(Outcome::EmailUnverified));
    }
    let user = match linkable(c, tenant, idp, claims, &p)? {
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
        None if mode == Mode::Jit => match create(c, tenant, idp, claims, &p) {
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
    idp: &Idp,
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
    // Linked by an immutable claim: recorded where that rule looks, so the person is found
    // the same way by a later provider or a SCIM client that shares the id.
    if let LinkBy::Claim(claim) = &idp.linking.by {
        if let Some(v) = claims.value_of(claim) {
            doc["externalId"] = Value::String(v);
        }
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
