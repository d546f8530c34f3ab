//! Whether the user must log in or consent before a code is issued: two
//! lists of named checks, in the style of node oidc-provider's interaction
//! policy. A level (`acr`) the session does not reach is one more check
//! after them: a step-up to a second factor, not a new login.

use super::AuthorizeRequest;
use crate::accounts::amr::Acr;
use crate::oauth::clients::Client;
use crate::oauth::{Error, ErrorCode, Scope};

/// What the checks need of the SSO session a request arrives with.
pub trait Authenticated {
    /// When the user logged in.
    fn auth_time(&self) -> i64;
    /// The level that login reached.
    fn acr(&self) -> Acr;
}

/// A session reduced to what the checks read (unit tests use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub auth_time: i64,
    pub acr: Acr,
}

impl Authenticated for SessionState {
    fn auth_time(&self) -> i64 {
        self.auth_time
    }
    fn acr(&self) -> Acr {
        self.acr
    }
}

impl Authenticated for crate::accounts::sessions::LiveSession {
    fn auth_time(&self) -> i64 {
        self.auth_time
    }
    fn acr(&self) -> Acr {
        self.amr.acr()
    }
}

/// What happens next. A code is issued only for a session, so
/// `IssueCode` carries it: "issue a code without a session" cannot be said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<S> {
    Login,
    /// The session is below the level asked: a second factor now.
    StepUp,
    Consent,
    IssueCode(S),
}

/// What a check sees: the request, its client, the browser's session, the
/// consent on record, and when the pending request started (when this is
/// its continuation after a login or consent page).
pub struct Situation<'a> {
    pub request: &'a AuthorizeRequest,
    pub client: &'a Client,
    /// When the browser's session logged in, if it has one.
    pub session: Option<i64>,
    pub consented: Option<&'a Scope>,
    pub started_at: Option<i64>,
    pub now: i64,
}

/// A reason to show a page before issuing a code.
pub struct Check {
    /// For the log: which check asked.
    pub name: &'static str,
    pub applies: fn(&Situation<'_>) -> bool,
}

/// The user must (re-)authenticate when any of these applies.
pub const LOGIN_CHECKS: &[Check] = &[
    Check {
        name: "no_session",
        applies: |s| s.session.is_none(),
    },
    // OIDC Core §3.1.2.1: a login older than max_age seconds is not enough.
    Check {
        name: "max_age",
        applies: |s| {
            let (Some(max), Some(auth_time)) = (s.request.max_age, s.session) else {
                return false;
            };
            s.now - auth_time > max
        },
    },
    // A login made after the request started satisfies prompt=login.
    Check {
        name: "prompt_login",
        applies: |s| {
            s.request.prompt.login
                && s.session
                    .is_some_and(|auth_time| s.started_at.is_none_or(|t| auth_time < t))
        },
    },
];

/// A third-party client needs the user's consent when any of these applies.
pub const CONSENT_CHECKS: &[Check] = &[
    Check {
        name: "scopes_missing",
        applies: |s| {
            if !s.client.consent {
                return false;
            }
            let requested = Scope::parse(&s.request.scope).unwrap_or_default();
            !s.consented.is_some_and(|c| requested.is_subset_of(c))
        },
    },
    Check {
        name: "prompt_consent",
        applies: |s| s.client.consent && s.request.prompt.consent,
    },
];

fn first_that_applies(checks: &'static [Check], s: &Situation<'_>) -> Option<&'static str> {
    checks.iter().find(|c| (c.applies)(s)).map(|c| c.name)
}

/// The level a request needs: what it asked for (`acr_values`, an
/// essential `acr`), its client's policy and the server's (`floor`).
pub fn required_acr(request: &AuthorizeRequest, client: &Client, floor: Acr) -> Acr {
    request
        .acr
        .unwrap_or(Acr::Pwd)
        .max(policy_acr(client, floor))
}

/// The level every login for `client` needs, whatever it asks: its own
/// `require_mfa` and the server's `floor` (also the device page's).
pub fn policy_acr(client: &Client, floor: Acr) -> Acr {
    let client_floor = if client.require_mfa {
        Acr::Mfa
    } else {
        Acr::Pwd
    };
    client_floor.max(floor)
}

/// What the authorization endpoint does next. `started_at` is when the
/// pending request was created, when this is its continuation: a login made
/// after it satisfies `prompt=login`.
pub fn next_step<'s, S: Authenticated>(
    request: &AuthorizeRequest,
    client: &Client,
    session: Option<&'s S>,
    consented: Option<&Scope>,
    started_at: Option<i64>,
    now: i64,
    floor: Acr,
) -> Result<Next<&'s S>, Error> {
    let situation = Situation {
        request,
        client,
        session: session.map(|s| s.auth_time()),
        consented,
        started_at,
        now,
    };
    if let Some(check) = first_that_applies(LOGIN_CHECKS, &situation) {
        tracing::debug!(check, "login required");
        return if request.prompt.none {
            Err(Error::new(
                ErrorCode::LoginRequired,
                "the user is not logged in",
            ))
        } else {
            Ok(Next::Login)
        };
    }
    let required = required_acr(request, client, floor);
    if session.is_some_and(|s| s.acr() < required) {
        tracing::debug!(required = required.as_str(), "step-up required");
        return if request.prompt.none {
            Err(Error::new(
                ErrorCode::LoginRequired,
                "the login does not reach the authentication level asked for",
            ))
        } else {
            Ok(Next::StepUp)
        };
    }
    if let Some(check) = first_that_applies(CONSENT_CHECKS, &situation) {
        tracing::debug!(check, "consent required");
        return if request.prompt.none {
            Err(Error::new(
                ErrorCode::ConsentRequired,
                "the user has not consented to this client",
            ))
        } else {
            Ok(Next::Consent)
        };
    }
    match session {
        Some(session) => Ok(Next::IssueCode(session)),
        // no_session applies whenever there is none.
        None => Ok(Next::Login),
    }
}
