//! Who is calling: the one place that decides who a bearer token or a session cookie belongs
//! to. Each surface says which kinds of caller it lets in ([`Accepts`]); a credential of
//! another kind opens nothing there and is not even looked up. The kind of a bearer comes
//! from its shape (`auth::classify`); its lookup from the module that owns it.

use super::session;
use crate::auth::scim_tokens::Provisioner;
use crate::auth::{self, Kind};
use crate::error::Error;
use crate::ids::{TenantSlug, UserId};
use crate::issuer::{self, access, clients};
use crate::state::AppState;
use crate::tenants::{self, Tenant};
use actix_web::HttpRequest;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A SCIM token or an OAuth client of the tenant: it provisions users and groups.
    Provisioner(Provisioner),
    /// A platform admin token: every tenant, through the admin API.
    Platform { name: String },
    /// A person of a tenant: through a session, a personal access token, a muster access
    /// token, or a token of the tenant's own IdP.
    Person {
        tenant: Tenant,
        user: UserId,
        via: Via,
    },
}

/// How a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The browser session of muster's own pages.
    Session,
    /// A personal access token.
    Personal,
    /// A muster access token, made for the tenant's apps.
    AccessToken,
    /// A token of the tenant's own IdP, through a TokenIntrospector.
    IdpToken,
}

/// Which callers a surface lets in.
#[derive(Debug, Clone, Copy)]
pub struct Accepts {
    pub provisioners: bool,
    pub platform: bool,
    /// People by their session or a personal access token.
    pub people: bool,
    /// People by the tokens made for the tenant's apps: muster access tokens and the IdP's.
    pub app_tokens: bool,
}

impl Accepts {
    /// The SCIM endpoint: provisioners.
    pub const SCIM: Accepts = Accepts {
        provisioners: true,
        platform: false,
        people: false,
        app_tokens: false,
    };
    /// Userinfo, the token endpoint and SCIM `/Me`: people, and the apps acting for them.
    pub const PEOPLE: Accepts = Accepts {
        provisioners: false,
        platform: false,
        people: true,
        app_tokens: true,
    };
    /// The admin API: platform admins, and people by their session or a personal access
    /// token (whose role decides the rest). Never a token made for the tenant's apps: an app
    /// that sees an admin's token must not be able to administer the tenant.
    pub const ADMIN: Accepts = Accepts {
        provisioners: false,
        platform: true,
        people: true,
        app_tokens: false,
    };
    /// `/metrics`: platform admins alone; its labels name every tenant.
    pub const PLATFORM: Accepts = Accepts {
        provisioners: false,
        platform: true,
        people: false,
        app_tokens: false,
    };
}

/// Why nobody is calling.
#[derive(Debug)]
pub enum Refused {
    /// No credentials, or a session that has ended: sign in.
    SignIn(String),
    /// Credentials that open nothing here: unknown, expired, revoked, of another kind or
    /// tenant, or their person is gone or deactivated.
    Invalid(String),
    /// muster could not tell (the database, say).
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        match e {
            Error::Unauthenticated(m) => Refused::Invalid(m),
            other => Refused::Failed(other),
        }
    }
}

impl From<crate::db::DbError> for Refused {
    fn from(e: crate::db::DbError) -> Refused {
        Refused::Failed(e.into())
    }
}

/// What a caller without credentials is told.
pub const NO_CREDENTIALS: &str = "sign in, or send a muster access token as the bearer";

/// The caller of a request: its bearer token, or else its session cookie for `slug`. A
/// bearer about one tenant (a SCIM token, a JWT) needs `slug`, the tenant in the URL.
///
/// # Errors
/// [`Refused`], saying why.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    slug: Option<&TenantSlug>,
    accepts: Accepts,
) -> Result<Caller, Refused> {
    if let Some(bearer) = auth::bearer(req) {
        return by_bearer(state, slug, bearer, accepts).await;
    }
    let cookie = slug.and_then(|s| session::cookie_value(req, s));
    match (slug, cookie) {
        (Some(slug), Some(sid)) if accepts.people => by_session(state, slug, sid).await,
        _ => Err(Refused::SignIn(NO_CREDENTIALS.into())),
    }
}

fn invalid(why: &str) -> Refused {
    Refused::Invalid(why.to_owned())
}

async fn by_bearer(
    state: &AppState,
    slug: Option<&TenantSlug>,
    bearer: String,
    accepts: Accepts,
) -> Result<Caller, Refused> {
    let kind = auth::classify(&bearer, &issuer::issuer(&state.config.public_url));
    let about = || {
        slug.cloned()
            .ok_or_else(|| invalid("the token opens only its tenant"))
    };
    match kind {
        Kind::Admin if accepts.platform => platform(state, bearer).await,
        Kind::Personal if accepts.people => personal(state, bearer).await,
        Kind::Scim if accepts.provisioners => scim_token(state, about()?, bearer).await,
        // An OAuth client's token (client credentials) opens SCIM, an access token people's
        // endpoints: each is verified only for the audience the surface serves.
        Kind::Muster if accepts.provisioners => client_token(state, about()?, bearer).await,
        Kind::Muster if accepts.app_tokens => access_token(state, about()?, bearer).await,
        Kind::Idp if accepts.app_tokens => idp_token(state, about()?, bearer).await,
        _ => Err(invalid("this credential does not open this endpoint")),
    }
}

async fn platform(state: &AppState, bearer: String) -> Result<Caller, Refused> {
    state
        .db
        .run(move |c| auth::admin_tokens::authenticate(c, &bearer))
        .await?
        .map(|name| Caller::Platform { name })
        .ok_or_else(|| invalid("the admin token is not valid"))
}

async fn personal(state: &AppState, bearer: String) -> Result<Caller, Refused> {
    state
        .db
        .run(move |c| auth::pats::authenticate(c, &bearer))
        .await?
        .map(|(tenant, user)| Caller::Person {
            tenant,
            user,
            via: Via::Personal,
        })
        .ok_or_else(|| {
            invalid(
                "the personal access token is not valid (revoked, expired, or its user is \
                 deactivated)",
            )
        })
}

async fn scim_token(state: &AppState, slug: TenantSlug, bearer: String) -> Result<Caller, Refused> {
    state
        .db
        .run(move |c| auth::scim_tokens::authenticate(c, &slug, &bearer))
        .await?
        .map(Caller::Provisioner)
        .ok_or_else(|| invalid("the bearer token is not valid for this tenant"))
}

async fn client_token(
    state: &AppState,
    slug: TenantSlug,
    bearer: String,
) -> Result<Caller, Refused> {
    let public_url = state.config.public_url.clone();
    state
        .db
        .run(move |c| clients::authenticate(c, &public_url, &slug, &bearer))
        .await?
        .map(Caller::Provisioner)
        .ok_or_else(|| invalid("the bearer token is not valid for this tenant"))
}

/// A muster access token of the tenant, whose user is still active.
async fn access_token(
    state: &AppState,
    slug: TenantSlug,
    bearer: String,
) -> Result<Caller, Refused> {
    let public_url = state.config.public_url.clone();
    let (tenant, user) = state
        .db
        .run(move |c| -> Result<_, Error> {
            let t = tenants::by_slug(c, &slug).map_err(unknown_tenant)?;
            let claims = access::verify(c, &public_url, &slug, &bearer)?;
            let user = UserId::from(claims.sub);
            if crate::people::users::active(c, &t.id, &user)? != Some(true) {
                return Err(Error::Unauthenticated(
                    "the token's user is not active".into(),
                ));
            }
            Ok((t, user))
        })
        .await?;
    Ok(Caller::Person {
        tenant,
        user,
        via: Via::AccessToken,
    })
}

/// A token of the tenant's own IdP, through its TokenIntrospectors.
async fn idp_token(state: &AppState, slug: TenantSlug, bearer: String) -> Result<Caller, Refused> {
    let tenant = state
        .db
        .run(move |c| tenants::by_slug(c, &slug).map_err(unknown_tenant))
        .await?;
    let user =
        crate::sso::introspect::authenticate(&state.db, state.outbound(), &tenant, &bearer).await?;
    Ok(Caller::Person {
        tenant,
        user,
        via: Via::IdpToken,
    })
}

async fn by_session(state: &AppState, slug: &TenantSlug, sid: String) -> Result<Caller, Refused> {
    let slug = slug.clone();
    let found = state
        .db
        .run(move |c| -> Result<_, Error> {
            let t = tenants::by_slug(c, &slug).map_err(unknown_tenant)?;
            let s = crate::auth::session::find(c, &t.id, &sid)?;
            Ok(s.map(|s| (t, s.user)))
        })
        .await?;
    match found {
        Some((tenant, user)) => Ok(Caller::Person {
            tenant,
            user,
            via: Via::Session,
        }),
        None => Err(Refused::SignIn("the session has ended; sign in".into())),
    }
}

/// Nobody can be signed in to a tenant that does not exist.
fn unknown_tenant(e: Error) -> Error {
    match e {
        Error::NotFound(m) => Error::Unauthenticated(m),
        other => other,
    }
}
