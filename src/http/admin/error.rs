//! The admin API's errors: `{"code", "message", "field"}`. Codes are stable (scripts match on
//! them); messages are for people; `field` names the request field that was refused.

use crate::error::Error;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: u16,
    /// Stable: `unauthenticated`, `forbidden`, `not_found`, `already_exists`, `conflict`,
    /// `invalid`, `unavailable`, `internal`.
    pub code: &'static str,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// The request field that was refused, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The code of an error answer, for the activity log.
#[derive(Debug, Clone, Copy)]
pub struct Code(pub &'static str);

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with its status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 422 `invalid`, naming the field.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(422, "invalid", message).on(field)
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "unauthenticated", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    /// Names the field of an `invalid` error (other errors are about no one field).
    pub fn on(mut self, field: &str) -> ApiError {
        if self.code == "invalid" {
            self.field = Some(field.to_owned());
        }
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status_code());
        b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
        if self.status == 401 {
            b.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                r#"Bearer realm="muster admin""#,
            ));
        }
        let mut r = b.json(self);
        r.extensions_mut().insert(Code(self.code));
        r
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Taken(m) => ApiError::new(409, "already_exists", m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Invalid { field, message } => {
                let mut a = ApiError::new(422, "invalid", message);
                a.field = field.map(str::to_owned);
                a
            }
            Error::Conflict(m) => ApiError::new(409, "conflict", m),
            Error::Unauthenticated(m) => ApiError::unauthenticated(m),
            Error::Forbidden(m) => ApiError::forbidden(m),
            Error::Unavailable(m) => ApiError::new(503, "unavailable", m),
            Error::Internal(m) => internal(&m),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> ApiError {
        Error::from(e).into()
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> ApiError {
        Error::from(e).into()
    }
}

/// 500, with the cause in the log and not in the answer.
pub fn internal(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "admin request failed");
    ApiError::new(
        500,
        "internal",
        "muster could not do this; the log says why",
    )
}

/// The field a serde message is about (`missing field `x``, `unknown field `x``).
fn serde_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

/// Refused JSON bodies answer in the API's own form, naming the field where serde can.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1 << 20)
        .error_handler(|err, _req| {
            let message = err.to_string();
            let e = match &err {
                actix_web::error::JsonPayloadError::ContentType => ApiError::new(
                    415,
                    "invalid",
                    "send the body as JSON (Content-Type: application/json)",
                ),
                actix_web::error::JsonPayloadError::Deserialize(d) if d.is_data() => {
                    let field = serde_field(&d.to_string());
                    let mut e = ApiError::new(422, "invalid", d.to_string());
                    e.field = field;
                    e
                }
                _ => ApiError::new(
                    400,
                    "invalid",
                    format!("the body is not valid JSON: {message}"),
                ),
            };
            e.into()
        })
}

/// Refused query strings, likewise.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = err.to_string();
        let mut e = ApiError::new(422, "invalid", message.clone());
        e.field = serde_field(&message);
        e.into()
    })
}

/// Refused path segments, likewise.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| ApiError::not_found(format!("no such resource: {err}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            serde_field("missing field `email` at line 1 column 2").as_deref(),
            Some("email")
        );
        assert_eq!(serde_field("expected value"), None);
    }
}
