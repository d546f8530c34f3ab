//! RFC 6749 §5.2 error responses: the only thing OAuth endpoints return on failure.

use std::borrow::Cow;

use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    /// Rendered as `temporarily_unavailable` with status 429 and Retry-After.
    TooManyRequests,
    // RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 (authorization endpoint)
    AccessDenied,
    UnsupportedResponseType,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    // RFC 6750 §3.1 (protected resources such as userinfo)
    InvalidToken,
    InsufficientScope,
    // RFC 8707 §2 and RFC 8693 §2.2.2
    InvalidTarget,
    // RFC 8628 §3.5
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    // RFC 7591 §3.2.2
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidSoftwareStatement,
    UnapprovedSoftwareStatement,
    // RFC 9449 §5, §7.1, §8 (DPoP)
    InvalidDpopProof,
    UseDpopNonce,
    // RFC 9126 §4 (PAR's request_uri at the authorization endpoint)
    InvalidRequestUri,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable | ErrorCode::TooManyRequests => {
                "temporarily_unavailable"
            }
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::RegistrationNotSupported => "registration_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidSoftwareStatement => "invalid_software_statement",
            ErrorCode::UnapprovedSoftwareStatement => "unapproved_software_statement",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}", code.as_str(), description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct Error {
    pub code: ErrorCode,
    pub description: Option<Cow<'static, str>>,
    /// The client tried HTTP Basic authentication: a 401 must carry
    /// `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<i64>,
    /// A fresh server nonce, sent as `DPoP-Nonce` (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
}

impl Error {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Error {
            code,
            description: Some(description.into()),
            basic_challenge: false,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_target(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    pub fn server_error() -> Self {
        Error {
            code: ErrorCode::ServerError,
            description: None,
            basic_challenge: false,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub fn too_many_requests(d: impl Into<Cow<'static, str>>, retry_after: i64) -> Self {
        Error {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorCode::TooManyRequests, d)
        }
    }

    pub fn invalid_dpop_proof(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, d)
    }

    /// RFC 9449 §8: the proof must carry the server's nonce, sent along.
    pub fn use_dpop_nonce(nonce: String) -> Self {
        Error {
            dpop_nonce: Some(nonce),
            ..Self::new(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            )
        }
    }

    pub fn with_basic_challenge(mut self, challenge: bool) -> Self {
        self.basic_challenge = challenge;
        self
    }
}

/// Database and crypto detail goes to the log, never to the client.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "database unavailable");
                Error::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the service is temporarily unavailable",
                )
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Error::server_error()
            }
        }
    }
}

impl From<crate::keys::KeyError> for Error {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "signing error");
                Error::server_error()
            }
        }
    }
}
