//! TokenIntrospectors: a tenant trusts JWTs its own IdP issues as API credentials. Each names
//! the issuer, the audience, where the IdP publishes its keys and which algorithms it signs
//! with, and the identity provider whose people the tokens name. A token's person is found as a
//! sign-in there would find them: through the linked identity, else by userName or verified
//! email, else (in `jit` mode) created from the token's claims.

use super::fetch::Outbound;
use super::idp::{self, Idp};
use super::link::{self, Outcome};
use super::Claims;
use crate::auth::identities;
use crate::db::schema::token_introspectors as ti;
use crate::db::time::{format_time, now};
use crate::db::{Db, DbConn};
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::tenants::Tenant;
use diesel::prelude::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

/// Algorithms an introspector may accept: public-key signatures only, so a key set (which
/// holds public keys) can never be used as an HMAC secret.
pub const ASYMMETRIC: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// How long a fetched key set is used before it is fetched again.
const JWKS_FRESH: time::Duration = time::Duration::hours(1);
/// A token signed by a key muster has not seen fetches the set again, at most this often.
const JWKS_RETRY: time::Duration = time::Duration::seconds(30);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// An introspector as an admin describes it.
#[derive(Debug, Clone)]
pub struct NewIntrospector {
    pub name: String,
    /// The slug of the tenant's identity provider whose people the tokens name.
    pub idp: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub algorithms: Vec<String>,
    pub subject_claim: Option<String>,
}

/// An introspector as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ti)]
pub struct Introspector {
    pub id: String,
    pub tenant_id: TenantId,
    pub idp_id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub algorithms: String,
    pub subject_claim: String,
    pub jwks: Option<String>,
    pub jwks_fetched_at: Option<String>,
    pub created_at: String,
    /// The last fetch of the key set, answered or not.
    pub jwks_tried_at: Option<String>,
}

/// Fetches and parses a key set; the error says what is wrong, for the admin.
///
/// # Errors
/// Unreachable, not JSON, no usable key.
pub async fn fetch_jwks(out: Outbound, url: &str) -> Result<String, String> {
    let text = out.get(url, "the key set").await?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("{url} does not serve a JSON Web Key Set: {e}"))?;
    if !set.keys.iter().any(|k| DecodingKey::from_jwk(k).is_ok()) {
        return Err(format!("the key set at {url} has no usable public key"));
    }
    Ok(text)
}

/// Whether `algs` (when given) are acceptable.
///
/// # Errors
/// What is wrong with them.
pub fn check(algs: &Option<Vec<String>>) -> Result<(), Error> {
    algs.as_deref()
        .map_or(Ok(()), |a| check_algorithms(a).map(|_| ()))
}

fn check_algorithms(algs: &[String]) -> Result<String, Error> {
    if algs.is_empty() {
        return Err(Error::invalid(format!(
            "name the algorithms the IdP signs with: {}",
            ASYMMETRIC.join(", ")
        )));
    }
    for a in algs {
        if !ASYMMETRIC.contains(&a.trim()) {
            return Err(Error::invalid(format!(
                "{a:?} is not accepted: use {} (public-key signatures only)",
                ASYMMETRIC.join(", ")
            )));
        }
    }
    Ok(algs.iter().map(|a| a.trim()).collect::<Vec<_>>().join(" "))
}

/// Adds an introspector after fetching its key set once, so a wrong URL is refused now rather
/// than at the first token.
///
/// # Errors
/// Unknown tenant or provider, a taken name, bad algorithms, a key set that cannot be used.
pub async fn add(
    db: &Db,
    out: Outbound,
    tenant: &TenantId,
    new: NewIntrospector,
) -> Result<Introspector, Error> {
    let algorithms = check_algorithms(&new.algorithms)?;
    for (what, v) in [
        ("name", &new.name),
        ("issuer", &new.issuer),
        ("audience", &new.audience),
    ] {
        if v.trim().is_empty() {
            return Err(Error::invalid(format!("the {what} must not be empty")));
        }
    }
    let jwks = fetch_jwks(out, new.jwks_url.trim())
        .await
        .map_err(Error::invalid)?;
    let tenant = tenant.clone();
    db.run_write(move |c| {
        let idp = idp::get(c, &tenant, &new.idp)?;
        let id = uuid::Uuid::new_v4().to_string();
        let stamp = now();
        diesel::insert_into(ti::table)
            .values((
                ti::id.eq(&id),
                ti::tenant_id.eq(&idp.tenant_id),
                ti::idp_id.eq(&idp.id),
                ti::name.eq(new.name.trim()),
                ti::issuer.eq(new.issuer.trim()),
                ti::audience.eq(new.audience.trim()),
                ti::jwks_url.eq(new.jwks_url.trim()),
                ti::algorithms.eq(&algorithms),
                ti::subject_claim.eq(new
                    .subject_claim
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("sub")),
                ti::jwks.eq(&jwks),
                ti::jwks_fetched_at.eq(&stamp),
                ti::created_at.eq(&stamp),
            ))
            .execute(c)
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    Error::Taken(format!(
                        "this tenant already has an introspector {:?}",
                        new.name.trim()
                    ))
                } else {
                    e.into()
                }
            })?;
        Ok(ti::table
            .find(&id)
            .select(Introspector::as_select())
            .first(c)?)
    })
    .await
}

/// A tenant's introspectors by name, with the slug of their identity provider.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<(Introspector, String)>, Error> {
    use crate::db::schema::identity_providers as ip;
    Ok(ti::table
        .inner_join(ip::table.on(ip::id.eq(ti::idp_id)))
        .filter(ti::tenant_id.eq(tenant))
        .order(ti::name)
        .select((Introspector::as_select(), ip::slug))
        .load(c)?)
}

/// Removes an introspector; its tokens stop working at once.
///
/// # Errors
/// [`Error::NotFound`].
pub fn remove(c: &mut DbConn, tenant: &TenantId, name: &str) -> Result<(), Error> {
    let n = diesel::delete(
        ti::table
            .filter(ti::tenant_id.eq(tenant))
            .filter(ti::name.eq(name)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "this tenant has no introspector {name:?}"
        )));
    }
    Ok(())
}

fn invalid(why: impl Into<String>) -> Error {
    Error::Unauthenticated(why.into())
}

/// Verifies a JWT against the tenant's introspector for its issuer and returns the person it
/// names (creating them in `jit` mode).
///
/// # Errors
/// [`Error::Unauthenticated`] saying why the token opens nothing.
pub async fn authenticate(
    db: &Db,
    out: Outbound,
    tenant: &Tenant,
    token: &str,
) -> Result<UserId, Error> {
    let iss = crate::auth::issuer_of(token)
        .ok_or_else(|| invalid("the token is not a JWT with an issuer"))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("bad JWT header: {e}")))?;
    let tid = tenant.id.clone();
    let i: Introspector = db
        .run(move |c| -> Result<_, Error> {
            Ok(ti::table
                .filter(ti::tenant_id.eq(&tid))
                .filter(ti::issuer.eq(&iss))
                .select(Introspector::as_select())
                .first(c)
                .optional()?)
        })
        .await?
        .ok_or_else(|| invalid("no introspector of this tenant trusts the token's issuer"))?;
    let alg_name = format!("{:?}", header.alg);
    if !i.algorithms.split(' ').any(|a| a == alg_name) {
        return Err(invalid(format!(
            "tokens signed with {alg_name} are not accepted (introspector {})",
            i.name
        )));
    }
    let key = key_for(db, out, &i, header.kid.as_deref()).await?;
    let mut v = Validation::new(header.alg);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[&i.issuer]);
    v.set_audience(&[&i.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.validate_nbf = true;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .map_err(|e| invalid(format!("the token is not valid: {e}")))?;
    let claims = Claims::from_payload(data.claims, &i.subject_claim)
        .ok_or_else(|| invalid(format!("the token has no {} claim", i.subject_claim)))?;
    person(db, tenant, &i, claims).await
}

/// The key a token names, from the stored key set; fetched again when it is stale or lacks
/// the key (a rotation at the IdP), at most every [`JWKS_RETRY`].
async fn key_for(
    db: &Db,
    out: Outbound,
    i: &Introspector,
    kid: Option<&str>,
) -> Result<DecodingKey, Error> {
    let pick = |text: &str| -> Option<DecodingKey> {
        let set: JwkSet = serde_json::from_str(text).ok()?;
        let jwk = match kid {
            Some(k) => set.find(k)?,
            None if set.keys.len() == 1 => set.keys.first()?,
            None => return None,
        };
        DecodingKey::from_jwk(jwk).ok()
    };
    let now = time::OffsetDateTime::now_utc();
    let fetched = i.jwks_fetched_at.clone().unwrap_or_default();
    let fresh = fetched >= format_time(now - JWKS_FRESH);
    if let Some(k) = i.jwks.as_deref().filter(|_| fresh).and_then(pick) {
        return Ok(k);
    }
    let tried = i.jwks_tried_at.clone().unwrap_or_default();
    if fetched.max(tried) >= format_time(now - JWKS_RETRY) {
        return i
            .jwks
            .as_deref()
            .and_then(pick)
            .ok_or_else(|| invalid("the token's signing key is not in the IdP's key set"));
    }
    let id = i.id.clone();
    let text = match fetch_jwks(out, &i.jwks_url).await {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(introspector = %i.name, error = %e, "key set fetch failed");
            // Remembered, so the next tokens wait for the retry time rather than each
            // asking an IdP that is down.
            db.run_write(move |c| -> Result<_, Error> {
                diesel::update(ti::table.find(&id))
                    .set(ti::jwks_tried_at.eq(crate::db::time::now()))
                    .execute(c)?;
                Ok(())
            })
            .await?;
            return Err(invalid("the IdP's key set cannot be fetched now"));
        }
    };
    let stored = text.clone();
    db.run_write(move |c| -> Result<_, Error> {
        let stamp = crate::db::time::now();
        diesel::update(ti::table.find(&id))
            .set((
                ti::jwks.eq(&stored),
                ti::jwks_fetched_at.eq(&stamp),
                ti::jwks_tried_at.eq(&stamp),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    pick(&text).ok_or_else(|| invalid("the token's signing key is not in the IdP's key set"))
}

/// The user behind verified claims: the linked identity (a read), else resolved as a sign-in
/// at the introspector's provider would be.
async fn person(
    db: &Db,
    tenant: &Tenant,
    i: &Introspector,
    claims: Claims,
) -> Result<UserId, Error> {
    let (tid, idp_id, subject) = (tenant.id.clone(), i.idp_id.clone(), claims.subject.clone());
    let linked = db
        .run(move |c| identities::linked_active(c, &tid, &idp_id, &subject))
        .await?;
    match linked {
        Some((user, true)) => return Ok(user),
        Some((_, false)) => return Err(invalid("the token's user is not active")),
        None => {}
    }
    let (tid, idp_id, mode) = (tenant.id.clone(), i.idp_id.clone(), tenant.mode);
    let outcome = db
        .run_write(move |c| {
            let provider: Idp = idp::list(c, &tid)?
                .into_iter()
                .find(|p| p.id == idp_id)
                .ok_or_else(|| invalid("the introspector's identity provider is gone"))?;
            if !provider.active {
                return Err(invalid("the identity provider is disabled"));
            }
            crate::db::write_tx(c, |c| link::resolve(c, &tid, mode, &provider, &claims))
        })
        .await?;
    match outcome {
        Outcome::SignedIn { user } => {
            tracing::info!(tenant = %tenant.slug, introspector = %i.name, "token accepted for a new link");
            Ok(user)
        }
        Outcome::NotProvisioned => Err(invalid(format!(
            "the token's person is not provisioned in this tenant ({} mode)",
            tenant.mode
        ))),
        Outcome::Inactive => Err(invalid("the token's user is not active")),
        Outcome::Conflict => Err(invalid(
            "the token's person matches a user already linked to someone else",
        )),
        Outcome::EmailUnverified => Err(invalid(
            "the token's userName would be an email address its issuer did not verify",
        )),
        Outcome::NameTaken(name) => Err(invalid(format!(
            "the token's userName {name:?} belongs to a user it may not be linked to"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_key_algorithms_are_accepted() {
        assert!(check_algorithms(&["RS256".into(), "ES256".into()]).is_ok());
        for bad in ["HS256", "none", "rs256", ""] {
            assert!(check_algorithms(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_algorithms(&[]).is_err());
    }
}
