//! The authorization endpoint's rules: OIDC Core §3.1.2, RFC 6749 §4.1,
//! RFC 7636 (PKCE, S256 only), RFC 9207 (`iss` in the response).
//!
//! - `request.rs`: parameter validation, into an [`AuthorizeRequest`];
//! - `prompt.rs`: the named checks that decide whether the user must log in
//!   or consent first (a second-factor or `acr` check joins that list);
//! - `flow.rs`: what the browser is sent to next, from those decisions;
//! - `pending.rs`: the request parked while a login or consent page is open,
//!   and the code issued at the end;
//! - `response.rs`: the redirects back to the client.

mod flow;
mod pending;
mod prompt;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub use flow::{consent_declined, consent_given, issue_code_redirect, proceed, Outcome};
pub use pending::{issue_code, load_pending, save_pending, PENDING_TTL};
pub use prompt::{
    next_step, policy_acr, required_acr, Authenticated, Check, Next, SessionState, Situation,
    CONSENT_CHECKS, LOGIN_CHECKS,
};
pub use request::{client_id_of, front_channel, validate, MAX_PARAM_LEN};
pub use response::{error_redirect, redirect_url};

use serde::{Deserialize, Serialize};

use super::claims::RequestedClaims;
use super::Error;
use crate::accounts::amr::Acr;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub claims: Option<RequestedClaims>,
    /// Resource indicators (RFC 8707), each registered for the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The DPoP key the code will be bound to (RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The pushed request (RFC 9126) it came from, by the hash of its
    /// `request_uri`: spent when the code is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
    /// The authentication level asked for, through `acr_values` or an
    /// essential `acr` claim (OIDC Core §3.1.2.1, §5.5.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<Acr>,
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: the user is told,
    /// and we do NOT redirect — that would make us an open redirector.
    Page(String),
    /// Everything else goes back to the client's registered redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
    },
}
