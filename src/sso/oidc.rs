//! OpenID Connect sign-in: authorization code with PKCE S256, state and nonce, through the
//! openidconnect crate, plus what it leaves to the caller: pinned ID-token algorithms, a
//! clock-skew leeway on `exp`, the RFC 9207 `iss` check, a back-channel client that follows
//! no redirects, and a JWKS refetch (at most once a minute) when a token names an unknown key.

use super::fetch::Outbound;
use super::Claims;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// OIDC settings. The client secret is kept apart (see `idp::client_secret`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// Only asymmetric algorithms: an HMAC-signed ID token would be keyed with the client secret,
/// and whatever the provider's discovery document lists is not a choice muster leaves to it.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Clock skew tolerated on the ID token's expiry.
const LEEWAY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How long a provider's stored discovery document and key set are used before a sign-in
/// fetches them again: a key the provider withdrew stops being trusted within this time.
pub const DISCOVERY_FRESH: time::Duration = time::Duration::hours(1);

/// The shortest time between two JWKS refetches of one provider.
pub const JWKS_REFETCH_AFTER: time::Duration = time::Duration::minutes(1);

/// Fetches the discovery document and the JWKS of an issuer; the result is what muster stores
/// (`identity_providers.discovered`). The error says what is wrong, for the admin.
///
/// # Errors
/// Unreachable issuer, a document that does not parse or names another issuer, no S256 PKCE.
pub async fn discover(out: Outbound, issuer: &str) -> Result<String, String> {
    let issuer_url = IssuerUrl::new(issuer.to_owned())
        .map_err(|e| format!("issuer {issuer:?} is not a URL: {e}"))?;
    let at = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let text = out.get(&at, "the discovery document").await?;
    let raw: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the discovery document of {issuer} is not JSON: {e}"))?;
    let md: CoreProviderMetadata = serde_json::from_value(raw.clone())
        .map_err(|e| format!("the discovery document of {issuer} does not read: {e}"))?;
    if md.issuer() != &issuer_url {
        return Err(format!(
            "the discovery document at {at} names the issuer {:?}, not {issuer:?}",
            md.issuer().as_str()
        ));
    }
    let jwks_text = out.get(md.jwks_uri().url().as_str(), "the key set").await?;
    let jwks: CoreJsonWebKeySet = serde_json::from_str(&jwks_text)
        .map_err(|e| format!("the key set of {issuer} does not read: {e}"))?;
    let methods = raw
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array);
    if methods.is_some_and(|m| !m.iter().any(|x| x.as_str() == Some("S256"))) {
        return Err(format!(
            "{issuer} does not support PKCE with S256, which muster requires"
        ));
    }
    let sends_iss =
        raw.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true));
    let doc = json!({
        "metadata": serde_json::to_value(&md).map_err(|e| e.to_string())?,
        "jwks": serde_json::to_value(&jwks).map_err(|e| e.to_string())?,
        "sends_iss": sends_iss,
    });
    Ok(doc.to_string())
}

fn load(doc: &str) -> Result<CoreProviderMetadata, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| e.to_string())?;
    let md: CoreProviderMetadata =
        serde_json::from_value(v.get("metadata").cloned().unwrap_or(Value::Null))
            .map_err(|e| format!("stored discovery document: {e}"))?;
    let jwks: CoreJsonWebKeySet =
        serde_json::from_value(v.get("jwks").cloned().unwrap_or(Value::Null))
            .map_err(|e| format!("stored JWKS: {e}"))?;
    Ok(md.set_jwks(jwks))
}

/// Whether the provider promises the `iss` parameter on its redirect (RFC 9207).
fn sends_iss(doc: &str) -> bool {
    serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|v| v.get("sends_iss").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// Where to send the browser, with the values to keep for the return.
pub struct Start {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Builds the authorization request.
///
/// # Errors
/// A stored document that no longer parses, or a bad redirect URI.
pub fn start(settings: &OidcSettings, doc: &str, redirect_uri: &str) -> Result<Start, String> {
    let md = load(doc)?;
    let client =
        CoreClient::from_provider_metadata(md, ClientId::new(settings.client_id.clone()), None)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| e.to_string())?,
            );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &settings.scopes {
        if scope != "openid" {
            req = req.add_scope(Scope::new(scope.clone()));
        }
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    Ok(Start {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// Why a callback was refused; the message is for the person (and the log).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    Refused(String),
    /// The token names a key the stored JWKS lacks: refetch (if allowed) and try again.
    #[error("the ID token is signed with a key the provider does not publish")]
    UnknownKey,
}

/// What a callback carries.
pub struct Callback<'a> {
    pub code: &'a str,
    pub iss: Option<&'a str>,
}

/// What the token endpoint gave for a code: the raw ID token and the access token.
pub struct Redeemed {
    pub id_token: String,
    pub access_token: String,
}

/// Redeems the code (with the PKCE verifier); the raw ID token is then checked by
/// [`verify`]. The RFC 9207 `iss` parameter is checked first.
///
/// # Errors
/// A wrong or missing `iss`, a refused code, no ID token.
pub async fn redeem(
    out: Outbound,
    settings: &OidcSettings,
    secret: Option<String>,
    doc: &str,
    redirect_uri: &str,
    cb: Callback<'_>,
    pkce_verifier: &str,
) -> Result<Redeemed, OidcError> {
    let refused = |m: String| OidcError::Refused(m);
    // RFC 9207: a provider that promises `iss` must send its own; any `iss` must match.
    match cb.iss {
        Some(iss) if iss != settings.issuer => {
            return Err(refused(format!(
                "the response came from issuer {iss:?}, not {:?}",
                settings.issuer
            )))
        }
        None if sends_iss(doc) => {
            return Err(refused(
                "the response lacks the issuer (iss) parameter".into(),
            ))
        }
        _ => {}
    }
    let md = load(doc).map_err(refused)?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| refused(e.to_string()))?;
    let client = CoreClient::from_provider_metadata(
        md,
        ClientId::new(settings.client_id.clone()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);
    let token = client
        .exchange_code(AuthorizationCode::new(cb.code.to_owned()))
        .map_err(|e| refused(format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(&|req| out.send(req, "the token endpoint"))
        .await
        .map_err(|e| refused(format!("the provider refused the code: {}", describe(&e))))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| refused("the provider returned no ID token".into()))?;
    Ok(Redeemed {
        id_token: id_token.to_string(),
        access_token: token.access_token().secret().clone(),
    })
}

/// The claims of the provider's UserInfo endpoint (OpenID Connect Core §5.3), for the access
/// token of a sign-in whose ID token named `subject`; `None` when the provider has no
/// UserInfo endpoint. A conformant provider may put only `sub` in the ID token and the
/// `profile` and `email` claims here.
///
/// # Errors
/// The endpoint failed, answered something other than a JSON object, or for another subject.
pub async fn user_info(
    out: Outbound,
    doc: &str,
    access_token: &str,
    subject: &str,
) -> Result<Option<Map<String, Value>>, String> {
    let md = load(doc)?;
    let Some(endpoint) = md.userinfo_endpoint() else {
        return Ok(None);
    };
    let req = openidconnect::http::Request::builder()
        .method(openidconnect::http::Method::GET)
        .uri(endpoint.url().as_str())
        .header("authorization", format!("Bearer {access_token}"))
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| format!("the UserInfo request: {e}"))?;
    let resp = out
        .send(req, "the UserInfo endpoint")
        .await
        .map_err(|e| e.public)?;
    if !resp.status().is_success() {
        return Err(format!(
            "the provider's UserInfo endpoint answered {}",
            resp.status()
        ));
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(resp.body()) else {
        return Err("the provider's UserInfo endpoint did not answer with JSON claims".into());
    };
    // §5.3.2: the sub must be the ID token's, or the claims are about someone else.
    if claims.get("sub").and_then(Value::as_str) != Some(subject) {
        return Err("the provider's UserInfo answer is about another subject".into());
    }
    Ok(Some(claims))
}

/// Verifies a raw ID token against the stored keys: signature with a pinned algorithm,
/// issuer, audience, expiry (with leeway) and nonce. Returns its claims.
///
/// # Errors
/// Any failed check, or [`OidcError::UnknownKey`].
pub fn verify(
    settings: &OidcSettings,
    doc: &str,
    raw: &str,
    nonce: &str,
) -> Result<Claims, OidcError> {
    let refused = |m: String| OidcError::Refused(m);
    let md = load(doc).map_err(refused)?;
    let client =
        CoreClient::from_provider_metadata(md, ClientId::new(settings.client_id.clone()), None);
    let id_token: CoreIdToken = raw
        .parse()
        .map_err(|e| refused(format!("the ID token does not parse: {e}")))?;
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(|| chrono::Utc::now() - LEEWAY);
    match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
        Ok(_) => {}
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => return Err(OidcError::UnknownKey),
        Err(e) => return Err(refused(format!("the ID token is not valid: {e}"))),
    }
    // Verified: read every claim (the mapping may name any) from the token's payload.
    let payload = raw
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .ok_or_else(|| refused("the ID token payload is not JSON".into()))?;
    Claims::from_payload(payload, "sub")
        .ok_or_else(|| refused("the ID token has no subject".into()))
}

fn describe(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}
