//! Credentials: random bearer secrets stored as hashes, and password hashing.

pub mod password;
pub mod secret;

/// A credential's name, trimmed: 1 to 100 characters.
///
/// # Errors
/// [`Error::Invalid`] for an empty or longer name.
pub fn credential_name(name: &str) -> Result<&str, crate::error::Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(crate::error::Error::invalid(
            "give a name of 1 to 100 characters",
        ));
    }
    Ok(name)
}

/// The stamp to record as a credential's last use, when its last one is a minute old or
/// more: authentication then does not turn every read into a write.
pub fn last_use_due(last_used: Option<&str>) -> Option<String> {
    let now = time::OffsetDateTime::now_utc();
    let stale = crate::db::time::format_time(now - time::Duration::minutes(1));
    last_used
        .is_none_or(|t| t < stale.as_str())
        .then(|| crate::db::time::format_time(now))
}

/// The request's `Origin` when it is another site's than muster's own (`public_url`). Browsers
/// send `Origin` on every cross-site POST; other clients may omit it, and are not refused.
pub fn foreign_origin(req: &actix_web::HttpRequest, public_url: &str) -> Option<String> {
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)?
        .to_str()
        .unwrap_or_default();
    let ours = url::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    (origin != ours).then(|| origin.to_owned())
}

/// The `Authorization: Bearer` value of a request, if it has a non-empty one.
pub fn bearer(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        })
        .filter(|t| !t.is_empty())
}
