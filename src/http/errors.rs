//! One renderer per kind of answer, each the only place its status table
//! and body live, and each logging a server-side failure once, with its
//! cause, where the response is made:
//!
//! - [`OAuthError`]: RFC 6749 §5.2 JSON, at `/token`, `/introspect`, `/revoke`;
//! - [`RegisterError`]: at `/register` (RFC 7591 §3.2.2), the same JSON, or
//!   RFC 6750's challenge for a bad initial or registration access token;
//! - [`BearerError`]: RFC 6750 §3 (`WWW-Authenticate: Bearer`), at `/userinfo`
//!   and for the admin API's token;
//! - [`PageError`]: a readable HTML page, for the browser flows;
//! - [`AdminError`]: the admin API's JSON problems.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

use super::pages;
use crate::accounts::AccountError;
use crate::keys::KeyError;
use crate::oauth::clients::RegistrationError;
use crate::oauth::{Error, ErrorCode};
use crate::store::StoreError;

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

/// An `oauth::Error` as RFC 6749 §5.2 JSON. (Its cause, for a server
/// error, was logged where it became an `oauth::Error`: `oauth::error`.)
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
        if let Some(nonce) = &self.0.dpop_nonce {
            res.insert_header((crate::http::extract::DPOP_NONCE, nonce.as_str()));
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

/// A registration endpoint's failure (RFC 7591 §3.2.2, RFC 7592 §2): a bad
/// initial or registration access token is a bearer token's failure and
/// carries RFC 6750's challenge; anything else is the JSON of
/// [`OAuthError`], without one (an open endpoint asks for no token).
#[derive(Debug)]
pub struct RegisterError(pub Error);

impl From<Error> for RegisterError {
    fn from(e: Error) -> Self {
        RegisterError(e)
    }
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for RegisterError {
    fn status_code(&self) -> StatusCode {
        status_of(self.0.code)
    }

    fn error_response(&self) -> HttpResponse {
        if self.0.code == ErrorCode::InvalidToken {
            BearerError::new(self.0.clone()).error_response()
        } else {
            OAuthError(self.0.clone()).error_response()
        }
    }
}

/// An RFC 6750 §3 / RFC 9449 §7.1 answer at a protected resource: no
/// token at all (a bare challenge for both schemes), or the error the
/// challenge names — in the DPoP scheme when the token came that way or
/// the proof is at fault.
#[derive(Debug)]
pub struct BearerError {
    pub error: Option<Error>,
    pub dpop: bool,
}

impl BearerError {
    pub fn missing() -> Self {
        BearerError {
            error: None,
            dpop: false,
        }
    }

    pub fn new(error: Error) -> Self {
        BearerError {
            error: Some(error),
            dpop: false,
        }
    }

    /// The token was presented with the DPoP scheme.
    pub fn dpop(mut self, dpop: bool) -> Self {
        self.dpop |= dpop;
        self
    }
}

impl From<Error> for BearerError {
    fn from(e: Error) -> Self {
        BearerError::new(e)
    }
}

impl From<StoreError> for BearerError {
    fn from(e: StoreError) -> Self {
        BearerError::new(e.into())
    }
}

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => e.fmt(f),
            None => f.write_str("no access token"),
        }
    }
}

/// `algs` of the DPoP challenge (RFC 9449 §7.1).
fn dpop_algs() -> String {
    crate::oauth::dpop::ALGS.join(" ")
}

fn is_dpop_code(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce)
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        match &self.error {
            None => StatusCode::UNAUTHORIZED,
            Some(e) if is_dpop_code(e.code) => StatusCode::UNAUTHORIZED,
            Some(e) => status_of(e.code),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let Some(error) = &self.error else {
            return HttpResponse::Unauthorized()
                .append_header((header::WWW_AUTHENTICATE, r#"Bearer realm="portcullis""#))
                .append_header((
                    header::WWW_AUTHENTICATE,
                    format!(r#"DPoP algs="{}""#, dpop_algs()),
                ))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        };
        // A failure on our side is not the token's fault: the OAuth body,
        // without a challenge that would send the client for a new token.
        if !matches!(
            error.code,
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope | ErrorCode::InvalidRequest
        ) && !is_dpop_code(error.code)
        {
            return OAuthError(error.clone()).error_response();
        }
        let description = error.description.as_deref().unwrap_or("");
        let fields = format!(
            r#"error="{}", error_description="{}""#,
            error.code.as_str(),
            description.replace(['"', '\\'], "")
        );
        let challenge = if self.dpop || is_dpop_code(error.code) {
            format!(r#"DPoP {fields}, algs="{}""#, dpop_algs())
        } else {
            format!(r#"Bearer realm="portcullis", {fields}"#)
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(nonce) = &error.dpop_nonce {
            res.insert_header((crate::http::extract::DPOP_NONCE, nonce.as_str()));
        }
        res.json(json!({"error": error.code.as_str(), "error_description": description}))
    }
}

/// A browser flow's failure, as a readable page.
#[derive(Debug)]
pub enum PageError {
    /// The request cannot be served as sent: a 400 page saying why.
    BadRequest {
        title: &'static str,
        message: Cow<'static, str>,
    },
    /// A sign-in page that expired or was opened in another browser.
    Expired,
    /// The database cannot be reached (503). The cause goes to the log.
    Unavailable(String),
    /// Anything else that is our fault (500). The cause goes to the log.
    Internal(String),
}

impl PageError {
    pub fn sign_in(message: impl Into<Cow<'static, str>>) -> Self {
        PageError::BadRequest {
            title: "Cannot sign in",
            message: message.into(),
        }
    }

    pub fn sign_out(message: impl Into<Cow<'static, str>>) -> Self {
        PageError::BadRequest {
            title: "Cannot sign out",
            message: message.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => PageError::Unavailable(e.to_string()),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::BadRequest { message, .. } => f.write_str(message),
            PageError::Expired => f.write_str("the sign-in page has expired"),
            PageError::Unavailable(cause) | PageError::Internal(cause) => f.write_str(cause),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest { .. } | PageError::Expired => StatusCode::BAD_REQUEST,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::BadRequest { title, message } => {
                pages::error(self.status_code(), title, message)
            }
            PageError::Expired => pages::error(
                self.status_code(),
                "Cannot sign in",
                "This sign-in page has expired or was opened in another browser. Go back to the application and start again.",
            ),
            PageError::Unavailable(cause) => {
                tracing::error!(error = %cause, "page unavailable: database error");
                pages::error(
                    self.status_code(),
                    "Temporarily unavailable",
                    "Portcullis cannot complete this request right now. Please try again in a moment.",
                )
            }
            PageError::Internal(cause) => {
                tracing::error!(error = %cause, "page failed");
                pages::error(
                    self.status_code(),
                    "Something went wrong",
                    "Portcullis could not complete this request. The error has been logged.",
                )
            }
        }
    }
}

/// The admin API's answers when something is not as asked.
#[derive(Debug)]
pub enum AdminError {
    /// The bearer token is missing, invalid or lacks the admin scope.
    Token(BearerError),
    NotFound(String),
    Conflict(String),
    Invalid(String),
    /// The database cannot be reached (503). The cause goes to the log.
    Unavailable(String),
    /// Anything else that is our fault (500). The cause goes to the log.
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => AdminError::Unavailable(e.to_string()),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<KeyError> for AdminError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(s) => s.into(),
            KeyError::UnknownKid(kid) => AdminError::NotFound(format!("no signing key {kid}")),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<AccountError> for AdminError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Exists(name) => {
                AdminError::Conflict(format!("user {name} already exists"))
            }
            AccountError::NotFound(name) => AdminError::NotFound(format!("no user named {name}")),
            AccountError::Store(s) => s.into(),
            other => AdminError::Invalid(other.to_string()),
        }
    }
}

impl From<RegistrationError> for AdminError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Exists(id) => {
                AdminError::Conflict(format!("client {id} already exists"))
            }
            RegistrationError::Invalid(m) | RegistrationError::InvalidRedirectUri(m) => {
                AdminError::Invalid(m)
            }
            RegistrationError::Store(s) => s.into(),
        }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Token(e) => e.fmt(f),
            AdminError::NotFound(m)
            | AdminError::Conflict(m)
            | AdminError::Invalid(m)
            | AdminError::Unavailable(m)
            | AdminError::Internal(m) => f.write_str(m),
        }
    }
}

/// The admin API's JSON problem body.
pub fn problem(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": error, "error_description": description}))
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Token(e) => e.status_code(),
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AdminError::Token(e) => e.error_response(),
            AdminError::NotFound(m) => problem(status, "not_found", m),
            AdminError::Conflict(m) => problem(status, "conflict", m),
            AdminError::Invalid(m) => problem(status, "invalid_request", m),
            AdminError::Unavailable(cause) => {
                tracing::error!(error = %cause, "admin API: database unavailable");
                problem(
                    status,
                    "temporarily_unavailable",
                    "the database cannot be reached",
                )
            }
            AdminError::Internal(cause) => {
                tracing::error!(error = %cause, "admin API failed");
                problem(status, "server_error", "the request could not be completed")
            }
        }
    }
}
