//! `/Me` (RFC 7644 §3.11): the User of the signed-in person.

use super::authenticate;
use crate::http::tokens::TokenError;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::Kind;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

/// /Me (RFC 7644 §3.11): the User of the person behind a session or a muster access token,
/// read-only. A SCIM token stands for a provisioning client, not a person: 501, as the RFC
/// allows.
pub async fn me(req: HttpRequest) -> ScimResult<HttpResponse> {
    let state = crate::http::state_of(&req)?;
    let public_url = &state.config.public_url;
    let is_scim_token = crate::auth::bearer(&req).is_some_and(|b| {
        crate::auth::classify(&b, &crate::issuer::issuer(public_url)) == crate::auth::Kind::Scim
    });
    if is_scim_token {
        authenticate(&req).await?;
        return Err(ScimError::status(
            501,
            "/Me needs a signed-in person (a session or a muster access token); a SCIM token has no user",
        ));
    }
    let slug = super::tenant_in_path(&req)?;
    let (t, user) = crate::http::tokens::person(&state, &req, &slug)
        .await
        .map_err(|e| match e {
            TokenError::Internal(e) => ScimError::internal(&e),
            TokenError::Unavailable(m) => ScimError::status(503, m),
            other => ScimError::status(401, other.to_string()),
        })?;
    let rest = req.match_info().get("rest").unwrap_or_default();
    if req.method() != actix_web::http::Method::GET || !rest.is_empty() {
        return Err(ScimError::status(
            501,
            "only GET /Me is supported; changes to a User come from the identity provider",
        ));
    }
    let proj = super::resources::projection(Kind::User, &req)?;
    let ctx = super::context(&state, t.id, t.slug, t.mode);
    let out = crate::scim::service::get(&ctx, Kind::User, user.into_string(), proj).await?;
    Ok(super::resource_response(StatusCode::OK, &out))
}
