//! The back channel to identity providers: one HTTP client, and one bounded fetch for the
//! documents an admin points muster at (SAML metadata, key sets).

use std::sync::OnceLock;
use std::time::Duration;

/// The client muster reaches identity providers with: no redirects (a provider cannot bounce
/// muster's requests to an internal address), 10 s per request.
pub fn http() -> &'static openidconnect::reqwest::Client {
    static CLIENT: OnceLock<openidconnect::reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    })
}

/// The largest document fetched from an identity provider (metadata, key sets).
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Fetches a document an admin pointed muster at (`what`, e.g. "the metadata"): http or https
/// only, no redirects, bounded time and size, UTF-8.
///
/// # Errors
/// Unreachable, not 2xx, too big, not text; the message names `what` and the URL.
pub async fn fetch_document(url: &str, what: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!("{url:?} must be an http or https URL"));
    }
    let resp = http()
        .get(parsed)
        .send()
        .await
        .map_err(|e| format!("fetching {what} at {url} failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "fetching {what} at {url} failed: HTTP {}",
            resp.status()
        ));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("reading {what} at {url} failed: {e}"))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("{what} at {url} is larger than 1 MiB"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} at {url} is not UTF-8"))
}
