//! A tenant's identity providers: what an admin configures (slug, title, kind, settings,
//! claim mapping) and the checks that refuse a provider muster could not trust.

use crate::db::schema::identity_providers;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::TenantId;
use crate::tenants;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The protocol an identity provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Oidc,
    Saml,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Oidc => "oidc",
            Kind::Saml => "saml",
        })
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        match s.to_ascii_lowercase().as_str() {
            "oidc" => Ok(Kind::Oidc),
            "saml" => Ok(Kind::Saml),
            other => Err(format!("unknown kind {other:?}: use oidc or saml")),
        }
    }
}

pub use super::linking::{LinkBy, Linking};
pub use super::oidc::OidcSettings;
pub use super::saml::SamlSettings;

/// The User attributes a login can fill, each from the first of its claims (OIDC) or
/// attributes (SAML) that is present. `userName` falls back to the verified email, and, on
/// SAML, to the NameID.
pub const MAPPED: [&str; 6] = [
    "userName",
    "email",
    "givenName",
    "familyName",
    "displayName",
    "groups",
];

/// Claim mapping: User attribute → candidate claim or attribute names, in order.
pub type Mapping = BTreeMap<String, Vec<String>>;

/// What most IdPs send, so that a provider works without any mapping set.
pub fn default_mapping(kind: Kind) -> Mapping {
    let names: [(&str, &[&str]); 6] = match kind {
        Kind::Oidc => [
            ("userName", &["preferred_username"]),
            ("email", &["email"]),
            ("givenName", &["given_name"]),
            ("familyName", &["family_name"]),
            ("displayName", &["name"]),
            ("groups", &["groups"]),
        ],
        Kind::Saml => [
            ("userName", &[]),
            (
                "email",
                &[
                    "email",
                    "mail",
                    "emailaddress",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    "urn:oid:0.9.2342.19200300.100.1.3",
                ],
            ),
            (
                "givenName",
                &[
                    "givenName",
                    "firstName",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                    "urn:oid:2.5.4.42",
                ],
            ),
            (
                "familyName",
                &[
                    "sn",
                    "surname",
                    "lastName",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                    "urn:oid:2.5.4.4",
                ],
            ),
            (
                "displayName",
                &[
                    "displayName",
                    "http://schemas.microsoft.com/identity/claims/displayname",
                    "urn:oid:2.16.840.1.113730.3.1.241",
                ],
            ),
            (
                "groups",
                &[
                    "groups",
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                ],
            ),
        ],
    };
    names
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

/// An identity provider as stored, without its secret.
#[derive(Debug, Clone)]
pub struct Idp {
    pub id: String,
    pub tenant_id: TenantId,
    pub slug: String,
    pub title: String,
    pub kind: Kind,
    pub active: bool,
    pub settings: serde_json::Value,
    pub mapping: Mapping,
    pub linking: Linking,
    pub created_at: String,
}

impl Idp {
    /// The OIDC settings, when this is an OIDC provider.
    pub fn oidc(&self) -> Option<OidcSettings> {
        (self.kind == Kind::Oidc)
            .then(|| serde_json::from_value(self.settings.clone()).ok())
            .flatten()
    }

    /// The SAML settings, when this is a SAML provider.
    pub fn saml(&self) -> Option<SamlSettings> {
        (self.kind == Kind::Saml)
            .then(|| serde_json::from_value(self.settings.clone()).ok())
            .flatten()
    }
}

type Row = (
    String,
    TenantId,
    String,
    String,
    String,
    bool,
    String,
    String,
    String,
    String,
    bool,
);

fn columns() -> (
    identity_providers::id,
    identity_providers::tenant_id,
    identity_providers::slug,
    identity_providers::title,
    identity_providers::kind,
    identity_providers::active,
    identity_providers::settings,
    identity_providers::mapping,
    identity_providers::created_at,
    identity_providers::link_by,
    identity_providers::trust_email,
) {
    use identity_providers as t;
    (
        t::id,
        t::tenant_id,
        t::slug,
        t::title,
        t::kind,
        t::active,
        t::settings,
        t::mapping,
        t::created_at,
        t::link_by,
        t::trust_email,
    )
}

fn from_row(r: Row) -> Result<Idp, Error> {
    let bad = |what: &str| Error::invalid(format!("stored identity provider {}: {what}", r.2));
    Ok(Idp {
        kind: r.4.parse().map_err(|e: String| bad(&e))?,
        settings: serde_json::from_str(&r.6).map_err(|e| bad(&e.to_string()))?,
        mapping: serde_json::from_str(&r.7).map_err(|e| bad(&e.to_string()))?,
        linking: Linking {
            by: r.9.parse().map_err(|e: String| bad(&e))?,
            trust_email: r.10,
        },
        id: r.0,
        tenant_id: r.1,
        slug: r.2,
        title: r.3,
        active: r.5,
        created_at: r.8,
    })
}

/// What a new provider is made of; `settings` is already validated (see `sso::oidc::discover`
/// and `sso::saml::read_metadata`).
pub struct NewIdp {
    pub slug: String,
    pub title: String,
    pub kind: Kind,
    pub settings: serde_json::Value,
    pub client_secret: Option<String>,
    pub discovered: Option<String>,
    pub linking: Linking,
}

/// Adds a provider to a tenant.
///
/// # Errors
/// A bad or taken slug.
pub fn add(c: &mut DbConn, tenant: &TenantId, new: NewIdp) -> Result<Idp, Error> {
    tenants::check_slug(&new.slug)?;
    if new.title.trim().is_empty() {
        return Err(Error::invalid("the title must not be empty"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mapping = serde_json::to_string(&default_mapping(new.kind)).map_err(Error::internal)?;
    let stamp = now();
    diesel::insert_into(identity_providers::table)
        .values((
            identity_providers::id.eq(&id),
            identity_providers::tenant_id.eq(tenant),
            identity_providers::slug.eq(&new.slug),
            identity_providers::title.eq(new.title.trim()),
            identity_providers::kind.eq(new.kind.to_string()),
            identity_providers::active.eq(true),
            identity_providers::settings.eq(new.settings.to_string()),
            identity_providers::client_secret.eq(new
                .client_secret
                .as_deref()
                .map(|s| crate::vault::seal(&secret_context(&id), s))
                .transpose()?),
            identity_providers::mapping.eq(&mapping),
            identity_providers::discovered.eq(&new.discovered),
            identity_providers::discovered_at.eq(new.discovered.as_ref().map(|_| stamp.clone())),
            identity_providers::created_at.eq(&stamp),
            identity_providers::link_by.eq(new.linking.by.to_string()),
            identity_providers::trust_email.eq(new.linking.trust_email),
        ))
        .execute(c)
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                Error::Taken(format!(
                    "this tenant already has an identity provider {:?}",
                    new.slug
                ))
            } else {
                e.into()
            }
        })?;
    get(c, tenant, &new.slug)
}

/// A tenant's providers (by tenant id), active or not, ordered by slug.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<Idp>, Error> {
    identity_providers::table
        .filter(identity_providers::tenant_id.eq(tenant))
        .order(identity_providers::slug)
        .select(columns())
        .load::<Row>(c)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// One provider of a tenant by slug.
///
/// # Errors
/// Database errors.
pub fn find(c: &mut DbConn, tenant: &TenantId, slug: &str) -> Result<Option<Idp>, Error> {
    identity_providers::table
        .filter(identity_providers::tenant_id.eq(tenant))
        .filter(identity_providers::slug.eq(slug))
        .select(columns())
        .first::<Row>(c)
        .optional()?
        .map(from_row)
        .transpose()
}

/// A provider of the tenant by slug, or an error that says there is none.
///
/// # Errors
/// [`Error::NotFound`].
pub fn get(c: &mut DbConn, tenant: &TenantId, slug: &str) -> Result<Idp, Error> {
    find(c, tenant, slug)?
        .ok_or_else(|| Error::NotFound(format!("this tenant has no identity provider {slug:?}")))
}

/// A provider's title (the name on its button), by id.
///
/// # Errors
/// Database errors.
pub fn title(c: &mut DbConn, idp_id: &str) -> Result<Option<String>, Error> {
    Ok(identity_providers::table
        .find(idp_id)
        .select(identity_providers::title)
        .first(c)
        .optional()?)
}

/// What a client secret is sealed for: its own provider.
fn secret_context(idp_id: &str) -> String {
    format!("identity_providers.client_secret:{idp_id}")
}

/// The OIDC client secret; read only to talk to the IdP. Stored sealed (`vault`).
///
/// # Errors
/// Database errors; a secret that does not open.
pub fn client_secret(c: &mut DbConn, idp_id: &str) -> Result<Option<String>, Error> {
    identity_providers::table
        .find(idp_id)
        .select(identity_providers::client_secret)
        .first::<Option<String>>(c)
        .optional()?
        .flatten()
        .map(|s| crate::vault::open(&secret_context(idp_id), &s))
        .transpose()
}

/// Seals every client secret under the current secret key. Returns how many were rewritten.
///
/// # Errors
/// Database errors; a secret that does not open.
pub fn reseal(c: &mut DbConn) -> Result<usize, Error> {
    let rows: Vec<(String, Option<String>)> = identity_providers::table
        .select((identity_providers::id, identity_providers::client_secret))
        .load(c)?;
    let mut n = 0;
    for (id, stored) in rows {
        let Some(stored) = stored else { continue };
        if let Some(sealed) = crate::vault::refresh(&secret_context(&id), &stored)? {
            diesel::update(identity_providers::table.find(&id))
                .set(identity_providers::client_secret.eq(sealed))
                .execute(c)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The cached OIDC discovery document and JWKS, and when they were fetched.
///
/// # Errors
/// Database errors.
pub fn discovered(c: &mut DbConn, idp_id: &str) -> Result<(Option<String>, Option<String>), Error> {
    Ok(identity_providers::table
        .find(idp_id)
        .select((
            identity_providers::discovered,
            identity_providers::discovered_at,
        ))
        .first(c)
        .optional()?
        .unwrap_or((None, None)))
}

/// Stores a fresh discovery document and JWKS.
///
/// # Errors
/// Database errors.
pub fn set_discovered(c: &mut DbConn, idp_id: &str, doc: &str) -> Result<(), Error> {
    diesel::update(identity_providers::table.find(idp_id))
        .set((
            identity_providers::discovered.eq(doc),
            identity_providers::discovered_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

/// Removes a provider; the links of its users go with it (their users stay).
///
/// # Errors
/// Unknown provider.
pub fn remove(c: &mut DbConn, tenant: &TenantId, slug: &str) -> Result<(), Error> {
    let idp = get(c, tenant, slug)?;
    crate::db::write_tx(c, |c| {
        crate::auth::identities::forget_idp(c, &idp.id)?;
        diesel::delete(identity_providers::table.find(&idp.id)).execute(c)?;
        Ok::<_, Error>(())
    })
}

/// Turns a provider on or off; an inactive provider has no button and accepts no response.
///
/// # Errors
/// Unknown provider.
pub fn set_active(
    c: &mut DbConn,
    tenant: &TenantId,
    slug: &str,
    active: bool,
) -> Result<(), Error> {
    let idp = get(c, tenant, slug)?;
    diesel::update(identity_providers::table.find(&idp.id))
        .set(identity_providers::active.eq(active))
        .execute(c)?;
    Ok(())
}

/// Sets where one User attribute comes from (`claims` empty: back to the default).
///
/// # Errors
/// Unknown provider or attribute.
pub fn set_mapping(
    c: &mut DbConn,
    tenant: &TenantId,
    slug: &str,
    attribute: &str,
    claims: Vec<String>,
) -> Result<Mapping, Error> {
    let idp = get(c, tenant, slug)?;
    let Some(name) = MAPPED.iter().find(|m| m.eq_ignore_ascii_case(attribute)) else {
        return Err(Error::invalid(format!(
            "cannot map {attribute:?}: use one of {}",
            MAPPED.join(", ")
        )));
    };
    let mut mapping = idp.mapping;
    let claims: Vec<String> = claims
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if claims.is_empty() {
        let defaults = default_mapping(idp.kind);
        mapping.insert(
            (*name).to_owned(),
            defaults.get(*name).cloned().unwrap_or_default(),
        );
    } else {
        mapping.insert((*name).to_owned(), claims);
    }
    let text = serde_json::to_string(&mapping).map_err(Error::internal)?;
    diesel::update(identity_providers::table.find(&idp.id))
        .set(identity_providers::mapping.eq(text))
        .execute(c)?;
    Ok(mapping)
}

/// Changes how a provider's first sign-ins link to existing users; what is not given stays.
///
/// # Errors
/// Unknown provider.
pub fn set_linking(
    c: &mut DbConn,
    tenant: &TenantId,
    slug: &str,
    by: Option<LinkBy>,
    trust_email: Option<bool>,
) -> Result<Linking, Error> {
    let idp = get(c, tenant, slug)?;
    let linking = Linking {
        by: by.unwrap_or(idp.linking.by),
        trust_email: trust_email.unwrap_or(idp.linking.trust_email),
    };
    diesel::update(identity_providers::table.find(&idp.id))
        .set((
            identity_providers::link_by.eq(linking.by.to_string()),
            identity_providers::trust_email.eq(linking.trust_email),
        ))
        .execute(c)?;
    Ok(linking)
}

/// A provider as an admin describes it, before muster has checked it.
#[derive(Debug, Clone)]
pub enum Spec {
    Oidc {
        slug: String,
        title: String,
        issuer: String,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
        linking: Linking,
    },
    Saml {
        slug: String,
        title: String,
        /// The metadata document itself, or else where to fetch it.
        metadata_xml: Option<String>,
        metadata_url: Option<String>,
        idp_initiated: bool,
        linking: Linking,
    },
}

/// Checks a provider against itself before anything is stored: an OIDC issuer must answer
/// its discovery document; SAML metadata must parse and carry a signing certificate.
///
/// # Errors
/// [`Error::Invalid`] saying what the provider got wrong.
pub async fn prepare(out: super::fetch::Outbound, spec: Spec) -> Result<NewIdp, Error> {
    let json =
        |v: serde_json::Result<serde_json::Value>| v.map_err(|e| Error::invalid(e.to_string()));
    match spec {
        Spec::Oidc {
            slug,
            title,
            issuer,
            client_id,
            client_secret,
            scopes,
            linking,
        } => {
            let issuer = issuer.trim().to_owned();
            if client_id.trim().is_empty() || client_secret.is_empty() {
                return Err(Error::invalid(
                    "an OIDC provider needs a client id and a client secret",
                ));
            }
            let doc = super::oidc::discover(out, &issuer)
                .await
                .map_err(Error::invalid)?;
            let scopes = scopes
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            Ok(NewIdp {
                slug,
                title,
                kind: Kind::Oidc,
                settings: json(serde_json::to_value(OidcSettings {
                    issuer,
                    client_id: client_id.trim().to_owned(),
                    scopes,
                }))?,
                client_secret: Some(client_secret),
                discovered: Some(doc),
                linking,
            })
        }
        Spec::Saml {
            slug,
            title,
            metadata_xml,
            metadata_url,
            idp_initiated,
            linking,
        } => {
            let xml = match (metadata_xml, &metadata_url) {
                (Some(xml), _) => xml,
                (None, Some(u)) => super::saml::fetch_metadata(out, u)
                    .await
                    .map_err(Error::invalid)?,
                (None, None) => {
                    return Err(Error::invalid(
                        "give the IdP's metadata, or the URL it is published at",
                    ))
                }
            };
            let mut settings = super::saml::read_metadata(&xml, metadata_url)
                .map_err(|e| Error::invalid(format!("metadata refused: {e}")))?;
            settings.idp_initiated = idp_initiated;
            Ok(NewIdp {
                slug,
                title,
                kind: Kind::Saml,
                settings: json(serde_json::to_value(settings))?,
                client_secret: None,
                discovered: None,
                linking,
            })
        }
    }
}
