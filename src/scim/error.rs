//! SCIM errors (RFC 7644 §3.12): the status as a string, a `scimType` where the RFC names one,
//! and a `detail` that tells the client what to fix. Internal failures are logged and answered
//! with a generic 500 that reveals nothing.

use crate::db::DbError;
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

impl From<DbError> for ScimError {
    fn from(e: DbError) -> ScimError {
        match e {
            DbError::Connection(_) => {
                tracing::error!(error = %e, "database unavailable");
                ScimError::status(503, "the database is unavailable; retry later")
            }
            other => ScimError::internal(&other),
        }
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(e: diesel::result::Error) -> ScimError {
        ScimError::from(DbError::Query(e))
    }
}
