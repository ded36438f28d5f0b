//! Who is calling the admin API, and what they may do.

use super::ApiError;
use crate::app::AppState;
use crate::people::users::Role;
use crate::sso::token::TokenError;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A platform admin token: every tenant.
    Platform { name: String },
    /// A person of a tenant, through a session, a personal access token or a muster access
    /// token.
    Person {
        tenant_id: String,
        tenant: String,
        user_id: String,
        /// Their userName, for the activity log.
        name: String,
        role: Role,
    },
}

impl Caller {
    /// Platform admins only (tenants are made and keys rotated for everyone).
    ///
    /// # Errors
    /// `forbidden` for anyone else.
    pub fn platform(&self) -> Result<(), ApiError> {
        match self {
            Caller::Platform { .. } => Ok(()),
            Caller::Person { .. } => Err(ApiError::forbidden(
                "this needs a platform admin token (muster admin-token create)",
            )),
        }
    }

    /// Platform admins, and admins of tenant `slug`.
    ///
    /// # Errors
    /// `forbidden` for members, and for people of another tenant.
    pub fn admin_of(&self, slug: &str) -> Result<(), ApiError> {
        self.member_of(slug)?;
        match self {
            Caller::Person {
                role: Role::Member, ..
            } => Err(ApiError::forbidden(
                "this needs the admin role in the tenant; ask one of its admins",
            )),
            _ => Ok(()),
        }
    }

    /// Anyone of tenant `slug` (and platform admins).
    ///
    /// # Errors
    /// `forbidden` for people of another tenant.
    pub fn member_of(&self, slug: &str) -> Result<(), ApiError> {
        match self {
            Caller::Person { tenant, .. } if tenant != slug => Err(ApiError::forbidden(format!(
                "your credentials are for tenant {tenant:?}, not {slug:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// The person of tenant `slug` making the request, for actions on their own account.
    ///
    /// # Errors
    /// `forbidden` for platform tokens (they are nobody's) and people of another tenant.
    pub fn person_of(&self, slug: &str) -> Result<(String, String), ApiError> {
        self.member_of(slug)?;
        match self {
            Caller::Person {
                tenant_id, user_id, ..
            } => Ok((tenant_id.clone(), user_id.clone())),
            Caller::Platform { .. } => Err(ApiError::forbidden(
                "a platform admin token belongs to no one; sign in as a person of the tenant",
            )),
        }
    }

    /// How the activity log names the caller.
    pub fn label(&self) -> String {
        match self {
            Caller::Platform { name } => format!("admin token {name}"),
            Caller::Person { name, .. } => format!("user {name}"),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        match e {
            TokenError::Internal(m) => super::error::internal(&m),
            TokenError::Unavailable(m) => ApiError::new(503, "unavailable", m),
            other => ApiError::unauthenticated(other.to_string()),
        }
    }
}

const NO_CREDENTIALS: &str = "send Authorization: Bearer with a platform admin token, a personal \
                              access token or a muster access token, or sign in to the tenant";

/// The tenant a request is about: `/admin/v1/tenants/{tenant}/...`.
fn tenant_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix(super::BASE)?.strip_prefix("/tenants/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| slug.to_owned())
}

/// Finds the caller of a request: an admin token, a personal access token, or (for requests
/// about one tenant) a muster access token or the tenant's session cookie.
async fn resolve(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| super::error::internal(&"application state missing"))?
        .get_ref()
        .clone();
    let slug = tenant_of(req.path());
    let bearer = crate::auth::bearer(&req);
    let cookie = slug.as_deref().and_then(|s| {
        req.cookie(&crate::sso::http::session_cookie_name(s))
            .map(|c| c.value().to_owned())
    });
    if bearer.is_none()
        && cookie.is_some()
        && !req.method().is_safe()
        && crate::auth::foreign_origin(&req, &state.config.public_url).is_some()
    {
        // A browser's cookie rides along on requests other sites make; only muster's own
        // pages may change things with it.
        return Err(ApiError::forbidden(
            "a request carrying the session cookie must come from muster's own pages",
        ));
    }
    let b = bearer.clone();
    let early = state
        .db
        .run(move |c| -> Result<Option<Caller>, ApiError> {
            let Some(b) = b else { return Ok(None) };
            if b.starts_with(super::tokens::PREFIX) {
                return match super::tokens::authenticate(c, &b)? {
                    Some(name) => Ok(Some(Caller::Platform { name })),
                    None => Err(ApiError::unauthenticated("the admin token is not valid")),
                };
            }
            if !b.starts_with(crate::people::pats::PREFIX) {
                return Ok(None);
            }
            let h = crate::people::pats::authenticate(c, &b)?.ok_or_else(|| {
                ApiError::unauthenticated(
                    "the personal access token is not valid (revoked, expired, or its user is \
                     deactivated)",
                )
            })?;
            person(c, h.tenant_id, h.tenant, h.user_id).map(Some)
        })
        .await?;
    if let Some(caller) = early {
        return Ok(caller);
    }
    // A muster access token, the IdP's own token, or the session: all about one tenant.
    let Some(slug) = slug.filter(|_| bearer.is_some() || cookie.is_some()) else {
        return Err(ApiError::unauthenticated(NO_CREDENTIALS));
    };
    let (t, user_id) = crate::sso::token::identify(&state, &slug, bearer, cookie).await?;
    state
        .db
        .run(move |c| person(c, t.id, t.slug, user_id))
        .await
}

/// A person of a tenant with their role.
fn person(
    c: &mut crate::db::DbConn,
    tenant_id: String,
    tenant: String,
    user_id: String,
) -> Result<Caller, ApiError> {
    let (name, role) = crate::people::users::name_and_role(c, &tenant_id, &user_id)?
        .ok_or_else(|| ApiError::unauthenticated("the user no longer exists"))?;
    Ok(Caller::Person {
        tenant_id,
        tenant,
        user_id,
        name,
        role,
    })
}

/// Middleware of the admin scope: authenticates before anything else is looked at, so a
/// caller without credentials learns nothing from the request's validation.
///
/// # Errors
/// Those of the handler.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, actix_web::Error> {
    match resolve(req.request().clone()).await {
        Ok(caller) => {
            let changes = !req.method().is_safe();
            let (method, path) = (req.method().to_string(), req.path().to_owned());
            req.extensions_mut().insert(caller.clone());
            let res = next.call(req).await?.map_into_boxed_body();
            if changes {
                record(&res, &caller, method, path).await;
            }
            Ok(res)
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

/// An admin action on a tenant goes to that tenant's activity log.
async fn record(res: &ServiceResponse, caller: &Caller, method: String, path: String) {
    let Some(state) = res
        .request()
        .app_data::<web::Data<AppState>>()
        .filter(|s| s.activity.enabled())
    else {
        return;
    };
    let Some(tenant) = tenant_of(&path) else {
        return;
    };
    let mut e = crate::activity::Entry::new("admin", &tenant);
    e.actor = caller.label();
    e.status = res.status().as_u16();
    e.summary = match res.response().extensions().get::<super::error::Code>() {
        Some(code) => format!("refused: {}", code.0),
        None => "done".to_owned(),
    };
    // `/tenants/{t}/users/{id}...`: the entry is about that user.
    let mut parts = path.split('/').skip(5);
    if parts.next() == Some("users") {
        e.user_id = parts.next().map(str::to_owned);
        e.resource_id.clone_from(&e.user_id);
    }
    e.request_id = res
        .request()
        .extensions()
        .get::<crate::ops::RequestId>()
        .map(|r| r.0.clone());
    e.method = method;
    e.path = path;
    state.activity.record(e).await;
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            super::error::internal(&"admin handler outside the authenticated scope")
        }))
    }
}
