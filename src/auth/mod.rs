//! Credentials: random bearer secrets stored as hashes, and password hashing.

pub mod password;
pub mod secret;

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
