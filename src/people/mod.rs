//! A person's lifecycle in a tenant beyond SCIM: invitations, passwords (sign-in, throttling,
//! resets), and the admin's deactivate, reactivate and delete.

pub mod directory;
pub mod groups;
pub mod invites;
pub mod passwords;
pub mod throttle;
pub mod users;
