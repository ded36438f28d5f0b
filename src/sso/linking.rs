//! How a provider's people are matched to existing users at their first sign-in: the one rule
//! its admin chose, and whether the admin vouches for the addresses it sends.

use std::fmt;
use std::str::FromStr;

/// How a first sign-in through a provider finds an existing user of the tenant. Nothing else
/// links: a person the chosen rule does not find is created (`jit`) or refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LinkBy {
    /// An email address the provider marks verified (or any, when the admin trusts its
    /// addresses), equal to exactly one user's.
    #[default]
    Email,
    /// The userName, for a directory the tenant runs, where people cannot choose their name.
    UserName,
    /// An immutable claim (Entra `oid`, Okta `sub`) equal to the user's SCIM `externalId`.
    Claim(String),
}

impl fmt::Display for LinkBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkBy::Email => f.write_str("email"),
            LinkBy::UserName => f.write_str("userName"),
            LinkBy::Claim(name) => write!(f, "claim:{name}"),
        }
    }
}

impl FromStr for LinkBy {
    type Err = String;
    fn from_str(s: &str) -> Result<LinkBy, String> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("claim:") {
            let name = name.trim();
            if name.is_empty() || name.len() > 256 {
                return Err("claim:<name> needs the name of the claim, such as claim:oid".into());
            }
            return Ok(LinkBy::Claim(name.to_owned()));
        }
        match s.to_ascii_lowercase().as_str() {
            "email" => Ok(LinkBy::Email),
            "username" => Ok(LinkBy::UserName),
            _ => Err(format!(
                "cannot link by {s:?}: use email, userName or claim:<name>"
            )),
        }
    }
}

/// How a provider's people are matched to existing users at their first sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Linking {
    pub by: LinkBy,
    /// The admin vouches for every address the provider sends, as if each were verified: for
    /// a directory the organisation runs, and for SAML, which cannot say so itself.
    pub trust_email: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_back_as_written() {
        for rule in ["email", "userName", "claim:oid"] {
            assert_eq!(rule.parse::<LinkBy>().unwrap().to_string(), rule);
        }
        assert_eq!("USERNAME".parse::<LinkBy>(), Ok(LinkBy::UserName));
        assert!("claim:".parse::<LinkBy>().is_err());
        assert!("nickname".parse::<LinkBy>().is_err());
    }
}
