//! muster as an authorization server: the keys it signs with ([`keys`]), the access tokens it
//! issues to a tenant's apps ([`access`]) and the OAuth clients that trade a secret for a
//! token ([`clients`]). Every token is an ES256 JWT whose `iss` is muster's public URL and
//! whose `aud` names what it opens, so a token made for one thing opens nothing else.

pub mod access;
pub mod clients;
pub mod keys;

/// muster's issuer: its public URL.
pub fn issuer(public_url: &str) -> String {
    public_url.trim_end_matches('/').to_owned()
}

/// Clock skew tolerated when checking `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
