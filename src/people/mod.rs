//! A person's lifecycle in a tenant beyond SCIM: invitations, passwords (sign-in, throttling,
//! resets), and the admin's deactivate, reactivate and delete.

pub mod groups;
pub mod http;
pub mod invites;
pub mod passwords;
pub mod pats;
pub mod users;

use crate::error::Error;
use crate::scim::error::ScimError;

/// Turns a SCIM-layer error from the store into a tenant error with its message.
pub(crate) fn scim(e: ScimError) -> Error {
    Error::invalid(e.detail)
}
