//! SAML 2.0 sign-in through samael, plus what samael leaves to the caller: a provider without
//! a signing certificate is refused (samael would skip the signature check), SHA-1 is refused,
//! an assertion must name muster as its audience (samael only checks an audience that is
//! present), AuthnRequest ids carry 128 random bits, and each assertion is accepted once (see
//! [`remember`]), across every muster process on the database.
//!
//! samael is synchronous and its errors are not `Send`: every call here runs on the blocking
//! pool and turns errors into text.

use super::Claims;
use crate::db::schema::saml_seen;
use crate::db::time::format_time;
use crate::db::DbConn;
use crate::error::Error;
use diesel::prelude::*;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// SAML settings, read from the IdP's metadata when the provider is added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamlSettings {
    pub entity_id: String,
    pub sso_url: String,
    /// The metadata document as fetched or read; samael verifies against its certificates.
    pub metadata_xml: String,
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// Unsolicited responses (IdP-initiated login) are refused unless this is set.
    #[serde(default)]
    pub idp_initiated: bool,
}

/// Signature algorithms accepted on responses. The list also bounds the digests, so SHA-1
/// signatures and SHA-1 digests are both refused.
const ALLOWED_ALGS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Clock skew tolerated on NotBefore / NotOnOrAfter.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How old a response or assertion may be when it arrives (from its IssueInstant).
const MAX_ISSUE_DELAY: chrono::TimeDelta = chrono::TimeDelta::seconds(180);

/// Where muster sits for one provider: its entity id (the SP metadata URL) and its ACS.
#[derive(Debug, Clone)]
pub struct Sp {
    pub entity_id: String,
    pub acs_url: String,
}

impl Sp {
    /// The SP of provider `idp` of tenant `tenant`, under the public URL.
    pub fn new(public_url: &str, tenant: &crate::ids::TenantSlug, idp: &str) -> Sp {
        let base = format!("{}/t/{tenant}/sso/{idp}", public_url.trim_end_matches('/'));
        Sp {
            entity_id: format!("{base}/metadata"),
            acs_url: format!("{base}/acs"),
        }
    }
}

fn parse_idp_metadata(xml: &str) -> Result<EntityDescriptor, String> {
    // The deserializer accepts any root element; name the real problem.
    let root = xml
        .split('<')
        .skip(1)
        .find(|t| !t.starts_with('?') && !t.starts_with('!'))
        .and_then(|t| {
            t.split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()
        })
        .unwrap_or_default();
    if root.rsplit(':').next() != Some("EntityDescriptor") {
        let what = if root.is_empty() {
            "no XML element"
        } else {
            root
        };
        return Err(format!(
            "the metadata is not a SAML EntityDescriptor (its root is {what})"
        ));
    }
    xml.parse::<EntityDescriptor>()
        .map_err(|e| format!("the metadata is not a SAML EntityDescriptor: {e}"))
}

fn service_provider(
    sp: &Sp,
    idp: EntityDescriptor,
    allow_idp_initiated: bool,
) -> Result<ServiceProvider, String> {
    ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.clone())
        .metadata_url(sp.entity_id.clone())
        .acs_url(sp.acs_url.clone())
        // Required by samael's metadata writer; removed from what muster publishes.
        .slo_url(sp.acs_url.clone())
        .idp_metadata(idp)
        .allow_idp_initiated(allow_idp_initiated)
        .max_clock_skew(CLOCK_SKEW)
        .max_issue_delay(MAX_ISSUE_DELAY)
        .allowed_signature_algorithms(Some(ALLOWED_ALGS.to_vec()))
        .build()
        .map_err(|e| e.to_string())
}

/// Reads an IdP's metadata into settings, or says what is wrong with it: not metadata, no
/// entity id, no HTTP-Redirect sign-on service, or no certificate to verify signatures with.
///
/// # Errors
/// The reason, for the admin.
pub fn read_metadata(xml: &str, metadata_url: Option<String>) -> Result<SamlSettings, String> {
    let md = parse_idp_metadata(xml)?;
    let entity_id = md
        .entity_id
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or("the metadata has no entityID")?;
    if md.idp_sso_descriptors.as_ref().is_none_or(Vec::is_empty) {
        return Err("the metadata describes no identity provider (no IDPSSODescriptor)".into());
    }
    // Any SP will do to ask samael which certificates it would verify with.
    let probe = service_provider(
        &Sp::new("https://muster.invalid", &"t".into(), "i"),
        md,
        false,
    )?;
    let sso_url = probe
        .sso_binding_location(HTTP_REDIRECT_BINDING)
        .ok_or("the metadata offers no SingleSignOnService with the HTTP-Redirect binding")?;
    url::Url::parse(&sso_url).map_err(|e| format!("the SSO URL {sso_url:?} is not a URL: {e}"))?;
    let certs = probe
        .idp_signing_certs()
        .map_err(|e| format!("a signing certificate in the metadata does not parse: {e}"))?
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(
            "the metadata carries no signing certificate (a KeyDescriptor with \
                    use=\"signing\" or no use): muster cannot verify responses without one"
                .into(),
        );
    }
    for cert in &certs {
        openssl::x509::X509::from_der(cert.der_data())
            .map_err(|e| format!("a signing certificate in the metadata is not X.509: {e}"))?;
    }
    Ok(SamlSettings {
        entity_id,
        sso_url,
        metadata_xml: xml.to_owned(),
        metadata_url,
        idp_initiated: false,
    })
}

/// Fetches metadata from a URL (no redirects, bounded time and size).
///
/// # Errors
/// Unreachable, not 2xx, too big, not text.
pub async fn fetch_metadata(out: super::fetch::Outbound, url: &str) -> Result<String, String> {
    out.get(url, "the metadata").await
}

/// muster's SP metadata for one provider: entity id, the HTTP-POST ACS, signed assertions
/// wanted. It lists no keys: muster signs no requests and takes no encrypted assertions.
///
/// # Errors
/// Stored IdP metadata that no longer parses.
pub fn sp_metadata(settings: &SamlSettings, sp: &Sp) -> Result<String, String> {
    let md = parse_idp_metadata(&settings.metadata_xml)?;
    let mut out = service_provider(sp, md, settings.idp_initiated)?
        .metadata()
        .map_err(|e| e.to_string())?;
    out.valid_until = None;
    for d in out.sp_sso_descriptors.iter_mut().flatten() {
        // muster has no single-logout endpoint; samael always writes one.
        d.single_logout_services = None;
        d.valid_until = None;
    }
    out.to_string().map_err(|e| e.to_string())
}

/// Where to send the browser, and the request id the response must answer.
pub struct Start {
    pub url: String,
    pub request_id: String,
}

/// Builds the AuthnRequest (HTTP-Redirect binding) with a 128-bit random id.
///
/// # Errors
/// Stored metadata that no longer parses.
pub fn start(settings: &SamlSettings, sp: &Sp, relay_state: &str) -> Result<Start, String> {
    let md = parse_idp_metadata(&settings.metadata_xml)?;
    let provider = service_provider(sp, md, false)?;
    let mut req = provider
        .make_authentication_request(&settings.sso_url)
        .map_err(|e| e.to_string())?;
    // An xsd:ID must not start with a digit; samael's own ids carry only 32 random bits.
    req.id = format!("_{}", uuid::Uuid::new_v4().simple());
    req.force_authn = None;
    let url = req
        .redirect(relay_state)
        .map_err(|e| e.to_string())?
        .ok_or("the AuthnRequest has no destination")?;
    Ok(Start {
        url: url.to_string(),
        request_id: req.id,
    })
}

/// A response that passed every check, but not yet the replay check.
#[derive(Debug)]
pub struct Verified {
    pub claims: Claims,
    /// The assertion's ID, to be remembered (see [`remember`]).
    pub assertion_id: String,
    /// Until when the assertion could be accepted, so until when it must be remembered.
    pub remember_until: OffsetDateTime,
}

/// Checks a POSTed `SAMLResponse`. `request_id` is the id of the AuthnRequest this browser
/// sent; `None` means an unsolicited (IdP-initiated) response, which is accepted only when
/// the provider allows it.
///
/// # Errors
/// Why the response is refused, for the page's detail and the log.
pub fn verify(
    settings: &SamlSettings,
    sp: &Sp,
    saml_response: &str,
    request_id: Option<&str>,
) -> Result<Verified, String> {
    if request_id.is_none() && !settings.idp_initiated {
        return Err(
            "the identity provider sent a response nobody asked for, and sign-ins \
                    started at the identity provider are not enabled for it"
                .into(),
        );
    }
    let md = parse_idp_metadata(&settings.metadata_xml)?;
    let provider = service_provider(sp, md, request_id.is_none())?;
    // The metadata was checked when saved; check again, as samael fails open without a cert.
    if provider
        .idp_signing_certs()
        .map_err(|e| e.to_string())?
        .is_none_or(|c| c.is_empty())
    {
        return Err("the provider's metadata has no signing certificate".into());
    }
    // Line breaks inside the base64 are allowed by the POST binding; samael's decoder is not.
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let ids = request_id.map(|r| [r]);
    let assertion = provider
        .parse_base64_response(&compact, ids.as_ref().map(<[&str; 1]>::as_slice))
        .map_err(|e| e.to_string())?;
    let has_audience = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|r| r.iter().any(|a| !a.audience.is_empty()));
    if !has_audience {
        return Err(
            "the assertion names no audience (AudienceRestriction), so it could have \
                    been meant for any service"
                .into(),
        );
    }
    let claims = claims(&assertion)?;
    Ok(Verified {
        claims,
        remember_until: remember_until(&assertion),
        assertion_id: assertion.id,
    })
}

/// The last moment samael would still accept the assertion, plus the skew.
fn remember_until(a: &Assertion) -> OffsetDateTime {
    let mut latest = a.issue_instant + MAX_ISSUE_DELAY;
    if let Some(t) = a.conditions.as_ref().and_then(|c| c.not_on_or_after) {
        latest = latest.max(t);
    }
    for sc in a
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
    {
        if let Some(t) = sc
            .subject_confirmation_data
            .as_ref()
            .and_then(|d| d.not_on_or_after)
        {
            latest = latest.max(t);
        }
    }
    let latest = latest + CLOCK_SKEW;
    OffsetDateTime::from_unix_timestamp(latest.timestamp())
        .unwrap_or_else(|_| OffsetDateTime::now_utc() + time::Duration::days(1))
}

/// The NameID and attributes. An attribute is known by its Name and, when it has one, by its
/// FriendlyName too, so mappings can use either.
fn claims(a: &Assertion) -> Result<Claims, String> {
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or("the assertion has no NameID")?;
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attr in a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
    {
        let values: Vec<String> = attr
            .values
            .iter()
            .filter_map(|v| v.value.as_deref())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        for name in attr.name.iter().chain(attr.friendly_name.iter()) {
            attributes
                .entry(name.clone())
                .or_default()
                .extend(values.iter().cloned());
        }
    }
    Ok(Claims {
        subject: name_id.clone(),
        attributes,
        // SAML has no standard way to vouch for an address; only the admin can, with the
        // provider's trust_email.
        email_verified: false,
        name_id: Some(name_id),
    })
}

/// Records that an assertion was used. `false` when it already was: a replay. Expired records
/// are swept on the way.
///
/// # Errors
/// Database errors.
pub fn remember(
    c: &mut DbConn,
    idp_id: &str,
    assertion_id: &str,
    until: OffsetDateTime,
) -> Result<bool, Error> {
    diesel::delete(
        saml_seen::table.filter(saml_seen::expires_at.lt(format_time(OffsetDateTime::now_utc()))),
    )
    .execute(c)?;
    let added = diesel::insert_into(saml_seen::table)
        .values((
            saml_seen::idp_id.eq(idp_id),
            saml_seen::assertion_id.eq(assertion_id),
            saml_seen::expires_at.eq(format_time(until)),
        ))
        .execute(c);
    match added {
        Ok(_) => Ok(true),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
