//! A tenant's identity providers (sign-in through OIDC or SAML, checked against the provider
//! before anything is stored) and its TokenIntrospectors (the IdP's own tokens as
//! credentials).

use super::{read, write, ApiError, ApiResult, Caller};
use crate::ids::TenantSlug;
use crate::sso::{idp, introspect};
use crate::state::AppState;
use crate::tenants;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_idps)
        .service(add_idp)
        .service(change_idp)
        .service(remove_idp)
        .service(list_introspectors)
        .service(add_introspector)
        .service(remove_introspector);
}

/// An identity provider as listed: never its client secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpOut {
    pub slug: String,
    pub title: String,
    /// `oidc` or `saml`.
    pub kind: String,
    pub active: bool,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub entity_id: Option<String>,
    pub idp_initiated: Option<bool>,
    /// How a first sign-in finds an existing user: `email`, `userName` or `claim:<name>`.
    pub link_by: String,
    /// Every address the provider sends counts as verified.
    pub trust_email: bool,
    /// Which claims or attributes fill each User attribute, first present wins.
    pub mapping: BTreeMap<String, Vec<String>>,
    /// What to give the provider: the OIDC redirect URI, or the SAML SP metadata URL.
    pub redirect_uri: Option<String>,
    pub sp_metadata_url: Option<String>,
    pub acs_url: Option<String>,
    pub created_at: String,
}

fn idp_out(public_url: &str, tenant: &TenantSlug, i: idp::Idp) -> IdpOut {
    let base = format!(
        "{}/t/{tenant}/sso/{}",
        public_url.trim_end_matches('/'),
        i.slug
    );
    let (oidc, saml) = (i.oidc(), i.saml());
    IdpOut {
        kind: i.kind.to_string(),
        active: i.active,
        issuer: oidc.as_ref().map(|o| o.issuer.clone()),
        client_id: oidc.as_ref().map(|o| o.client_id.clone()),
        scopes: oidc.as_ref().map(|o| o.scopes.clone()),
        entity_id: saml.as_ref().map(|s| s.entity_id.clone()),
        idp_initiated: saml.as_ref().map(|s| s.idp_initiated),
        link_by: i.linking.by.to_string(),
        trust_email: i.linking.trust_email,
        mapping: i.mapping.clone().into_iter().collect(),
        redirect_uri: oidc.as_ref().map(|_| format!("{base}/callback")),
        sp_metadata_url: saml.as_ref().map(|_| format!("{base}/metadata")),
        acs_url: saml.as_ref().map(|_| format!("{base}/acs")),
        created_at: i.created_at,
        slug: i.slug,
        title: i.title,
    }
}

/// The tenant's identity providers.
#[utoipa::path(tag = "identity providers", responses((status = 200, body = Vec<IdpOut>)))]
#[get("/tenants/{tenant}/idps")]
async fn list_idps(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    let list = read(&state, &caller, slug.clone(), |c, t| {
        Ok(idp::list(c, &t.id)?)
    })
    .await?;
    let out: Vec<IdpOut> = list
        .into_iter()
        .map(|i| idp_out(&state.config.public_url, &slug, i))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new identity provider. OIDC: `issuer`, `client_id`, `client_secret`, `scopes`. SAML:
/// `metadata_xml` or `metadata_url`, `allow_idp_initiated`. Both: `link_by`, `trust_email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdp {
    pub slug: String,
    /// The name on the login button.
    pub title: String,
    /// `oidc` or `saml`.
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Write-only: never returned.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// `email` (the default), `userName` or `claim:<name>`.
    pub link_by: Option<String>,
    #[serde(default)]
    pub trust_email: bool,
}

fn link_by(v: Option<String>) -> ApiResult<Option<idp::LinkBy>> {
    v.map(|s| {
        s.parse()
            .map_err(|e: String| ApiError::invalid("link_by", e))
    })
    .transpose()
}

fn spec(b: NewIdp) -> ApiResult<idp::Spec> {
    let need = |v: Option<String>, field: &'static str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::invalid(field, format!("an OIDC provider needs {field}")))
    };
    let linking = idp::Linking {
        by: link_by(b.link_by)?.unwrap_or_default(),
        trust_email: b.trust_email,
    };
    match b.kind.parse::<idp::Kind>() {
        Ok(idp::Kind::Oidc) => Ok(idp::Spec::Oidc {
            issuer: need(b.issuer, "issuer")?,
            client_id: need(b.client_id, "client_id")?,
            client_secret: need(b.client_secret, "client_secret")?,
            scopes: b
                .scopes
                .unwrap_or_else(|| vec!["email".into(), "profile".into()]),
            slug: b.slug,
            title: b.title,
            linking,
        }),
        Ok(idp::Kind::Saml) => {
            if b.metadata_xml.is_none() && b.metadata_url.is_none() {
                return Err(ApiError::invalid(
                    "metadata_xml",
                    "give the IdP's metadata_xml, or the metadata_url it is published at",
                ));
            }
            Ok(idp::Spec::Saml {
                slug: b.slug,
                title: b.title,
                metadata_xml: b.metadata_xml,
                metadata_url: b.metadata_url,
                idp_initiated: b.allow_idp_initiated,
                linking,
            })
        }
        Err(e) => Err(ApiError::invalid("kind", e)),
    }
}

/// Add an identity provider; it is checked against the provider first (OIDC discovery, SAML
/// metadata with a signing certificate).
#[utoipa::path(tag = "identity providers", request_body = NewIdp, responses((status = 201, body = IdpOut), (status = 422, body = ApiError)))]
#[post("/tenants/{tenant}/idps")]
async fn add_idp(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<NewIdp>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    tenants::check_slug(&b.slug)?;
    if b.title.trim().is_empty() {
        return Err(ApiError::invalid("title", "the title must not be empty"));
    }
    let field = if b.kind == "saml" {
        "metadata_xml"
    } else {
        "issuer"
    };
    let new = idp::prepare(state.outbound(), spec(b)?)
        .await
        .map_err(|e| ApiError::from(e).on(field))?;
    let added = write(&state, &caller, slug.clone(), move |c, t| {
        Ok(idp::add(c, &t.id, new)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(idp_out(&state.config.public_url, &slug, added)))
}

/// A change to an identity provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpChange {
    /// false hides the login button and refuses the provider's responses.
    pub active: Option<bool>,
    /// User attribute → the claims that fill it, first present wins; an empty list restores
    /// the default.
    pub mapping: Option<BTreeMap<String, Vec<String>>>,
    /// How a first sign-in finds an existing user: `email`, `userName` or `claim:<name>`.
    pub link_by: Option<String>,
    /// Whether every address the provider sends counts as verified.
    pub trust_email: Option<bool>,
}

/// Enable, disable or re-map an identity provider, or change how it links.
#[utoipa::path(tag = "identity providers", request_body = IdpChange, responses((status = 200, body = IdpOut)))]
#[patch("/tenants/{tenant}/idps/{idp}")]
async fn change_idp(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
    body: web::Json<IdpChange>,
) -> ApiResult<HttpResponse> {
    let (slug, idp_slug) = path.into_inner();
    let b = body.into_inner();
    let by = link_by(b.link_by)?;
    let changed = write(&state, &caller, slug.clone(), move |c, t| {
        if by.is_some() || b.trust_email.is_some() {
            idp::set_linking(c, &t.id, &idp_slug, by, b.trust_email)?;
        }
        if let Some(active) = b.active {
            idp::set_active(c, &t.id, &idp_slug, active)?;
        }
        for (attribute, claims) in b.mapping.unwrap_or_default() {
            idp::set_mapping(c, &t.id, &idp_slug, &attribute, claims)
                .map_err(|e| ApiError::from(e).on("mapping"))?;
        }
        Ok(idp::get(c, &t.id, &idp_slug)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(idp_out(&state.config.public_url, &slug, changed)))
}

/// Remove an identity provider; the users it signed in stay.
#[utoipa::path(tag = "identity providers", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/idps/{idp}")]
async fn remove_idp(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, idp_slug) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        Ok(idp::remove(c, &t.id, &idp_slug)?)
    })
    .await
}

/// A TokenIntrospector: JWTs from the tenant's IdP accepted as the person they name.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntrospectorOut {
    pub name: String,
    /// The identity provider whose people the tokens name.
    pub idp: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub algorithms: Vec<String>,
    pub subject_claim: String,
    pub jwks_fetched_at: Option<String>,
    pub created_at: String,
}

fn introspector_out(i: introspect::Introspector, idp: String) -> IntrospectorOut {
    IntrospectorOut {
        name: i.name,
        idp,
        issuer: i.issuer,
        audience: i.audience,
        jwks_url: i.jwks_url,
        algorithms: i.algorithms.split(' ').map(str::to_owned).collect(),
        subject_claim: i.subject_claim,
        jwks_fetched_at: i.jwks_fetched_at,
        created_at: i.created_at,
    }
}

/// The tenant's TokenIntrospectors.
#[utoipa::path(tag = "identity providers", responses((status = 200, body = Vec<IntrospectorOut>)))]
#[get("/tenants/{tenant}/introspectors")]
async fn list_introspectors(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
) -> ApiResult<HttpResponse> {
    let list = read(&state, &caller, path.into_inner(), |c, t| {
        Ok(introspect::list(c, &t.id)?)
    })
    .await?;
    let out: Vec<IntrospectorOut> = list
        .into_iter()
        .map(|(i, idp)| introspector_out(i, idp))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new TokenIntrospector.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntrospector {
    pub name: String,
    /// The slug of the tenant's identity provider whose people the tokens name.
    pub idp: String,
    /// The `iss` of the tokens.
    pub issuer: String,
    /// The `aud` the tokens must carry.
    pub audience: String,
    /// Where the IdP publishes its public keys.
    pub jwks_url: String,
    /// Accepted algorithms (public-key only); RS256 unless given.
    pub algorithms: Option<Vec<String>>,
    /// The claim that names the person; `sub` unless given (Entra ID access tokens: `oid`).
    pub subject_claim: Option<String>,
}

impl NewIntrospector {
    /// Checks what can be checked without the network; says which field the key set fetch
    /// is about (the algorithms when they are wrong, else the key set URL).
    fn check(&self) -> ApiResult<&'static str> {
        crate::auth::credential_name(&self.name)?;
        for (field, v) in [("issuer", &self.issuer), ("audience", &self.audience)] {
            if v.trim().is_empty() {
                return Err(ApiError::invalid(
                    field,
                    format!("give the tokens' {field}"),
                ));
            }
        }
        let bad_algorithms =
            self.algorithms.is_some() && introspect::check(&self.algorithms).is_err();
        Ok(if bad_algorithms {
            "algorithms"
        } else {
            "jwks_url"
        })
    }
}

impl From<NewIntrospector> for introspect::NewIntrospector {
    fn from(b: NewIntrospector) -> introspect::NewIntrospector {
        introspect::NewIntrospector {
            name: b.name,
            idp: b.idp,
            issuer: b.issuer,
            audience: b.audience,
            jwks_url: b.jwks_url,
            algorithms: b.algorithms.unwrap_or_else(|| vec!["RS256".into()]),
            subject_claim: b.subject_claim,
        }
    }
}

/// Trust JWTs from the tenant's IdP; the key set is fetched once now, so a wrong URL is
/// refused here.
#[utoipa::path(tag = "identity providers", request_body = NewIntrospector, responses((status = 201, body = IntrospectorOut), (status = 422, body = ApiError)))]
#[post("/tenants/{tenant}/introspectors")]
async fn add_introspector(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantSlug>,
    body: web::Json<NewIntrospector>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let field = b.check()?;
    let idp_slug = b.idp.clone();
    let t = read(&state, &caller, slug, |_, t| Ok(t.clone())).await?;
    let added = introspect::add(&state.db, state.outbound(), &t.id, b.into())
        .await
        .map_err(|e| ApiError::from(e).on(field))?;
    Ok(HttpResponse::Created().json(introspector_out(added, idp_slug)))
}

/// Stop trusting an IdP's tokens; they stop working at once.
#[utoipa::path(tag = "identity providers", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/introspectors/{name}")]
async fn remove_introspector(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    super::change(&state, &caller, slug, move |c, t| {
        Ok(introspect::remove(c, &t.id, &name)?)
    })
    .await
}
