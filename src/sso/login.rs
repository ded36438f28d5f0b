//! Signing in through a tenant's identity provider, as a service the pages call. [`start`]
//! records the sign-in in progress and says where to send the browser; [`finish`] takes the
//! IdP's answer back to a person of the tenant. Each reads what it needs before the network
//! exchange in one trip to the database, and every way a sign-in can fail is a [`Refusal`]
//! the page layer shows.

use super::fetch::Outbound;
use super::flow::{self, Flow};
use super::idp::{self, Idp, Kind as IdpKind};
use super::link::{self, InviteOutcome, Outcome};
use super::protocol::{self, Answer, Provider, Site};
pub use super::refusal::Refusal;
use super::Claims;
use crate::db::{Db, DbConn};
use crate::error::Error;
use crate::ids::{TenantSlug, UserId};
use crate::tenants::{self, Tenant};

/// Reads the tenant, its active provider `idp`, its allowed return_to prefixes and, for OIDC,
/// the discovery document and secret.
fn provider(c: &mut DbConn, tenant: &TenantSlug, idp: &str) -> Result<Provider, Refusal> {
    let t = match tenants::by_slug(c, tenant) {
        Err(Error::NotFound(_)) => return Err(Refusal::UnknownTenant),
        other => other?,
    };
    let Some(i) = idp::find(c, &t.id, idp)?.filter(|i| i.active) else {
        return Err(Refusal::UnknownIdp { tenant: t.name });
    };
    let allowed = tenants::redirects(c, &t.id)?;
    let ((discovered, discovered_at), secret) = match i.kind {
        IdpKind::Oidc => (idp::discovered(c, &i.id)?, idp::client_secret(c, &i.id)?),
        IdpKind::Saml => ((None, None), None),
    };
    Ok(Provider {
        tenant: t,
        idp: i,
        allowed,
        discovered,
        discovered_at,
        secret,
    })
}

/// A sign-in under way: where to send the browser, and the value of the cookie that ties it
/// to this browser.
pub struct Started {
    pub url: String,
    pub flow_id: String,
    pub kind: IdpKind,
}

/// Starts a sign-in at provider `idp` of tenant `tenant`. A `return_to` the tenant does not
/// allow is dropped here, not followed later; `invite` is the token of the invitation this
/// sign-in accepts, if it started on an invitation page.
///
/// # Errors
/// [`Refusal`].
pub async fn start(
    db: &Db,
    out: Outbound,
    public_url: &str,
    tenant: &TenantSlug,
    idp: &str,
    return_to: Option<String>,
    invite: Option<String>,
) -> Result<Started, Refusal> {
    let (t, i) = (tenant.clone(), idp.to_owned());
    let p = db.run(move |c| provider(c, &t, &i)).await?;
    let site = Site {
        out,
        public_url,
        tenant,
        idp,
    };
    let (url, mut secrets) = protocol::start(db, &p, &site).await?;
    secrets.invite = invite.filter(|v| !v.is_empty());
    let f = Flow {
        tenant_id: p.tenant.id.clone(),
        idp_id: p.idp.id.clone(),
        secrets,
        return_to: return_to.and_then(|r| tenants::checked_return_to(&r, &p.allowed)),
    };
    let flow_id = db.run_write(move |c| flow::start(c, &f)).await?;
    Ok(Started {
        url,
        flow_id,
        kind: p.idp.kind,
    })
}

/// A finished sign-in: who, through which provider, and where they go next.
pub struct SignedIn {
    pub tenant: Tenant,
    pub user: UserId,
    pub idp_id: String,
    pub return_to: Option<String>,
}

/// Finishes a sign-in: checks the IdP's `answer` against the flow behind `flow_cookie` (which
/// is spent whatever happens), then finds, links or creates the person.
///
/// # Errors
/// [`Refusal`].
pub async fn finish(
    db: &Db,
    out: Outbound,
    public_url: &str,
    tenant: &TenantSlug,
    idp: &str,
    answer: Answer,
    flow_cookie: Option<String>,
) -> Result<SignedIn, Refusal> {
    let (t, i) = (tenant.clone(), idp.to_owned());
    let (p, flow) = db
        .run_write(move |c| {
            let p = provider(c, &t, &i)?;
            let flow = match flow_cookie {
                Some(v) => {
                    Some(flow::take(c, &v, &p.idp.id)?.filter(|f| f.tenant_id == p.tenant.id))
                }
                None => None,
            };
            Ok::<_, Refusal>((p, flow))
        })
        .await?;
    let (secrets, return_to, invite) = match (&answer, flow) {
        (_, Some(Some(f))) => (Some(f.secrets.clone()), f.return_to, f.secrets.invite),
        // A browser that started here answers its own AuthnRequest; one that did not may
        // bring an IdP-initiated response (the SAML check refuses it unless the provider
        // allows them), and by convention its RelayState may name where to land.
        (Answer::Saml { relay_state, .. }, cookie)
            if cookie.is_none() || unsolicited_allowed(&p.idp) =>
        {
            let target = relay_state
                .as_deref()
                .and_then(|r| tenants::checked_return_to(r, &p.allowed));
            (None, target, None)
        }
        _ => return Err(Refusal::Expired),
    };
    let site = Site {
        out,
        public_url,
        tenant,
        idp,
    };
    let claims = protocol::finish(db, &p, &site, answer, secrets.as_ref()).await?;
    let user = match invite {
        Some(token) => accept_invite(db, &p, claims, token).await?,
        None => resolve(db, &p, claims).await?,
    };
    Ok(SignedIn {
        user,
        idp_id: p.idp.id,
        tenant: p.tenant,
        return_to,
    })
}

fn unsolicited_allowed(i: &Idp) -> bool {
    i.saml().is_some_and(|s| s.idp_initiated)
}

/// The person a verified login is, or why they may not sign in.
async fn resolve(db: &Db, p: &Provider, claims: Claims) -> Result<UserId, Refusal> {
    let (tid, mode, idp) = (p.tenant.id.clone(), p.tenant.mode, p.idp.clone());
    let outcome = db
        .run_write(move |c| link::resolve(c, &tid, mode, &idp, &claims))
        .await?;
    let method = match p.idp.kind {
        IdpKind::Oidc => "oidc",
        IdpKind::Saml => "saml",
    };
    let (tenant, idp) = (p.tenant.name.clone(), p.idp.title.clone());
    let (counted, result) = match outcome {
        Outcome::SignedIn { user } => ("success", Ok(user)),
        Outcome::NotProvisioned => (
            "not_provisioned",
            Err(Refusal::NotProvisioned { tenant, idp }),
        ),
        Outcome::Inactive => ("inactive", Err(Refusal::Inactive { tenant })),
        Outcome::Conflict => ("conflict", Err(Refusal::Conflict { tenant, idp })),
        Outcome::EmailUnverified => ("email_unverified", Err(Refusal::EmailUnverified { idp })),
        Outcome::NameTaken(name) => ("name_taken", Err(Refusal::NameTaken { tenant, idp, name })),
    };
    crate::ops::login(method, counted);
    if let Ok(user) = &result {
        tracing::info!(tenant = %p.tenant.slug, idp = %p.idp.slug, user = %user, "signed in");
    }
    result
}

/// Accepts an invitation with a verified IdP sign-in.
async fn accept_invite(
    db: &Db,
    p: &Provider,
    claims: Claims,
    token: String,
) -> Result<UserId, Refusal> {
    let (tid, idp) = (p.tenant.id.clone(), p.idp.clone());
    let outcome = db
        .run_write(move |c| link::accept_invite(c, &tid, &idp, &claims, &token))
        .await?;
    match outcome {
        InviteOutcome::SignedIn { user } => {
            tracing::info!(tenant = %p.tenant.slug, idp = %p.idp.slug, user = %user, "invitation accepted");
            Ok(user)
        }
        InviteOutcome::EmailMismatch { invited } => Err(Refusal::InviteMismatch {
            invited,
            idp: p.idp.title.clone(),
        }),
        InviteOutcome::Conflict => Err(Refusal::InviteConflict {
            tenant: p.tenant.name.clone(),
            idp: p.idp.title.clone(),
        }),
        InviteOutcome::Dead(_) => Err(Refusal::InviteDead),
    }
}

/// muster's SAML SP metadata for a provider of the tenant, active or not.
///
/// # Errors
/// Unknown tenant or provider, not SAML.
pub async fn sp_metadata(
    db: &Db,
    public_url: &str,
    tenant: &TenantSlug,
    idp: &str,
) -> Result<String, Refusal> {
    let (t, i) = (tenant.clone(), idp.to_owned());
    let found = db
        .run(move |c| {
            let t = match tenants::by_slug(c, &t) {
                Err(Error::NotFound(_)) => return Err(Refusal::UnknownTenant),
                other => other?,
            };
            // Served for a disabled provider too: it is set up at the IdP before it is on.
            idp::find(c, &t.id, &i)?
                .filter(|i| i.kind == IdpKind::Saml)
                .ok_or(Refusal::UnknownIdp { tenant: t.name })
        })
        .await?;
    let site = Site {
        out: Outbound::default(),
        public_url,
        tenant,
        idp,
    };
    protocol::sp_metadata(&found, &site).await
}
