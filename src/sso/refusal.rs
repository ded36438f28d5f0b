//! Why a sign-in through an identity provider does not go ahead: each way it can fail, for
//! the page that tells the person what happened and what to do.

use crate::error::Error;

/// Why a sign-in does not go ahead.
#[derive(Debug)]
pub enum Refusal {
    /// There is no such tenant.
    UnknownTenant,
    /// The tenant (named) has no (active) provider by that name.
    UnknownIdp { tenant: String },
    /// The sign-in took too long, was already completed, or was started in another browser.
    Expired,
    /// The IdP's answer failed a check; the text says which.
    Refused(String),
    /// The IdP cannot be reached.
    Unreachable { title: String, why: String },
    /// No user of the tenant matches and its mode does not create one.
    NotProvisioned { tenant: String, idp: String },
    /// The user is deactivated.
    Inactive { tenant: String },
    /// The matching user is linked to another person at this provider.
    Conflict { tenant: String, idp: String },
    /// The userName would come from an address the IdP did not verify.
    EmailUnverified { idp: String },
    /// A new account would take a userName an existing account has.
    NameTaken {
        tenant: String,
        idp: String,
        name: String,
    },
    /// The IdP did not vouch for the invited address.
    InviteMismatch { invited: String, idp: String },
    /// The IdP identity already belongs to another user than the invited one.
    InviteConflict { tenant: String, idp: String },
    /// The invitation was accepted, has expired or was withdrawn.
    InviteDead,
    /// muster could not do its part.
    Failed(Error),
}

impl Refusal {
    /// A check the IdP's answer failed.
    pub fn refused(why: impl Into<String>) -> Refusal {
        Refusal::Refused(why.into())
    }

    /// A failure of muster's own.
    pub fn failed(cause: impl std::fmt::Display) -> Refusal {
        Refusal::Failed(Error::internal(cause))
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal::Failed(e)
    }
}

impl From<crate::db::DbError> for Refusal {
    fn from(e: crate::db::DbError) -> Refusal {
        Refusal::Failed(e.into())
    }
}
