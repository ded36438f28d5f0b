//! Signing in to a tenant through its own identity providers (OIDC and SAML), the sessions
//! that follow, and the pages a person sees on the way.

pub mod flow;
pub mod http;
pub mod idp;
pub mod link;
pub mod oidc;
pub mod pages;
pub mod saml;
pub mod session;
pub mod token;

use std::collections::BTreeMap;

/// What an IdP said about the person, after every signature and condition was checked.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// The IdP's stable id for the person (OIDC `sub`, SAML NameID).
    pub subject: String,
    /// Every claim or attribute by name, as strings.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Whether the IdP vouched for the email address.
    pub email_verified: bool,
    /// The SAML NameID, the fallback userName of a SAML login.
    pub name_id: Option<String>,
}

impl Claims {
    /// Values of the first candidate name that is present.
    pub fn mapped(&self, mapping: &idp::Mapping, field: &str) -> Vec<String> {
        mapping
            .get(field)
            .into_iter()
            .flatten()
            .find_map(|name| {
                self.attributes
                    .iter()
                    .find(|(k, _)| k.as_str() == name.as_str())
                    .map(|(_, v)| v.clone())
                    .filter(|v| v.iter().any(|s| !s.trim().is_empty()))
            })
            .unwrap_or_default()
    }

    /// The first value of a mapped field.
    pub fn first(&self, mapping: &idp::Mapping, field: &str) -> Option<String> {
        self.mapped(mapping, field)
            .into_iter()
            .map(|s| s.trim().to_owned())
            .find(|s| !s.is_empty())
    }
}
