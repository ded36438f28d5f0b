//! A password a SCIM write carries, when the tenant lets SCIM set passwords. It is hashed
//! before the transaction (argon2 must not hold the write lock); inside it, against the user
//! as written, it is refused when it names the person and skipped for a tenant admin, and a
//! change ends the person's sessions and outstanding reset links.

use crate::auth::password::check_policy;
use crate::db::schema::users;
use crate::db::DbConn;
use crate::ids::{TenantId, UserId};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::resource::Doc;
use diesel::prelude::*;
use serde_json::Value;

/// A new password: as sent (for the policy) and hashed.
pub struct Password {
    pub plain: String,
    pub hash: String,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// The hash to store for `user` (none for a user not created yet), or none when the password
/// is not to be set.
///
/// # Errors
/// 400 `invalidValue` when the password fails the policy against the user's own names.
pub(super) fn to_store(
    c: &mut DbConn,
    tenant: &TenantId,
    user: Option<&str>,
    doc: &Doc,
    password: Option<Password>,
) -> ScimResult<Option<String>> {
    let Some(p) = password else {
        return Ok(None);
    };
    if let Some(id) = user {
        let role: Option<String> = users::table
            .filter(users::tenant_id.eq(tenant))
            .filter(users::id.eq(id))
            .select(users::role)
            .first(c)
            .optional()?;
        // A SCIM credential must not be able to choose the password of a tenant admin: that
        // would make an IdP sync an admin sign-in. The rest of the write applies.
        if role.as_deref() == Some("admin") {
            tracing::warn!(
                tenant = %tenant,
                user = id,
                "a SCIM write carried a password for a tenant admin; not set"
            );
            return Ok(None);
        }
    }
    check_policy(
        &p.plain,
        &identities(doc)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .map_err(|why| ScimError::bad(ScimType::InvalidValue, format!("password: {why}")))?;
    Ok(Some(p.hash))
}

/// After a password is stored: the person's sessions end and their reset links stop working.
pub(super) fn changed(c: &mut DbConn, user: &str) -> ScimResult<()> {
    crate::auth::password_changed(c, &UserId::from(user))?;
    Ok(())
}

/// The names a password must not be: the userName and every email address.
fn identities(doc: &Doc) -> Vec<String> {
    let mut out: Vec<String> = doc
        .get("userName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(Value::Array(emails)) = doc.get("emails") {
        out.extend(
            emails
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_owned),
        );
    }
    out
}
