//! Admin endpoints for a tenant's set-up: the tenant itself, its return_to prefixes, SCIM
//! tokens, OAuth clients, identity providers, email templates; and the signing keys.

use super::{ApiError, ApiResult, Caller};
use crate::app::AppState;
use crate::notify::templates;
use crate::sso::{idp, introspect};
use crate::tenants::{self, Mode};
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tenants)
        .service(create_tenant)
        .service(get_tenant)
        .service(change_tenant)
        .service(list_redirects)
        .service(add_redirect)
        .service(remove_redirect)
        .service(list_scim_tokens)
        .service(create_scim_token)
        .service(revoke_scim_token)
        .service(list_clients)
        .service(create_client)
        .service(remove_client)
        .service(list_idps)
        .service(add_idp)
        .service(change_idp)
        .service(remove_idp)
        .service(list_introspectors)
        .service(add_introspector)
        .service(remove_introspector)
        .service(get_template)
        .service(set_template)
        .service(reset_template)
        .service(list_keys)
        .service(rotate_keys)
        .service(list_admin_tokens)
        .service(create_admin_token)
        .service(revoke_admin_token);
}

fn data(state: &web::Data<AppState>) -> AppState {
    state.get_ref().clone()
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub slug: String,
    pub name: String,
    /// `scim`, `jit` or `invite`.
    pub mode: String,
    pub created_at: String,
    pub scim_base_url: String,
    pub login_url: String,
    /// SCIM requests per minute per credential; 0 is no limit.
    pub scim_rate_limit: i32,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: i32,
}

fn tenant_out(state: &AppState, t: tenants::Tenant) -> TenantOut {
    let public = state.config.public_url.trim_end_matches('/');
    TenantOut {
        scim_base_url: format!("{public}/scim/v2/{}", t.slug),
        login_url: format!("{public}/t/{}/login", t.slug),
        slug: t.slug,
        name: t.name,
        mode: t.mode,
        created_at: t.created_at,
        scim_rate_limit: t.scim_rate_limit,
        address_rate_limit: t.address_rate_limit,
    }
}

fn mode(field: &str, value: &str) -> ApiResult<Mode> {
    value
        .parse()
        .map_err(|e: String| ApiError::invalid(field, e))
}

/// Tenants: every one for a platform admin, one's own for a person.
#[utoipa::path(tag = "tenants", responses((status = 200, body = Vec<TenantOut>)))]
#[get("/tenants")]
async fn list_tenants(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let st = data(&state);
    let list = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok(match &caller {
                Caller::Platform { .. } => tenants::list(c)?,
                Caller::Person { tenant, .. } => vec![tenants::by_slug(c, tenant)?],
            })
        })
        .await?;
    let out: Vec<TenantOut> = list.into_iter().map(|t| tenant_out(&st, t)).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and `-`; it appears in every URL of the tenant.
    pub slug: String,
    pub name: Option<String>,
    /// `scim` (the default), `jit` or `invite`.
    pub mode: Option<String>,
}

/// Make a tenant (platform admins).
#[utoipa::path(tag = "tenants", request_body = NewTenant, responses((status = 201, body = TenantOut), (status = 409, body = ApiError)))]
#[post("/tenants")]
async fn create_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewTenant>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let b = body.into_inner();
    let m = mode("mode", b.mode.as_deref().unwrap_or("scim"))?;
    tenants::check_slug(&b.slug).map_err(|e| ApiError::from(e).on("slug"))?;
    let t = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            Ok(tenants::create(c, &b.slug, b.name.as_deref(), m)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(tenant_out(&state, t)))
}

/// One tenant.
#[utoipa::path(tag = "tenants", responses((status = 200, body = TenantOut), (status = 404, body = ApiError)))]
#[get("/tenants/{tenant}")]
async fn get_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let t = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(tenants::by_slug(c, &slug)?) })
        .await?;
    Ok(HttpResponse::Ok().json(tenant_out(&state, t)))
}

/// A change to a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    /// `scim`, `jit` or `invite`; users are kept.
    pub mode: Option<String>,
    /// SCIM requests per minute per credential; 0 is no limit. Over it: 429 and Retry-After.
    pub scim_rate_limit: Option<i32>,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: Option<i32>,
}

/// Switch the provisioning mode, or set the SCIM rate limits.
#[utoipa::path(tag = "tenants", request_body = TenantChange, responses((status = 200, body = TenantOut)))]
#[patch("/tenants/{tenant}")]
async fn change_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<TenantChange>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let m = b.mode.map(|m| mode("mode", &m)).transpose()?;
    for (field, v) in [
        ("scim_rate_limit", b.scim_rate_limit),
        ("address_rate_limit", b.address_rate_limit),
    ] {
        if v.is_some_and(|n| n < 0) {
            return Err(ApiError::invalid(
                field,
                "a limit is a number of requests per minute; 0 is no limit",
            ));
        }
    }
    let t = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            if let Some(m) = m {
                tenants::set_mode(c, &slug, m)?;
            }
            tenants::set_limits(c, &slug, b.scim_rate_limit, b.address_rate_limit)?;
            Ok(tenants::by_slug(c, &slug)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(tenant_out(&state, t)))
}

/// A URL prefix sign-ins may return to (`?return_to=`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    pub prefix: String,
}

/// The allowed return_to prefixes.
#[utoipa::path(tag = "tenants", responses((status = 200, body = Vec<Redirect>)))]
#[get("/tenants/{tenant}/redirects")]
async fn list_redirects(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
            Ok(idp::redirects(c, &t.id)?)
        })
        .await?;
    let out: Vec<Redirect> = list.into_iter().map(|prefix| Redirect { prefix }).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Allow a return_to prefix.
#[utoipa::path(tag = "tenants", request_body = Redirect, responses((status = 201, body = Redirect)))]
#[post("/tenants/{tenant}/redirects")]
async fn add_redirect(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Redirect>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let prefix = body.into_inner().prefix;
    let p = prefix.clone();
    state
        .db
        .run_write(move |c| -> ApiResult<_> {
            idp::allow_redirect(c, &slug, &p).map_err(|e| ApiError::from(e).on("prefix"))
        })
        .await?;
    Ok(HttpResponse::Created().json(Redirect { prefix }))
}

/// Which prefix to stop allowing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrefixQuery {
    pub prefix: String,
}

/// Stop allowing a return_to prefix.
#[utoipa::path(tag = "tenants", params(PrefixQuery), responses((status = 204)))]
#[delete("/tenants/{tenant}/redirects")]
async fn remove_redirect(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PrefixQuery>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let prefix = query.into_inner().prefix;
    super::no_content(&state, move |c| idp::disallow_redirect(c, &slug, &prefix)).await
}

/// A SCIM token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenOut {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A name for a new credential.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub name: String,
}

/// A new SCIM token; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenCreated {
    pub name: String,
    pub token: String,
    pub scim_base_url: String,
}

/// The tenant's SCIM bearer tokens.
#[utoipa::path(tag = "credentials", responses((status = 200, body = Vec<ScimTokenOut>)))]
#[get("/tenants/{tenant}/scim-tokens")]
async fn list_scim_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(tenants::list_tokens(c, &slug)?) })
        .await?;
    let out: Vec<ScimTokenOut> = list
        .into_iter()
        .map(|t| ScimTokenOut {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

fn check_name(name: &str) -> ApiResult<()> {
    crate::auth::credential_name(name)
        .map(|_| ())
        .map_err(|e| ApiError::from(e).on("name"))
}

/// Make a SCIM token for the IdP.
#[utoipa::path(tag = "credentials", request_body = Named, responses((status = 201, body = ScimTokenCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/scim-tokens")]
async fn create_scim_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let name = body.into_inner().name.trim().to_owned();
    check_name(&name)?;
    let (s, n) = (slug.clone(), name.clone());
    let token = state
        .db
        .run_write(move |c| -> ApiResult<_> { Ok(tenants::create_token(c, &s, &n)?) })
        .await?;
    let public = state.config.public_url.trim_end_matches('/').to_owned();
    Ok(no_store(HttpResponse::Created()).json(ScimTokenCreated {
        name,
        token,
        scim_base_url: format!("{public}/scim/v2/{slug}"),
    }))
}

/// Answers that carry a secret are never cached.
fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    b
}

/// Revoke a SCIM token; requests bearing it fail from the next one on.
#[utoipa::path(tag = "credentials", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/scim-tokens/{name}")]
async fn revoke_scim_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| tenants::revoke_token(c, &slug, &name)).await
}

/// An OAuth client as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    pub name: String,
    pub client_id: String,
    pub scopes: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A new OAuth client; `client_secret` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub token_url: String,
    pub scim_base_url: String,
}

/// The tenant's OAuth clients (SCIM by client credentials).
#[utoipa::path(tag = "credentials", responses((status = 200, body = Vec<ClientOut>)))]
#[get("/tenants/{tenant}/clients")]
async fn list_clients(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(crate::clients::list(c, &slug)?) })
        .await?;
    let out: Vec<ClientOut> = list
        .into_iter()
        .map(
            |(name, client_id, scopes, created_at, last_used_at)| ClientOut {
                name,
                client_id,
                scopes,
                created_at,
                last_used_at,
            },
        )
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Make an OAuth client.
#[utoipa::path(tag = "credentials", request_body = Named, responses((status = 201, body = ClientCreated), (status = 409, body = ApiError)))]
#[post("/tenants/{tenant}/clients")]
async fn create_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let name = body.into_inner().name.trim().to_owned();
    check_name(&name)?;
    let (s, n) = (slug.clone(), name.clone());
    let made = state
        .db
        .run_write(move |c| -> ApiResult<_> { Ok(crate::clients::create(c, &s, &n)?) })
        .await?;
    let public = state.config.public_url.trim_end_matches('/').to_owned();
    Ok(no_store(HttpResponse::Created()).json(ClientCreated {
        name,
        client_id: made.client_id,
        client_secret: made.secret,
        token_url: format!("{public}/t/{slug}/oauth/token"),
        scim_base_url: format!("{public}/scim/v2/{slug}"),
    }))
}

/// Remove an OAuth client; its tokens stop working at once.
#[utoipa::path(tag = "credentials", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/tenants/{tenant}/clients/{name}")]
async fn remove_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| crate::clients::remove(c, &slug, &name)).await
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
    pub trust_email: Option<bool>,
    /// Which claims or attributes fill each User attribute, first present wins.
    pub mapping: BTreeMap<String, Vec<String>>,
    /// What to give the provider: the OIDC redirect URI, or the SAML SP metadata URL.
    pub redirect_uri: Option<String>,
    pub sp_metadata_url: Option<String>,
    pub acs_url: Option<String>,
    pub created_at: String,
}

fn idp_out(public_url: &str, tenant: &str, i: idp::Idp) -> IdpOut {
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
        trust_email: saml.as_ref().map(|s| s.trust_email),
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
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let s = slug.clone();
    let list = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &s)?;
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
/// `metadata_xml` or `metadata_url`, `allow_idp_initiated`, `trust_email`.
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
    #[serde(default)]
    pub trust_email: bool,
}

fn spec(b: NewIdp) -> ApiResult<idp::Spec> {
    let need = |v: Option<String>, field: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::invalid(field, format!("an OIDC provider needs {field}")))
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
                trust_email: b.trust_email,
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
    path: web::Path<String>,
    body: web::Json<NewIdp>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    tenants::check_slug(&b.slug).map_err(|e| ApiError::from(e).on("slug"))?;
    if b.title.trim().is_empty() {
        return Err(ApiError::invalid("title", "the title must not be empty"));
    }
    let field = if b.kind == "saml" {
        "metadata_xml"
    } else {
        "issuer"
    };
    let new = idp::prepare(spec(b)?)
        .await
        .map_err(|e| ApiError::from(e).on(field))?;
    let s = slug.clone();
    let added = state
        .db
        .run_write(move |c| -> ApiResult<_> { Ok(idp::add(c, &s, new)?) })
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
}

/// Enable, disable or re-map an identity provider.
#[utoipa::path(tag = "identity providers", request_body = IdpChange, responses((status = 200, body = IdpOut)))]
#[patch("/tenants/{tenant}/idps/{idp}")]
async fn change_idp(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<IdpChange>,
) -> ApiResult<HttpResponse> {
    let (slug, idp_slug) = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    let s = slug.clone();
    let changed = state
        .db
        .run_write(move |c| -> ApiResult<_> {
            crate::db::write_tx(c, |c| {
                if let Some(active) = b.active {
                    idp::set_active(c, &s, &idp_slug, active)?;
                }
                for (attribute, claims) in b.mapping.unwrap_or_default() {
                    idp::set_mapping(c, &s, &idp_slug, &attribute, claims)
                        .map_err(|e| ApiError::from(e).on("mapping"))?;
                }
                Ok(idp::by_slugs(c, &s, &idp_slug)?)
            })
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
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, idp_slug) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| idp::remove(c, &slug, &idp_slug)).await
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
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let list = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(introspect::list(c, &slug)?) })
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

/// Trust JWTs from the tenant's IdP; the key set is fetched once now, so a wrong URL is
/// refused here.
#[utoipa::path(tag = "identity providers", request_body = NewIntrospector, responses((status = 201, body = IntrospectorOut), (status = 422, body = ApiError)))]
#[post("/tenants/{tenant}/introspectors")]
async fn add_introspector(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewIntrospector>,
) -> ApiResult<HttpResponse> {
    let slug = path.into_inner();
    caller.admin_of(&slug)?;
    let b = body.into_inner();
    check_name(&b.name)?;
    for (field, v) in [("issuer", &b.issuer), ("audience", &b.audience)] {
        if v.trim().is_empty() {
            return Err(ApiError::invalid(
                field,
                format!("give the tokens' {field}"),
            ));
        }
    }
    let field = if b.algorithms.is_some() && introspect::check(&b.algorithms).is_err() {
        "algorithms"
    } else {
        "jwks_url"
    };
    let idp_slug = b.idp.clone();
    let added = introspect::add(
        &state.db,
        &slug,
        introspect::NewIntrospector {
            name: b.name,
            idp: b.idp,
            issuer: b.issuer,
            audience: b.audience,
            jwks_url: b.jwks_url,
            algorithms: b.algorithms.unwrap_or_else(|| vec!["RS256".into()]),
            subject_claim: b.subject_claim,
        },
    )
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
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, name) = path.into_inner();
    caller.admin_of(&slug)?;
    super::no_content(&state, move |c| introspect::remove(c, &slug, &name)).await
}

/// An email template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    /// `invite` or `password_reset`.
    pub kind: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// true when the tenant has its own; false for the default.
    pub custom: bool,
}

fn kind(k: &str) -> ApiResult<crate::notify::Kind> {
    k.parse()
        .map_err(|e: String| ApiError::not_found(format!("no template kind {k:?}: {e}")))
}

async fn template_out(
    state: &web::Data<AppState>,
    slug: String,
    k: String,
) -> ApiResult<TemplateOut> {
    let which = kind(&k)?;
    let (tpl, custom) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let t = tenants::by_slug(c, &slug)?;
            Ok(templates::current(c, &t.id, which)?)
        })
        .await?;
    Ok(TemplateOut {
        kind: k,
        subject: tpl.subject,
        html: tpl.html,
        text: tpl.text,
        custom,
    })
}

/// The template the tenant uses (its own, or the default).
#[utoipa::path(tag = "email templates", responses((status = 200, body = TemplateOut)))]
#[get("/tenants/{tenant}/templates/{kind}")]
async fn get_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    caller.admin_of(&slug)?;
    Ok(HttpResponse::Ok().json(template_out(&state, slug, k).await?))
}

/// Parts of a template to replace; each is test-rendered first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChange {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Replace parts of the tenant's template; a part that does not render is refused, naming
/// it and its line.
#[utoipa::path(tag = "email templates", request_body = TemplateChange, responses((status = 200, body = TemplateOut), (status = 422, body = ApiError)))]
#[put("/tenants/{tenant}/templates/{kind}")]
async fn set_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<TemplateChange>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    caller.admin_of(&slug)?;
    let which = kind(&k)?;
    let b = body.into_inner();
    if b.subject.is_none() && b.html.is_none() && b.text.is_none() {
        return Err(ApiError::invalid("subject", "give subject, html or text"));
    }
    // Each part alone first, so the error names the part that does not render.
    for (field, part) in [
        ("subject", &b.subject),
        ("html", &b.html),
        ("text", &b.text),
    ] {
        if let Some(p) = part {
            templates::check_part(field, p).map_err(|e| ApiError::invalid(field, e))?;
        }
    }
    let s = slug.clone();
    state
        .db
        .run_write(move |c| -> ApiResult<_> {
            let change = templates::Change {
                subject: b.subject,
                html: b.html,
                text: b.text,
            };
            Ok(templates::set(c, &s, which, change)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(template_out(&state, slug, k).await?))
}

/// Go back to the default template.
#[utoipa::path(tag = "email templates", responses((status = 200, body = TemplateOut)))]
#[delete("/tenants/{tenant}/templates/{kind}")]
async fn reset_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    caller.admin_of(&slug)?;
    let which = kind(&k)?;
    let s = slug.clone();
    state
        .db
        .run_write(move |c| -> ApiResult<_> { Ok(templates::reset(c, &s, which)?) })
        .await?;
    Ok(HttpResponse::Ok().json(template_out(&state, slug, k).await?))
}

/// A signing key of muster's access tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    pub kid: String,
    pub created_at: String,
    /// Set once a newer key signs; a retired key stays published for an hour.
    pub retired_at: Option<String>,
}

/// The signing keys (platform admins).
#[utoipa::path(tag = "keys", responses((status = 200, body = Vec<KeyOut>)))]
#[get("/keys")]
async fn list_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let keys = state
        .db
        .run(|c| -> ApiResult<_> { crate::keys::list(c).map_err(|e| super::error::internal(&e)) })
        .await?;
    let out: Vec<KeyOut> = keys
        .into_iter()
        .map(|(kid, created_at, retired_at)| KeyOut {
            kid,
            created_at,
            retired_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Sign with a new key from now on (platform admins).
#[utoipa::path(tag = "keys", responses((status = 201, body = KeyOut)))]
#[post("/keys/rotate")]
async fn rotate_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let kid = state
        .db
        .run_write(|c| -> ApiResult<_> {
            let kid = crate::keys::rotate(c).map_err(|e| super::error::internal(&e))?;
            crate::keys::prune(c).map_err(|e| super::error::internal(&e))?;
            Ok(kid)
        })
        .await?;
    Ok(HttpResponse::Created().json(KeyOut {
        kid,
        created_at: crate::db::time::now(),
        retired_at: None,
    }))
}

/// A platform admin token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenOut {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A new platform admin token; `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenCreated {
    pub name: String,
    pub token: String,
}

/// The platform admin tokens (platform admins).
#[utoipa::path(tag = "keys", responses((status = 200, body = Vec<AdminTokenOut>)))]
#[get("/admin-tokens")]
async fn list_admin_tokens(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let list = state
        .db
        .run(|c| -> ApiResult<_> { Ok(super::tokens::list(c)?) })
        .await?;
    let out: Vec<AdminTokenOut> = list
        .into_iter()
        .map(|(name, created_at, last_used_at)| AdminTokenOut {
            name,
            created_at,
            last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Make a platform admin token (platform admins).
#[utoipa::path(tag = "keys", request_body = Named, responses((status = 201, body = AdminTokenCreated), (status = 409, body = ApiError)))]
#[post("/admin-tokens")]
async fn create_admin_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Named>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let name = body.into_inner().name.trim().to_owned();
    check_name(&name)?;
    let n = name.clone();
    let token = state
        .db
        .run_write(move |c| -> ApiResult<_> { Ok(super::tokens::create(c, &n)?) })
        .await?;
    Ok(no_store(HttpResponse::Created()).json(AdminTokenCreated { name, token }))
}

/// Revoke a platform admin token (platform admins); requests bearing it fail from the next
/// one on.
#[utoipa::path(tag = "keys", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/admin-tokens/{name}")]
async fn revoke_admin_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.platform()?;
    let name = path.into_inner();
    super::no_content(&state, move |c| super::tokens::revoke(c, &name)).await
}
