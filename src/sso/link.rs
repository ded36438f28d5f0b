//! Who a verified login is. An external identity (provider, subject) links to one user. At a
//! first login a provisioned user is found by userName, or by an email address that the IdP
//! verified, and linked; in `jit` mode an unknown person is created from the mapped claims;
//! otherwise the person is not provisioned. Never by an unverified email: that is how an
//! attacker's IdP account with the victim's address would take the victim's account over.

use super::idp::{Idp, Kind as IdpKind};
use super::Claims;
use crate::db::schema::{external_identities, groups, users};
use crate::db::text::norm_str;
use crate::db::time::now;
use crate::db::DbConn;
use crate::scim::error::ScimError;
use crate::scim::schema::Kind;
use crate::scim::{patch, resource, store};
use crate::tenants::Mode;
use diesel::prelude::*;
use serde_json::{json, Value};

/// The result of resolving a login.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    SignedIn {
        user_id: String,
    },
    /// No user matches and the tenant's mode does not create one.
    NotProvisioned,
    /// The matching user is deactivated.
    Inactive,
    /// The match is already linked to another person at this provider.
    Conflict,
}

/// What can fail while resolving.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("{0}")]
    Scim(ScimError),
    #[error(transparent)]
    Storage(#[from] crate::db::DbError),
    #[error(transparent)]
    Tenant(#[from] crate::error::Error),
}

/// The result of accepting an invitation through an IdP sign-in.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteOutcome {
    SignedIn {
        user_id: String,
    },
    /// The link is used, expired, revoked or unknown.
    Dead(crate::people::invites::Lookup),
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
    tenant_id: &str,
    idp: &Idp,
    claims: &Claims,
    token: &str,
) -> Result<InviteOutcome, LinkError> {
    use crate::people::invites::{self, Lookup};
    crate::db::write_tx(c, |c| {
        let found = invites::lookup(c, tenant_id, token)?;
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
        let owner: Option<String> = external_identities::table
            .find((&idp.id, &claims.subject))
            .select(external_identities::user_id)
            .first(c)
            .optional()?;
        match owner {
            Some(o) if o != user_id => return Ok(InviteOutcome::Conflict),
            Some(_) => {}
            None => link_identity(c, tenant_id, idp, &claims.subject, &user_id)?,
        }
        Ok(match invites::accept(c, tenant_id, token, None)? {
            Some(user_id) => InviteOutcome::SignedIn { user_id },
            None => InviteOutcome::Dead(Lookup::Used),
        })
    })
}

impl From<ScimError> for LinkError {
    fn from(e: ScimError) -> LinkError {
        LinkError::Scim(e)
    }
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

/// Resolves a login to a user of the tenant, linking or creating as the rules allow.
///
/// # Errors
/// Database errors; a JIT creation the SCIM rules refuse.
pub fn resolve(
    c: &mut DbConn,
    tenant_id: &str,
    mode: Mode,
    idp: &Idp,
    claims: &Claims,
) -> Result<Outcome, LinkError> {
    let linked: Option<String> = external_identities::table
        .find((&idp.id, &claims.subject))
        .filter(external_identities::tenant_id.eq(tenant_id))
        .select(external_identities::user_id)
        .first(c)
        .optional()?;
    if let Some(user_id) = linked {
        match active(c, tenant_id, &user_id)? {
            Some(true) => {
                diesel::update(external_identities::table.find((&idp.id, &claims.subject)))
                    .set(external_identities::last_login_at.eq(now()))
                    .execute(c)?;
                return Ok(Outcome::SignedIn { user_id });
            }
            Some(false) => return Ok(Outcome::Inactive),
            // The user was deleted: the link is stale.
            None => {
                diesel::delete(external_identities::table.find((&idp.id, &claims.subject)))
                    .execute(c)?;
            }
        }
    }
    let p = profile(idp, claims);
    let found = match &p.user_name {
        Some(name) => by_user_name(c, tenant_id, name)?,
        None => None,
    };
    let found = match (found, &p.email) {
        (Some(id), _) => Some(id),
        (None, Some(email)) if p.email_verified => by_email(c, tenant_id, email)?,
        _ => None,
    };
    let user_id = match found {
        Some(user_id) => {
            if active(c, tenant_id, &user_id)? != Some(true) {
                // An invited person signing in at an IdP that vouches for the invited
                // address accepts the invitation, as the link's IdP button would.
                let invited = match (&p.email, p.email_verified) {
                    (Some(email), true) => {
                        crate::people::invites::accept_pending(c, tenant_id, &user_id, email)?
                    }
                    _ => false,
                };
                if !invited {
                    return Ok(Outcome::Inactive);
                }
            }
            // One person per user and provider: a second subject claiming the same account
            // is refused rather than silently sharing it.
            let other: Option<String> = external_identities::table
                .filter(external_identities::idp_id.eq(&idp.id))
                .filter(external_identities::user_id.eq(&user_id))
                .select(external_identities::subject)
                .first(c)
                .optional()?;
            if other.is_some_and(|s| s != claims.subject) {
                return Ok(Outcome::Conflict);
            }
            user_id
        }
        None if mode == Mode::Jit => create(c, tenant_id, claims, &p)?,
        None => return Ok(Outcome::NotProvisioned),
    };
    link_identity(c, tenant_id, idp, &claims.subject, &user_id)?;
    Ok(Outcome::SignedIn { user_id })
}

/// Links an external identity to a user. A concurrent first login of the same person may have
/// linked them already, which is fine.
fn link_identity(
    c: &mut DbConn,
    tenant_id: &str,
    idp: &Idp,
    subject: &str,
    user_id: &str,
) -> Result<(), LinkError> {
    let stamp = now();
    let linked = diesel::insert_into(external_identities::table)
        .values((
            external_identities::idp_id.eq(&idp.id),
            external_identities::subject.eq(subject),
            external_identities::tenant_id.eq(tenant_id),
            external_identities::user_id.eq(user_id),
            external_identities::created_at.eq(&stamp),
            external_identities::last_login_at.eq(&stamp),
        ))
        .execute(c);
    match linked {
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

fn active(c: &mut DbConn, tenant_id: &str, user_id: &str) -> Result<Option<bool>, LinkError> {
    Ok(crate::people::users::active(c, tenant_id, user_id)?)
}

fn by_user_name(c: &mut DbConn, tenant_id: &str, name: &str) -> Result<Option<String>, LinkError> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::user_name_key.eq(norm_str(name, false)))
        .select(users::id)
        .first(c)
        .optional()?)
}

/// The one user whose email is `email`; none when several share it (ambiguous, so no link).
/// Emails in muster come from the tenant's IdP over SCIM or from a verified JIT login.
pub(crate) fn by_email(
    c: &mut DbConn,
    tenant_id: &str,
    email: &str,
) -> Result<Option<String>, LinkError> {
    use crate::db::schema::attrs;
    let ids: Vec<String> = attrs::table
        .filter(attrs::tenant_id.eq(tenant_id))
        .filter(attrs::rtype.eq(Kind::User.name()))
        .filter(attrs::path.eq("emails.value"))
        .filter(attrs::val.eq(norm_str(email, false)))
        .select(attrs::resource_id)
        .distinct()
        .limit(2)
        .load(c)?;
    Ok(match ids.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// Creates a user from the profile (JIT) and adds them to the groups the IdP names, creating
/// groups that do not exist yet.
fn create(
    c: &mut DbConn,
    tenant_id: &str,
    claims: &Claims,
    p: &Profile,
) -> Result<String, LinkError> {
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
    let user = store::create(c, tenant_id, Kind::User, incoming, None, &stamp)?;
    for group in &p.groups {
        let existing: Option<String> = groups::table
            .filter(groups::tenant_id.eq(tenant_id))
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
                    tenant: tenant_id,
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
                store::create(c, tenant_id, Kind::Group, incoming, None, &stamp)?;
            }
        }
    }
    Ok(user.id)
}
