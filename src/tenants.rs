//! Tenants: the registry every other module hangs off. A tenant has a slug (its URLs), a name,
//! a provisioning mode, its SCIM rate limits, whether SCIM may set passwords, and the URLs
//! sign-ins may return to.

use crate::db::schema::{redirect_targets, tenants};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, TenantSlug};
use diesel::prelude::*;
use std::fmt;
use std::str::FromStr;

/// How people get into a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Mode {
    /// The IdP pushes users over SCIM and is the source of truth.
    Scim,
    /// A user is created at their first valid IdP login.
    Jit,
    /// Nobody gets in without an invitation.
    Invite,
}

impl Mode {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Scim => "scim",
            Mode::Jit => "jit",
            Mode::Invite => "invite",
        }
    }
}

crate::ids::stored_as_text!(Mode);

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub mode: Mode,
    pub created_at: String,
    /// SCIM requests per minute per credential; 0 is no limit.
    pub scim_rate_limit: i32,
    /// SCIM requests per minute per client address; 0 is no limit.
    pub address_rate_limit: i32,
    /// SCIM clients may set passwords (never an admin's); off unless turned on.
    pub scim_passwords: bool,
}

/// The error for a slug that names no tenant.
pub fn unknown(slug: &TenantSlug) -> Error {
    Error::NotFound(format!("no tenant {:?}", slug.as_str()))
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
        Err(Error::invalid_field(
            "slug",
            format!("invalid slug {slug:?}: use 1-63 lower-case letters, digits and '-'"),
        ))
    }
}

/// Creates a tenant.
///
/// # Errors
/// An invalid or taken slug.
pub fn create(
    c: &mut DbConn,
    slug: &TenantSlug,
    name: Option<&str>,
    mode: Mode,
) -> Result<Tenant, Error> {
    check_slug(slug.as_str())?;
    let t = Tenant {
        id: crate::ids::new_uuid(),
        slug: slug.clone(),
        name: name.unwrap_or(slug.as_str()).to_owned(),
        mode,
        created_at: now(),
        scim_rate_limit: 0,
        address_rate_limit: 0,
        scim_passwords: false,
    };
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(&t.id),
            tenants::slug.eq(&t.slug),
            tenants::name.eq(&t.name),
            tenants::mode.eq(t.mode),
            tenants::created_at.eq(&t.created_at),
        ))
        .execute(c)
        .map_err(|e| match e {
            e if crate::db::is_unique_violation(&e) => {
                Error::Taken(format!("tenant {:?} already exists", slug.as_str()))
            }
            e => e.into(),
        })?;
    Ok(t)
}

/// All tenants by slug.
///
/// # Errors
/// Database errors, a stored mode muster does not know.
pub fn list(c: &mut DbConn) -> Result<Vec<Tenant>, Error> {
    Ok(tenants::table
        .order(tenants::slug)
        .select(Tenant::as_select())
        .load(c)?)
}

/// The tenant with this slug: how every edge (URL, command line) resolves the tenant it names.
///
/// # Errors
/// [`Error::NotFound`].
pub fn by_slug(c: &mut DbConn, slug: &TenantSlug) -> Result<Tenant, Error> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| unknown(slug))
}

/// The tenant with this id.
///
/// # Errors
/// [`Error::NotFound`].
pub fn get(c: &mut DbConn, tenant: &TenantId) -> Result<Tenant, Error> {
    tenants::table
        .find(tenant)
        .select(Tenant::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::NotFound("the tenant no longer exists".into()))
}

/// Switches a tenant's provisioning mode; users are kept.
///
/// # Errors
/// Database errors.
pub fn set_mode(c: &mut DbConn, tenant: &TenantId, mode: Mode) -> Result<(), Error> {
    diesel::update(tenants::table.find(tenant))
        .set(tenants::mode.eq(mode))
        .execute(c)?;
    Ok(())
}

/// Sets a tenant's SCIM rate limits (requests per minute; 0 is none); `None` keeps one.
///
/// # Errors
/// A negative limit.
pub fn set_limits(
    c: &mut DbConn,
    tenant: &TenantId,
    per_credential: Option<i32>,
    per_address: Option<i32>,
) -> Result<(), Error> {
    if per_credential.is_some_and(|n| n < 0) || per_address.is_some_and(|n| n < 0) {
        return Err(Error::invalid(
            "a limit is a number of requests per minute; 0 is no limit",
        ));
    }
    if let Some(n) = per_credential {
        diesel::update(tenants::table.find(tenant))
            .set(tenants::scim_rate_limit.eq(n))
            .execute(c)?;
    }
    if let Some(n) = per_address {
        diesel::update(tenants::table.find(tenant))
            .set(tenants::address_rate_limit.eq(n))
            .execute(c)?;
    }
    Ok(())
}

/// Lets SCIM clients set passwords, or stops them.
///
/// # Errors
/// Database errors.
pub fn set_scim_passwords(c: &mut DbConn, tenant: &TenantId, on: bool) -> Result<(), Error> {
    diesel::update(tenants::table.find(tenant))
        .set(tenants::scim_passwords.eq(on))
        .execute(c)?;
    Ok(())
}

/// Allows `return_to` URLs that start with `prefix`, an absolute http(s) URL. It is stored in
/// parsed form, whose origin ends with `/`, so `https://app.example.com` does not also allow
/// `https://app.example.com.evil.example`. Adding one twice is harmless.
///
/// # Errors
/// Unknown tenant, a prefix that is not such a URL.
pub fn allow_redirect(c: &mut DbConn, tenant: &TenantId, prefix: &str) -> Result<(), Error> {
    let url = url::Url::parse(prefix)
        .map_err(|e| Error::invalid(format!("{prefix:?} is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Error::invalid(format!(
            "{prefix:?} must be an http or https URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::invalid(format!(
            "{prefix:?} must not carry a query, fragment or user name"
        )));
    }
    // The parsed form ends its origin with '/', so a prefix match cannot run into the host.
    let prefix = url.to_string();
    let added = diesel::insert_into(redirect_targets::table)
        .values((
            redirect_targets::tenant_id.eq(tenant),
            redirect_targets::prefix.eq(&prefix),
            redirect_targets::created_at.eq(now()),
        ))
        .execute(c);
    match added {
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Stops allowing a prefix.
///
/// # Errors
/// Unknown tenant or prefix.
pub fn disallow_redirect(c: &mut DbConn, tenant: &TenantId, prefix: &str) -> Result<(), Error> {
    let normal = url::Url::parse(prefix)
        .map(|u| u.to_string())
        .unwrap_or_default();
    let n = diesel::delete(
        redirect_targets::table
            .filter(redirect_targets::tenant_id.eq(tenant))
            .filter(redirect_targets::prefix.eq_any([prefix, normal.as_str()])),
    )
    .execute(c)?;
    if n == 0 {
        return Err(Error::invalid(format!(
            "{prefix:?} is not an allowed return_to of this tenant"
        )));
    }
    Ok(())
}

/// The tenant's allowed `return_to` prefixes.
///
/// # Errors
/// Database errors.
pub fn redirects(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<String>, Error> {
    Ok(redirect_targets::table
        .filter(redirect_targets::tenant_id.eq(tenant))
        .order(redirect_targets::prefix)
        .select(redirect_targets::prefix)
        .load(c)?)
}

/// The `return_to` to honour: an absolute URL that starts with an allowed prefix, compared
/// after parsing (so encodings, `//host`, `\` and user-info tricks cannot slip through).
/// Anything else is dropped.
pub fn checked_return_to(candidate: &str, allowed: &[String]) -> Option<String> {
    let candidate = candidate.trim();
    if candidate.is_empty() || candidate.chars().any(char::is_control) {
        return None;
    }
    let url = url::Url::parse(candidate).ok()?;
    if !matches!(url.scheme(), "https" | "http") || !url.username().is_empty() {
        return None;
    }
    let text = url.to_string();
    allowed
        .iter()
        .any(|p| text.starts_with(p.as_str()))
        .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::checked_return_to;

    #[test]
    fn return_to_needs_an_allowed_prefix_after_parsing() {
        let allowed = vec!["https://app.example.com/".to_owned()];
        let ok = checked_return_to("https://app.example.com/home?x=1", &allowed);
        assert_eq!(ok.as_deref(), Some("https://app.example.com/home?x=1"));
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "https://app.example.com.evil.example/",
            "https://app.example.com@evil.example/",
            "javascript:alert(1)",
            "https://app.example.com/\r\nSet-Cookie: x=1",
            "HTTPS://APP.EXAMPLE.COM:443/../../",
        ] {
            let got = checked_return_to(bad, &allowed);
            assert!(
                got.is_none()
                    || got
                        .as_deref()
                        .is_some_and(|g| g.starts_with("https://app.example.com/")),
                "{bad} gave {got:?}"
            );
        }
        assert!(checked_return_to("https://evil.example/", &allowed).is_none());
        assert!(checked_return_to("//evil.example", &allowed).is_none());
        assert!(checked_return_to("https://app.example.com.evil.example/", &allowed).is_none());
        assert!(checked_return_to("https://app.example.com@evil.example/", &allowed).is_none());
    }
}
