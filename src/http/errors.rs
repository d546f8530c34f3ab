//! The one mapping from `oauth::Error` to an HTTP response (RFC 6749 §5.2).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::oauth::{Error, ErrorCode};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// The one status table: RFC 6749 §5.2 (400, 401 for client
/// authentication), RFC 6750 §3.1 (401 invalid_token, 403 insufficient_scope).
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Newtype so the actix trait can be implemented here, outside `oauth`.
#[derive(Debug)]
pub struct OAuthError(pub Error);

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        OAuthError(e)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<OAuthError> for HttpResponse {
    fn from(e: OAuthError) -> Self {
        e.error_response()
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        status_of(self.0.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Some(seconds) = self.0.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.0.code == ErrorCode::InvalidClient && self.0.basic_challenge {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                r#"Basic realm="portcullis", charset="UTF-8""#,
            ));
        }
        res.json(ErrorBody {
            error: self.0.code.as_str(),
            error_description: self.0.description.as_deref(),
        })
    }
}
