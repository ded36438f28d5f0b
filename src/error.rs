//! The domain error: what went wrong, in terms each surface answers in its own form. The SCIM
//! endpoint turns it into a SCIM Error, the admin API into `{code, message, field}`, the pages
//! into an HTML page, the token endpoints into an OAuth error; each does so in one `From`.
//!
//! Database failures are mapped here once: a pool that hands out no connection in time is
//! [`Error::Unavailable`] (503 everywhere), any other database error is [`Error::Internal`].

use crate::db::DbError;

/// What can go wrong in muster's domain and store functions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the request names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A name or value that is already taken (409: `already_exists`, SCIM `uniqueness`).
    #[error("{0}")]
    Taken(String),
    /// The request clashes with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// A value the request got wrong; `field` names it when one field is at fault.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// The credentials presented open nothing: unknown, expired, revoked, or their person is
    /// not (or no longer) allowed in (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// muster cannot serve the request now (no database connection in time): retry (503).
    #[error("{0}")]
    Unavailable(String),
    /// A failure of muster's own. The text is for the log, never for the caller (500).
    #[error("{0}")]
    Internal(String),
}

/// The result of domain and store functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`Error::Invalid`] about no one field.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// [`Error::Invalid`] about `field`.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// [`Error::Internal`] from any cause.
    pub fn internal(cause: impl std::fmt::Display) -> Error {
        Error::Internal(cause.to_string())
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        match e {
            DbError::Connection(_) => {
                tracing::warn!(error = %e, "no database connection in time");
                Error::Unavailable("the database is busy; try again shortly".into())
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Error {
        Error::Internal(e.to_string())
    }
}
