//! A person's lifecycle in a tenant beyond SCIM: invitations, passwords (sign-in, throttling,
//! resets), and the admin's deactivate, reactivate and delete.

pub mod groups;
pub mod http;
pub mod invites;
pub mod passwords;
pub mod pats;
pub mod users;

use crate::scim::error::ScimError;
use crate::tenants::TenantError;

/// Turns a SCIM-layer error from the store into a tenant error with its message.
pub(crate) fn scim(e: ScimError) -> TenantError {
    TenantError::Invalid(e.detail)
}
