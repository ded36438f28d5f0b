//! TokenIntrospectors: a tenant trusts JWTs its own IdP issues as API credentials. Each names
//! the issuer, the audience, where the IdP publishes its keys and which algorithms it signs
//! with, and the identity provider whose people the tokens name. A token's person is found as a
//! sign-in there would find them: through the linked identity, else by userName or verified
//! email, else (in `jit` mode) created from the token's claims.

use super::idp::{self, Idp};
use super::link::{self, Outcome};
use super::token::TokenError;
use super::Claims;
use crate::app::AppState;
use crate::db::schema::{external_identities as ext, token_introspectors as ti, users};
use crate::db::time::format_time;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::tenants::{self, Mode, Tenant};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
    pub tenant_id: String,
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
}

/// Fetches and parses a key set; the error says what is wrong, for the admin.
///
/// # Errors
/// Unreachable, not JSON, no usable key.
pub async fn fetch_jwks(url: &str) -> Result<String, String> {
    let text = super::fetch_document(url, "the key set").await?;
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
    db: &crate::db::Db,
    tenant_slug: &str,
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
    let jwks = fetch_jwks(new.jwks_url.trim())
        .await
        .map_err(Error::invalid)?;
    let slug = tenant_slug.to_owned();
    db.run_write(move |c| {
        let idp = idp::by_slugs(c, &slug, &new.idp)?;
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
                        "tenant {slug:?} already has an introspector {:?}",
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
/// Unknown tenant.
pub fn list(c: &mut DbConn, tenant_slug: &str) -> Result<Vec<(Introspector, String)>, Error> {
    use crate::db::schema::identity_providers as ip;
    let t = tenants::by_slug(c, tenant_slug)?;
    Ok(ti::table
        .inner_join(ip::table.on(ip::id.eq(ti::idp_id)))
        .filter(ti::tenant_id.eq(&t.id))
        .order(ti::name)
        .select((Introspector::as_select(), ip::slug))
        .load(c)?)
}

/// Removes an introspector; its tokens stop working at once.
///
/// # Errors
/// [`Error::NotFound`].
pub fn remove(c: &mut DbConn, tenant_slug: &str, name: &str) -> Result<(), Error> {
    let t = tenants::by_slug(c, tenant_slug)?;
    let n = diesel::delete(
        ti::table
            .filter(ti::tenant_id.eq(&t.id))
            .filter(ti::name.eq(name)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "tenant {tenant_slug:?} has no introspector {name:?}"
        )));
    }
    Ok(())
}

/// The payload of a JWT, unverified: only to choose who should verify it.
pub fn peek(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The issuer a JWT claims, unverified.
pub fn issuer_of(token: &str) -> Option<String> {
    peek(token)?.get("iss")?.as_str().map(str::to_owned)
}

fn invalid(why: impl Into<String>) -> TokenError {
    TokenError::Invalid(why.into())
}

/// Verifies a JWT against the tenant's introspector for its issuer and returns the person it
/// names (creating them in `jit` mode).
///
/// # Errors
/// [`TokenError::Invalid`] saying why the token opens nothing.
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<String, TokenError> {
    let iss = issuer_of(token).ok_or_else(|| invalid("the token is not a JWT with an issuer"))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("bad JWT header: {e}")))?;
    let tid = tenant.id.clone();
    let i: Introspector = state
        .db
        .run(move |c| {
            ti::table
                .filter(ti::tenant_id.eq(&tid))
                .filter(ti::issuer.eq(&iss))
                .select(Introspector::as_select())
                .first(c)
                .optional()
                .map_err(TokenError::from)
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
    let key = key_for(state, &i, header.kid.as_deref()).await?;
    let mut v = Validation::new(header.alg);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[&i.issuer]);
    v.set_audience(&[&i.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .map_err(|e| invalid(format!("the token is not valid: {e}")))?;
    let claims = Claims::from_payload(data.claims, &i.subject_claim)
        .ok_or_else(|| invalid(format!("the token has no {} claim", i.subject_claim)))?;
    person(state, tenant, &i, claims).await
}

/// The key a token names, from the stored key set; fetched again when it is stale or lacks
/// the key (a rotation at the IdP), at most every [`JWKS_RETRY`].
async fn key_for(
    state: &AppState,
    i: &Introspector,
    kid: Option<&str>,
) -> Result<DecodingKey, TokenError> {
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
    if fetched >= format_time(now - JWKS_RETRY) {
        return i
            .jwks
            .as_deref()
            .and_then(pick)
            .ok_or_else(|| invalid("the token's signing key is not in the IdP's key set"));
    }
    let text = fetch_jwks(&i.jwks_url).await.map_err(|e| {
        tracing::warn!(introspector = %i.name, error = %e, "key set fetch failed");
        invalid("the IdP's key set cannot be fetched now")
    })?;
    let (id, stored) = (i.id.clone(), text.clone());
    state
        .db
        .run_write(move |c| {
            diesel::update(ti::table.find(&id))
                .set((ti::jwks.eq(&stored), ti::jwks_fetched_at.eq(now_stamp())))
                .execute(c)
                .map_err(TokenError::from)
        })
        .await?;
    pick(&text).ok_or_else(|| invalid("the token's signing key is not in the IdP's key set"))
}

fn now_stamp() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// The user behind verified claims: the linked identity (a read), else resolved as a sign-in
/// at the introspector's provider would be.
async fn person(
    state: &AppState,
    tenant: &Tenant,
    i: &Introspector,
    claims: Claims,
) -> Result<String, TokenError> {
    let (tid, idp_id, subject) = (tenant.id.clone(), i.idp_id.clone(), claims.subject.clone());
    let linked: Option<(String, bool)> = state
        .db
        .run(move |c| {
            ext::table
                .inner_join(users::table.on(users::id.eq(ext::user_id)))
                .filter(ext::idp_id.eq(&idp_id))
                .filter(ext::subject.eq(&subject))
                .filter(ext::tenant_id.eq(&tid))
                .select((ext::user_id, users::active))
                .first(c)
                .optional()
                .map_err(TokenError::from)
        })
        .await?;
    match linked {
        Some((user_id, true)) => return Ok(user_id),
        Some((_, false)) => return Err(invalid("the token's user is not active")),
        None => {}
    }
    let (tid, idp_id) = (tenant.id.clone(), i.idp_id.clone());
    let mode: Mode = tenant.mode.parse().unwrap_or(Mode::Scim);
    let outcome = state
        .db
        .run_write(move |c| {
            let provider: Idp = idp::list(c, &tid)?
                .into_iter()
                .find(|p| p.id == idp_id)
                .ok_or_else(|| invalid("the introspector's identity provider is gone"))?;
            if !provider.active {
                return Err(invalid("the identity provider is disabled"));
            }
            crate::db::write_tx(c, |c| {
                link::resolve(c, &tid, mode, &provider, &claims)
                    .map_err(|e| TokenError::Internal(e.to_string()))
            })
        })
        .await?;
    match outcome {
        Outcome::SignedIn { user_id } => {
            tracing::info!(tenant = %tenant.slug, introspector = %i.name, "token accepted for a new link");
            Ok(user_id)
        }
        Outcome::NotProvisioned => Err(invalid(format!(
            "the token's person is not provisioned in this tenant ({} mode)",
            tenant.mode
        ))),
        Outcome::Inactive => Err(invalid("the token's user is not active")),
        Outcome::Conflict => Err(invalid(
            "the token's person matches a user already linked to someone else",
        )),
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
