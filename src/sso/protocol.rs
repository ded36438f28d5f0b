//! The seam between a sign-in and the protocol its provider speaks: [`start`] makes the
//! request that sends the browser to the IdP and the secrets to check on its return;
//! [`finish`] checks what the IdP sent back against them and yields the [`Claims`]. A new
//! protocol is a new arm of these two functions and nothing else.

use super::fetch::Outbound;
use super::flow::Secrets;
use super::idp::{Idp, Kind as IdpKind};
use super::refusal::Refusal;
use super::{idp, oidc, saml, Claims};
use crate::db::Db;
use crate::ids::TenantSlug;
use crate::tenants::Tenant;

/// A tenant's active provider, as a sign-in needs it.
pub struct Provider {
    pub tenant: Tenant,
    pub idp: Idp,
    /// The return_to prefixes the tenant allows.
    pub allowed: Vec<String>,
    /// The stored OIDC discovery document and when it was fetched.
    pub discovered: Option<String>,
    pub discovered_at: Option<String>,
    /// The OIDC client secret, read only to redeem a code.
    pub secret: Option<String>,
}

/// Where muster sits for one provider of a tenant.
pub struct Site<'a> {
    /// Where requests to the provider may go.
    pub out: Outbound,
    pub public_url: &'a str,
    pub tenant: &'a TenantSlug,
    pub idp: &'a str,
}

impl Site<'_> {
    /// The OIDC redirect URI.
    pub fn callback_url(&self) -> String {
        format!(
            "{}/t/{}/sso/{}/callback",
            self.public_url, self.tenant, self.idp
        )
    }

    /// The SAML service provider.
    pub fn sp(&self) -> saml::Sp {
        saml::Sp::new(self.public_url, self.tenant, self.idp)
    }
}

/// What the IdP sent back.
pub enum Answer {
    /// The query of an OIDC redirect to the callback.
    Oidc {
        code: Option<String>,
        state: Option<String>,
        iss: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
    },
    /// A SAML response POSTed to the ACS.
    Saml {
        response: String,
        relay_state: Option<String>,
    },
}

/// Where to send the browser, and what to check when it comes back.
///
/// # Errors
/// The IdP cannot be reached (OIDC discovery); stored settings that no longer work.
pub async fn start(db: &Db, p: &Provider, site: &Site<'_>) -> Result<(String, Secrets), Refusal> {
    match p.idp.kind {
        IdpKind::Oidc => {
            let settings = p.idp.oidc().ok_or_else(|| bad_settings(&p.idp))?;
            let doc = match &p.discovered {
                Some(d) => d.clone(),
                None => refetch(db, site.out, &p.idp, &settings).await?,
            };
            let s = oidc::start(&settings, &doc, &site.callback_url()).map_err(Refusal::failed)?;
            let secrets = Secrets {
                state: s.state,
                nonce: Some(s.nonce),
                pkce_verifier: Some(s.pkce_verifier),
                ..Secrets::default()
            };
            Ok((s.url, secrets))
        }
        IdpKind::Saml => {
            let settings = p.idp.saml().ok_or_else(|| bad_settings(&p.idp))?;
            let sp = site.sp();
            // RelayState is an opaque random value, never a URL: the return_to stays here.
            let relay = crate::auth::secret::generate("");
            let r = relay.clone();
            let s = blocking(move || saml::start(&settings, &sp, &r)).await?;
            let secrets = Secrets {
                state: relay,
                request_id: Some(s.request_id),
                ..Secrets::default()
            };
            Ok((s.url, secrets))
        }
    }
}

/// The claims of a verified answer. `secrets` are the flow's; `None` only for an unsolicited
/// SAML response, which the caller has already decided to consider.
///
/// # Errors
/// Every failed check, with what failed.
pub async fn finish(
    db: &Db,
    p: &Provider,
    site: &Site<'_>,
    answer: Answer,
    secrets: Option<&Secrets>,
) -> Result<Claims, Refusal> {
    match answer {
        Answer::Oidc {
            code,
            state,
            iss,
            error,
            error_description,
        } => {
            let secrets = secrets.ok_or(Refusal::Expired)?;
            if !state
                .as_deref()
                .is_some_and(|s| constant_eq(s, &secrets.state))
            {
                return Err(Refusal::refused(
                    "the state parameter does not match this sign-in",
                ));
            }
            if let Some(e) = error {
                let more = error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                return Err(Refusal::refused(format!(
                    "the identity provider answered {e}{more}"
                )));
            }
            let code =
                code.ok_or_else(|| Refusal::refused("the response carries no authorization code"))?;
            oidc_claims(db, p, site, &code, iss.as_deref(), secrets).await
        }
        Answer::Saml {
            response,
            relay_state,
        } => {
            if let Some(s) = secrets {
                if !relay_state
                    .as_deref()
                    .is_some_and(|r| constant_eq(r, &s.state))
                {
                    return Err(Refusal::refused(
                        "the RelayState does not match this sign-in",
                    ));
                }
            }
            saml_claims(db, p, site, response, secrets).await
        }
    }
}

async fn oidc_claims(
    db: &Db,
    p: &Provider,
    site: &Site<'_>,
    code: &str,
    iss: Option<&str>,
    secrets: &Secrets,
) -> Result<Claims, Refusal> {
    let settings = p
        .idp
        .oidc()
        .ok_or_else(|| Refusal::refused("not an OIDC provider"))?;
    let (Some(nonce), Some(verifier)) = (&secrets.nonce, &secrets.pkce_verifier) else {
        return Err(Refusal::Expired);
    };
    let stale =
        crate::db::time::format_time(time::OffsetDateTime::now_utc() - oidc::DISCOVERY_FRESH);
    let doc = match &p.discovered {
        Some(d)
            if p.discovered_at
                .as_deref()
                .is_some_and(|a| a > stale.as_str()) =>
        {
            d.clone()
        }
        // Stale: the provider may have withdrawn a key. Refetched; if it cannot be reached,
        // the stored document still serves (the code must be redeemed there anyway).
        Some(d) => match refetch(db, site.out, &p.idp, &settings).await {
            Ok(fresh) => fresh,
            Err(_) => {
                tracing::warn!(idp = %p.idp.slug, "discovery refetch failed; using the stored one");
                d.clone()
            }
        },
        None => refetch(db, site.out, &p.idp, &settings).await?,
    };
    let callback = oidc::Callback { code, iss };
    let tokens = oidc::redeem(
        site.out,
        &settings,
        p.secret.clone(),
        &doc,
        &site.callback_url(),
        callback,
        verifier,
    )
    .await
    .map_err(|e| Refusal::refused(e.to_string()))?;
    let (claims, doc) = match oidc::verify(&settings, &doc, &tokens.id_token, nonce) {
        Ok(claims) => (claims, doc),
        // The provider may have rotated its keys: refetch, at most once a minute.
        Err(oidc::OidcError::UnknownKey) => {
            let cutoff = crate::db::time::format_time(
                time::OffsetDateTime::now_utc() - oidc::JWKS_REFETCH_AFTER,
            );
            if p.discovered_at
                .as_deref()
                .is_some_and(|a| a > cutoff.as_str())
            {
                return Err(Refusal::refused(oidc::OidcError::UnknownKey.to_string()));
            }
            let fresh = refetch(db, site.out, &p.idp, &settings).await?;
            let claims = oidc::verify(&settings, &fresh, &tokens.id_token, nonce)
                .map_err(|e| Refusal::refused(e.to_string()))?;
            (claims, fresh)
        }
        Err(e) => return Err(Refusal::refused(e.to_string())),
    };
    with_user_info(site, p, &doc, &tokens.access_token, claims).await
}

/// Completes the ID token's claims from the UserInfo endpoint when a mapped attribute has
/// none of its claims there: the ID token's values win, UserInfo fills in what it lacks.
async fn with_user_info(
    site: &Site<'_>,
    p: &Provider,
    doc: &str,
    access_token: &str,
    mut claims: Claims,
) -> Result<Claims, Refusal> {
    let lacking =
        p.idp.mapping.values().any(|names| {
            !names.is_empty() && !names.iter().any(|n| claims.attributes.contains_key(n))
        });
    if !lacking {
        return Ok(claims);
    }
    let Some(more) = oidc::user_info(site.out, doc, access_token, &claims.subject)
        .await
        .map_err(Refusal::refused)?
    else {
        return Ok(claims);
    };
    let Some(more) = Claims::from_payload(more, "sub") else {
        return Ok(claims);
    };
    if !claims.attributes.contains_key("email_verified") {
        claims.email_verified = more.email_verified;
    }
    for (name, values) in more.attributes {
        claims.attributes.entry(name).or_insert(values);
    }
    Ok(claims)
}

async fn saml_claims(
    db: &Db,
    p: &Provider,
    site: &Site<'_>,
    response: String,
    secrets: Option<&Secrets>,
) -> Result<Claims, Refusal> {
    let settings = p
        .idp
        .saml()
        .ok_or_else(|| Refusal::refused("not a SAML provider"))?;
    let request_id = match secrets {
        Some(s) => Some(s.request_id.clone().ok_or(Refusal::Expired)?),
        None => None,
    };
    let sp = site.sp();
    let v = blocking(move || {
        Ok(saml::verify(
            &settings,
            &sp,
            &response,
            request_id.as_deref(),
        ))
    })
    .await?
    .map_err(Refusal::refused)?;
    let (iid, aid, until) = (p.idp.id.clone(), v.assertion_id.clone(), v.remember_until);
    let fresh = db
        .run_write(move |c| saml::remember(c, &iid, &aid, until))
        .await?;
    if !fresh {
        return Err(Refusal::refused("this SAML assertion was already used"));
    }
    Ok(v.claims)
}

/// muster's SP metadata for a SAML provider (served for a disabled one too: it is set up at
/// the IdP before it is switched on).
///
/// # Errors
/// Not a SAML provider; stored metadata that no longer parses.
pub async fn sp_metadata(idp: &Idp, site: &Site<'_>) -> Result<String, Refusal> {
    let settings = idp.saml().ok_or_else(|| bad_settings(idp))?;
    let sp = site.sp();
    blocking(move || saml::sp_metadata(&settings, &sp)).await
}

/// Fetches the discovery document again and stores it for every process.
async fn refetch(
    db: &Db,
    out: Outbound,
    i: &Idp,
    settings: &idp::OidcSettings,
) -> Result<String, Refusal> {
    let doc = oidc::discover(out, &settings.issuer)
        .await
        .map_err(|e| Refusal::Unreachable {
            title: i.title.clone(),
            why: e,
        })?;
    let (id, d) = (i.id.clone(), doc.clone());
    db.run_write(move |c| idp::set_discovered(c, &id, &d))
        .await?;
    Ok(doc)
}

/// samael is synchronous and its errors are not `Send`: its work runs on the blocking pool
/// and comes back as text.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Refusal> {
    actix_web::web::block(f)
        .await
        .map_err(Refusal::failed)?
        .map_err(Refusal::failed)
}

fn bad_settings(i: &Idp) -> Refusal {
    Refusal::failed(format!(
        "the stored settings of provider {} do not read",
        i.slug
    ))
}

/// Length-independent comparison of two secrets.
fn constant_eq(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}
