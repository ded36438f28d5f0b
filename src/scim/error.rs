//! SCIM errors (RFC 7644 §3.12): the status as a string, a `scimType` where the RFC names one,
//! and a `detail` that tells the client what to fix. Internal failures are logged and answered
//! with a generic 500 that reveals nothing.

use crate::db::DbError;
use crate::error::Error;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use std::fmt;

/// The `scimType` values of RFC 7644 Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    Sensitive,
}

impl ScimType {
    fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// An error answered in SCIM's own format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds to wait, for a 429.
    pub retry_after: Option<i64>,
}

/// Result of SCIM operations.
pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    /// A 400 with the given `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// An error without a `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 404 for a resource that does not exist in this tenant.
    pub fn not_found(what: &str, id: &str) -> ScimError {
        ScimError::status(404, format!("{what} {id} not found"))
    }

    /// 409 `uniqueness`.
    pub fn conflict(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 500, after logging the cause; the client learns nothing of it.
    pub fn internal(cause: &dyn fmt::Display) -> ScimError {
        tracing::error!(error = %cause, "internal error");
        ScimError::status(500, "internal server error; the request was not applied")
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        resp.content_type(super::SCIM_JSON);
        if self.status == 401 {
            resp.insert_header(("WWW-Authenticate", "Bearer realm=\"muster\""));
        }
        if let Some(secs) = self.retry_after {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        let mut r = resp.body(self.body().to_string());
        if let Some(t) = self.scim_type {
            r.extensions_mut()
                .insert(crate::activity::ScimTypeTag(t.as_str().to_owned()));
        }
        r
    }
}

impl From<Error> for ScimError {
    fn from(e: Error) -> ScimError {
        match e {
            Error::NotFound(m) => ScimError::status(404, m),
            Error::Taken(m) => ScimError::conflict(m),
            Error::Conflict(m) => ScimError::status(409, m),
            Error::Invalid { message, .. } => ScimError::bad(ScimType::InvalidValue, message),
            Error::Unauthenticated(m) => ScimError::status(401, m),
            Error::Forbidden(m) => ScimError::status(403, m),
            Error::Unavailable(m) => ScimError::status(503, m),
            Error::Internal(m) => ScimError::internal(&m),
        }
    }
}

/// What a SCIM refusal means to the rest of muster (people and sign-in write users through
/// the SCIM store): its status, kept.
impl From<ScimError> for Error {
    fn from(e: ScimError) -> Error {
        match (e.status, e.scim_type) {
            (404, _) => Error::NotFound(e.detail),
            (409, Some(ScimType::Uniqueness)) => Error::Taken(e.detail),
            (409 | 412, _) => Error::Conflict(e.detail),
            (401, _) => Error::Unauthenticated(e.detail),
            (403, _) => Error::Forbidden(e.detail),
            (503, _) => Error::Unavailable(e.detail),
            (400..=499, _) => Error::invalid(e.detail),
            // Already logged where it was made; the detail reveals nothing.
            _ => Error::Internal(e.detail),
        }
    }
}

impl From<DbError> for ScimError {
    fn from(e: DbError) -> ScimError {
        Error::from(e).into()
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(e: diesel::result::Error) -> ScimError {
        Error::from(e).into()
    }
}
