//! Tenants and their SCIM bearer tokens.

use crate::auth::secret;
use crate::db::schema::{scim_tokens, tenants};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use std::fmt;
use std::str::FromStr;

/// How people get into a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The IdP pushes users over SCIM and is the source of truth.
    Scim,
    /// A user is created at their first valid IdP login.
    Jit,
    /// Nobody gets in without an invitation.
    Invite,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Scim => "scim",
            Mode::Jit => "jit",
            Mode::Invite => "invite",
        })
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.to_ascii_lowercase().as_str() {
            "scim" => Ok(Mode::Scim),
            "jit" => Ok(Mode::Jit),
            "invite" => Ok(Mode::Invite),
            other => Err(format!("unknown mode {other:?}: use scim, jit or invite")),
        }
    }
}

/// A tenant row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub mode: String,
    pub created_at: String,
    /// SCIM requests per minute per credential; 0 is no limit.
    pub scim_rate_limit: i32,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: i32,
}

/// The error for a slug that names no tenant.
pub fn unknown(slug: &str) -> Error {
    Error::NotFound(format!("no tenant {slug:?}"))
}

/// A slug is what appears in URLs: lower-case letters, digits and `-`, 1 to 63 characters.
///
/// # Errors
/// A message saying what is allowed.
pub fn check_slug(slug: &str) -> Result<(), Error> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid slug {slug:?}: use 1-63 lower-case letters, digits and '-'"
        )))
    }
}

/// Creates a tenant.
///
/// # Errors
/// An invalid or taken slug.
pub fn create(c: &mut DbConn, slug: &str, name: Option<&str>, mode: Mode) -> Result<Tenant, Error> {
    check_slug(slug)?;
    let t = Tenant {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_owned(),
        name: name.unwrap_or(slug).to_owned(),
        mode: mode.to_string(),
        created_at: now(),
        scim_rate_limit: 0,
        address_rate_limit: 0,
    };
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(&t.id),
            tenants::slug.eq(&t.slug),
            tenants::name.eq(&t.name),
            tenants::mode.eq(&t.mode),
            tenants::created_at.eq(&t.created_at),
        ))
        .execute(c)
        .map_err(|e| match e {
            e if crate::db::is_unique_violation(&e) => {
                Error::Taken(format!("tenant {slug:?} already exists"))
            }
            e => e.into(),
        })?;
    Ok(t)
}

/// All tenants by slug.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn) -> Result<Vec<Tenant>, Error> {
    Ok(tenants::table
        .order(tenants::slug)
        .select(Tenant::as_select())
        .load(c)?)
}

/// The tenant with this slug.
///
/// # Errors
/// [`Error::NotFound`].
pub fn by_slug(c: &mut DbConn, slug: &str) -> Result<Tenant, Error> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| unknown(slug))
}

/// Switches a tenant's provisioning mode; users are kept.
///
/// # Errors
/// [`Error::NotFound`].
pub fn set_mode(c: &mut DbConn, slug: &str, mode: Mode) -> Result<(), Error> {
    let n = diesel::update(tenants::table.filter(tenants::slug.eq(slug)))
        .set(tenants::mode.eq(mode.to_string()))
        .execute(c)?;
    if n == 0 {
        return Err(unknown(slug));
    }
    Ok(())
}

/// A SCIM token as listed (never the secret).
#[derive(Debug, Clone, Queryable)]
pub struct TokenInfo {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// Creates a SCIM token and returns the secret, which is not stored and cannot be shown again.
///
/// # Errors
/// Unknown tenant, taken name.
pub fn create_token(c: &mut DbConn, slug: &str, name: &str) -> Result<String, Error> {
    let t = by_slug(c, slug)?;
    let token = secret::generate("mst_scim_");
    diesel::insert_into(scim_tokens::table)
        .values((
            scim_tokens::id.eq(uuid::Uuid::new_v4().to_string()),
            scim_tokens::tenant_id.eq(&t.id),
            scim_tokens::name.eq(name),
            scim_tokens::token_hash.eq(secret::hash(&token)),
            scim_tokens::created_at.eq(now()),
        ))
        .execute(c)
        .map_err(|e| match e {
            e if crate::db::is_unique_violation(&e) => {
                Error::Taken(format!(
                    "tenant {slug:?} already has a token named {name:?}; pick another name or revoke it"
                ))
            }
            e => e.into(),
        })?;
    Ok(token)
}

/// A tenant's tokens by name.
///
/// # Errors
/// Unknown tenant.
pub fn list_tokens(c: &mut DbConn, slug: &str) -> Result<Vec<TokenInfo>, Error> {
    let t = by_slug(c, slug)?;
    Ok(scim_tokens::table
        .filter(scim_tokens::tenant_id.eq(&t.id))
        .order(scim_tokens::name)
        .select((
            scim_tokens::name,
            scim_tokens::created_at,
            scim_tokens::last_used_at,
        ))
        .load(c)?)
}

/// Revokes (deletes) a token; requests bearing it fail from the next one on.
///
/// # Errors
/// Unknown tenant or token.
pub fn revoke_token(c: &mut DbConn, slug: &str, name: &str) -> Result<(), Error> {
    let t = by_slug(c, slug)?;
    let n = diesel::delete(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(&t.id))
            .filter(scim_tokens::name.eq(name)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "tenant {slug:?} has no token named {name:?}"
        )));
    }
    Ok(())
}

/// The tenant a SCIM request may act on: found only when `token` belongs to tenant `slug`.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub tenant_id: String,
    pub mode: String,
    pub token_name: String,
    /// The tenant's rate limits (requests per minute; 0 is none): per credential, per address.
    pub limits: (i32, i32),
}

/// Checks a bearer token against a tenant. Records the last use at most once a minute, so
/// authentication does not turn every read into a write.
///
/// # Errors
/// Database errors; `Ok(None)` for any token that does not open this tenant.
pub fn authenticate(
    c: &mut DbConn,
    slug: &str,
    token: &str,
) -> Result<Option<ScimCaller>, DieselError> {
    type Row = (String, String, String, String, Option<String>, (i32, i32));
    let found: Option<Row> = scim_tokens::table
        .inner_join(tenants::table.on(tenants::id.eq(scim_tokens::tenant_id)))
        .filter(scim_tokens::token_hash.eq(secret::hash(token)))
        .filter(tenants::slug.eq(slug))
        .select((
            tenants::id,
            tenants::mode,
            scim_tokens::id,
            scim_tokens::name,
            scim_tokens::last_used_at,
            (tenants::scim_rate_limit, tenants::address_rate_limit),
        ))
        .first(c)
        .optional()?;
    let Some((tenant_id, mode, token_id, token_name, last_used, limits)) = found else {
        return Ok(None);
    };
    if let Some(stamp) = crate::auth::last_use_due(last_used.as_deref()) {
        diesel::update(scim_tokens::table.filter(scim_tokens::id.eq(&token_id)))
            .set(scim_tokens::last_used_at.eq(stamp))
            .execute(c)?;
    }
    Ok(Some(ScimCaller {
        tenant_id,
        mode,
        token_name,
        limits,
    }))
}

/// Sets a tenant's SCIM rate limits (requests per minute; 0 is none); `None` keeps one.
///
/// # Errors
/// [`Error::NotFound`], a negative limit.
pub fn set_limits(
    c: &mut DbConn,
    slug: &str,
    per_credential: Option<i32>,
    per_address: Option<i32>,
) -> Result<(), Error> {
    if per_credential.is_some_and(|n| n < 0) || per_address.is_some_and(|n| n < 0) {
        return Err(Error::invalid(
            "a limit is a number of requests per minute; 0 is no limit",
        ));
    }
    let t = by_slug(c, slug)?;
    if let Some(n) = per_credential {
        diesel::update(tenants::table.find(&t.id))
            .set(tenants::scim_rate_limit.eq(n))
            .execute(c)?;
    }
    if let Some(n) = per_address {
        diesel::update(tenants::table.find(&t.id))
            .set(tenants::address_rate_limit.eq(n))
            .execute(c)?;
    }
    Ok(())
}

/// A tenant's SCIM rate limits: per credential, per client address.
///
/// # Errors
/// [`Error::NotFound`].
pub fn limits(c: &mut DbConn, slug: &str) -> Result<(i32, i32), Error> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select((tenants::scim_rate_limit, tenants::address_rate_limit))
        .first(c)
        .optional()?
        .ok_or_else(|| unknown(slug))
}
