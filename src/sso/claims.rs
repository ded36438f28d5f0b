//! What an identity provider said about a person, after every check passed: the subject, every
//! claim or attribute by name, whether it vouched for the email address.

use super::idp::Mapping;
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
    /// The claims of a verified JWT payload; the person is named by `subject_claim` (`sub`
    /// unless a provider's access tokens say otherwise). `None` without a subject.
    pub fn from_payload(
        payload: serde_json::Map<String, serde_json::Value>,
        subject_claim: &str,
    ) -> Option<Claims> {
        use serde_json::Value;
        let subject = payload
            .get(subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())?
            .to_owned();
        // `email` counts as verified only when the provider says so, as a JSON true.
        let email_verified = payload.get("email_verified") == Some(&Value::Bool(true));
        let attributes = payload
            .into_iter()
            .filter_map(|(k, v)| {
                let vals: Vec<String> = match v {
                    Value::String(s) => vec![s],
                    Value::Array(a) => a
                        .into_iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect(),
                    Value::Number(n) => vec![n.to_string()],
                    Value::Bool(b) => vec![b.to_string()],
                    _ => return None,
                };
                Some((k, vals))
            })
            .collect();
        Some(Claims {
            subject,
            attributes,
            email_verified,
            name_id: None,
        })
    }

    /// Values of the first candidate name that is present.
    pub fn mapped(&self, mapping: &Mapping, field: &str) -> Vec<String> {
        self.mapped_from(mapping, field)
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default()
    }

    /// The first candidate name of a mapped field that is present, and its values.
    fn mapped_from<'a>(
        &'a self,
        mapping: &'a Mapping,
        field: &str,
    ) -> Option<(&'a str, &'a [String])> {
        mapping.get(field).into_iter().flatten().find_map(|name| {
            self.attributes
                .get(name)
                .filter(|v| v.iter().any(|s| !s.trim().is_empty()))
                .map(|v| (name.as_str(), v.as_slice()))
        })
    }

    /// The first value of a mapped field.
    pub fn first(&self, mapping: &Mapping, field: &str) -> Option<String> {
        self.first_named(mapping, field).map(|(_, v)| v)
    }

    /// The first value of a mapped field and the claim it came from.
    pub fn first_named<'a>(
        &'a self,
        mapping: &'a Mapping,
        field: &str,
    ) -> Option<(&'a str, String)> {
        let (name, values) = self.mapped_from(mapping, field)?;
        values
            .iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .map(|v| (name, v.to_owned()))
    }

    /// The first value of one claim by name; `NameID` also names a SAML subject.
    pub fn value_of(&self, claim: &str) -> Option<String> {
        let listed = self
            .attributes
            .get(claim)
            .and_then(|v| v.iter().map(|s| s.trim()).find(|s| !s.is_empty()))
            .map(str::to_owned);
        match listed {
            Some(v) => Some(v),
            None if claim == "NameID" => self.name_id.clone(),
            None => None,
        }
    }
}
