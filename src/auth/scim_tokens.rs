//! SCIM bearer tokens: what an IdP's provisioning (Okta, Entra ID) sends to its tenant's SCIM
//! endpoint. A token opens that one tenant.

use super::shelf::Shelf;
use super::{record_use, secret, Listed, SCIM_PREFIX};
use crate::db::schema::{scim_tokens as st, tenants};
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, TenantSlug};
use crate::tenants::Mode;
use diesel::prelude::*;

/// Who is provisioning a tenant: a SCIM token or an OAuth client of it.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub tenant: TenantId,
    pub mode: Mode,
    /// The token's name (`client <name>` for an OAuth client), for the activity log.
    pub name: String,
    /// The tenant's rate limits (requests per minute; 0 is none): per credential, per address.
    pub limits: (i32, i32),
    /// The tenant lets SCIM set passwords.
    pub passwords: bool,
}

fn shelf(tenant: &TenantId) -> Shelf<'_> {
    Shelf {
        table: "scim_tokens",
        owner: vec![("tenant_id", tenant.as_str())],
    }
}

/// Creates a SCIM token and returns the secret, which is not stored and cannot be shown again.
///
/// # Errors
/// A bad or taken name.
pub fn create(c: &mut DbConn, tenant: &TenantId, name: &str) -> Result<String, Error> {
    let taken = |name: &str| {
        format!("this tenant already has a token named {name:?}; pick another name or revoke it")
    };
    Ok(shelf(tenant)
        .make(c, SCIM_PREFIX, name, Vec::new(), taken)?
        .1)
}

/// A tenant's tokens by name.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn, tenant: &TenantId) -> Result<Vec<Listed>, Error> {
    shelf(tenant).list(c, false, "name")
}

/// Revokes (deletes) a token; requests bearing it fail from the next one on.
///
/// # Errors
/// [`Error::NotFound`] for an unknown name.
pub fn revoke(c: &mut DbConn, tenant: &TenantId, name: &str) -> Result<(), Error> {
    if !shelf(tenant).revoke(c, "name", name)? {
        return Err(Error::NotFound(format!(
            "this tenant has no token named {name:?}"
        )));
    }
    Ok(())
}

/// The provisioner behind a SCIM token, when it belongs to the tenant `slug` (one query for
/// both: this runs on every SCIM request).
///
/// # Errors
/// Database errors; `Ok(None)` for any token that does not open this tenant.
pub fn authenticate(
    c: &mut DbConn,
    slug: &TenantSlug,
    token: &str,
) -> Result<Option<Provisioner>, Error> {
    type Row = (
        TenantId,
        Mode,
        String,
        String,
        Option<String>,
        (i32, i32),
        bool,
    );
    let found: Option<Row> = st::table
        .inner_join(tenants::table.on(tenants::id.eq(st::tenant_id)))
        .filter(st::token_hash.eq(secret::hash(token)))
        .filter(tenants::slug.eq(slug))
        .select((
            tenants::id,
            tenants::mode,
            st::id,
            st::name,
            st::last_used_at,
            (tenants::scim_rate_limit, tenants::address_rate_limit),
            tenants::scim_passwords,
        ))
        .first(c)
        .optional()?;
    let Some((tenant, mode, id, name, last_used, limits, passwords)) = found else {
        return Ok(None);
    };
    record_use(c, "scim_tokens", "id", &id, last_used.as_deref())?;
    Ok(Some(Provisioner {
        tenant,
        mode,
        name,
        limits,
        passwords,
    }))
}
