//! Who is calling the admin API, and what they may do. The credential is decided by
//! `http::caller` (platform admin tokens and people); here are the person's name and role, the
//! rule that a session cookie only changes things from muster's own pages, and the entry every
//! admin change leaves in the tenant's activity log.

use super::error::{internal, ApiError};
use crate::http::caller::{self as who, Accepts, Refused};
use crate::ids::{TenantId, TenantSlug, UserId};
use crate::people::users::{self, Role};
use crate::state::AppState;
use crate::tenants::Tenant;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

/// An authenticated caller of the admin API: a platform admin token, or a person through
/// their session or a personal access token (never a token made for the tenant's apps).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A platform admin token: every tenant.
    Platform { name: String },
    /// A person of a tenant, through their session or a personal access token.
    Person {
        tenant: Tenant,
        user: UserId,
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
    pub fn admin_of(&self, slug: &TenantSlug) -> Result<(), ApiError> {
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
    pub fn member_of(&self, slug: &TenantSlug) -> Result<(), ApiError> {
        match self {
            Caller::Person { tenant, .. } if tenant.slug != *slug => {
                Err(ApiError::forbidden(format!(
                    "your credentials are for tenant {:?}, not {:?}",
                    tenant.slug.as_str(),
                    slug.as_str()
                )))
            }
            _ => Ok(()),
        }
    }

    /// The person of tenant `slug` making the request, for actions on their own account.
    ///
    /// # Errors
    /// `forbidden` for platform tokens (they are nobody's) and people of another tenant.
    pub fn person_of(&self, slug: &TenantSlug) -> Result<(TenantId, UserId), ApiError> {
        self.member_of(slug)?;
        match self {
            Caller::Person { tenant, user, .. } => Ok((tenant.id.clone(), user.clone())),
            Caller::Platform { .. } => Err(ApiError::forbidden(
                "a platform admin token belongs to no one; sign in as a person of the tenant",
            )),
        }
    }

    /// Whether this is the person `user`.
    pub fn is(&self, user: &UserId) -> bool {
        matches!(self, Caller::Person { user: u, .. } if u == user)
    }

    /// How the activity log names the caller.
    pub fn label(&self) -> String {
        match self {
            Caller::Platform { name } => format!("admin token {name}"),
            Caller::Person { name, .. } => format!("user {name}"),
        }
    }
}

const NO_CREDENTIALS: &str =
    "send Authorization: Bearer with a platform admin token or a personal \
                              access token, or sign in to the tenant";

impl From<Refused> for ApiError {
    fn from(r: Refused) -> ApiError {
        match r {
            Refused::SignIn(_) => ApiError::unauthenticated(NO_CREDENTIALS),
            Refused::Invalid(m) => ApiError::unauthenticated(m),
            Refused::Failed(e) => e.into(),
        }
    }
}

/// The tenant a request is about: `/admin/v1/tenants/{tenant}/...`.
fn tenant_of(path: &str) -> Option<TenantSlug> {
    let rest = path.strip_prefix(super::BASE)?.strip_prefix("/tenants/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| TenantSlug::from(slug))
}

/// The caller of a request, with their name and role when they are a person.
async fn resolve(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = crate::http::state_of(req)?;
    let slug = tenant_of(req.path());
    let cookie_only = crate::auth::bearer(req).is_none()
        && slug
            .as_ref()
            .is_some_and(|s| crate::http::session::cookie_value(req, s).is_some());
    if cookie_only
        && !req.method().is_safe()
        && crate::http::foreign_origin(req, &state.config.public_url).is_some()
    {
        // A browser's cookie rides along on requests other sites make; only muster's own
        // pages may change things with it.
        return Err(ApiError::forbidden(
            "a request carrying the session cookie must come from muster's own pages",
        ));
    }
    match who::authenticate(&state, req, slug.as_ref(), Accepts::ADMIN).await? {
        who::Caller::Platform { name } => Ok(Caller::Platform { name }),
        who::Caller::Person { tenant, user, .. } => person(&state, tenant, user).await,
        who::Caller::Provisioner(_) => Err(ApiError::unauthenticated(NO_CREDENTIALS)),
    }
}

/// A person of a tenant with their name and role.
async fn person(state: &AppState, tenant: Tenant, user: UserId) -> Result<Caller, ApiError> {
    let (tid, uid) = (tenant.id.clone(), user.clone());
    let (name, role) = state
        .db
        .run(move |c| users::name_and_role(c, &tid, &uid))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the user no longer exists"))?;
    Ok(Caller::Person {
        tenant,
        user,
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
    match resolve(req.request()).await {
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
    let Ok(state) = crate::http::state_of(res.request()) else {
        return;
    };
    let Some(tenant) = tenant_of(&path).filter(|_| state.activity.enabled()) else {
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
        std::future::ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| internal(&"admin handler outside the authenticated scope")),
        )
    }
}
