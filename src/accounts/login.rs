//! Logging in: the password check every login makes (the login page and
//! the password grant), and the browser login as a small state machine from
//! the first credential to an SSO session.
//!
//! ```text
//! NeedsPassword --password ok--> Done(session)       (today)
//! NeedsPassword --password ok--> NeedsSecondFactor --code ok--> Done   (MFA, later)
//! ```
//! A second factor is one more [`LoginState`] and one more step function;
//! the HTTP layer only renders the page each state asks for.

use super::sessions;
use super::throttle;
use crate::audit;
use crate::clock::Clock;
use crate::events::Events;
use crate::store::users::{self, UserRow};
use crate::store::{Db, StoreError};

/// A login attempt: on the login page or through the password grant.
pub struct Attempt {
    pub username: String,
    pub password: String,
    /// Who relays it, for the audit trail: `client:ID` or `login-page:ID`.
    pub via: String,
    /// The client's network address, when known.
    pub address: Option<String>,
}

#[derive(Debug)]
pub enum LoginOutcome {
    Success(Box<UserRow>),
    /// Unknown user, wrong password or disabled account: one answer for all.
    Failure,
    /// Too many recent failures for this username or address.
    Throttled {
        retry_after: i64,
    },
}

/// Checks a username and password, within the brute-force policy. An
/// unknown user costs one Argon2id verification too, so timing tells nothing
/// about who exists; throttling counts usernames whether they exist or not.
/// Every attempt goes to the audit trail.
pub async fn authenticate(
    db: &Db,
    clock: &Clock,
    policy: &throttle::Policy,
    attempt: Attempt,
) -> Result<LoginOutcome, StoreError> {
    let keys = throttle::keys(&attempt.username, attempt.address.as_deref());
    match throttle::check(db, policy, &keys, clock.now()).await? {
        throttle::Verdict::Refuse { retry_after } => {
            let (via, username) = (attempt.via.clone(), attempt.username.clone());
            audit::record_async(
                db,
                clock.now(),
                via,
                "login.throttled",
                username,
                String::new(),
            )
            .await;
            return Ok(LoginOutcome::Throttled { retry_after });
        }
        throttle::Verdict::Slow(delay) => tokio::time::sleep(delay).await,
        throttle::Verdict::Allow => {}
    }
    let name = attempt.username.clone();
    let user = db
        .run(move |conn| users::find_by_username(conn, &name))
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = attempt.password;
    // Argon2id takes tens of milliseconds of CPU: on the low-priority
    // hashing threads, never on an HTTP worker or holding a connection.
    let ok = super::password::verify_password_async(stored, password).await;
    let user = user.filter(|u| ok && !u.disabled);
    let success = user.is_some();
    let detail = user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let (via, username) = (attempt.via, attempt.username);
    let (policy, now) = (*policy, clock.now());
    db.write(move |conn| {
        let action = if success {
            "login.success"
        } else {
            "login.failure"
        };
        audit::record_or_log(conn, now, &via, action, &username, &detail);
        throttle::record(conn, &policy, &keys, success, now)
    })
    .await?;
    Ok(match user {
        Some(u) => LoginOutcome::Success(Box::new(u)),
        None => LoginOutcome::Failure,
    })
}

/// What a browser login needs from the server.
pub struct Deps<'a> {
    pub db: &'a Db,
    pub clock: &'a Clock,
    pub events: &'a Events,
    pub policy: throttle::Policy,
    pub session_ttl: i64,
}

/// Where a browser's sign-in stands after a step.
#[derive(Debug)]
pub enum LoginState {
    /// The password is still to be given (again, after a failure).
    NeedsPassword { failed: bool },
    /// Too many failures: come back after `retry_after` seconds.
    Throttled { retry_after: i64 },
    /// Every factor the policy asks for is proven: the browser is signed in.
    Done {
        user: Box<UserRow>,
        /// The new session cookie's value.
        session: String,
    },
}

/// The password step of a browser login. `previous_session` is the cookie
/// value of the session the browser had, which a new login replaces.
pub async fn password_step(
    deps: &Deps<'_>,
    attempt: Attempt,
    previous_session: Option<String>,
) -> Result<LoginState, StoreError> {
    let user = match authenticate(deps.db, deps.clock, &deps.policy, attempt).await? {
        LoginOutcome::Success(user) => user,
        LoginOutcome::Failure => return Ok(LoginState::NeedsPassword { failed: true }),
        LoginOutcome::Throttled { retry_after } => {
            return Ok(LoginState::Throttled { retry_after })
        }
    };
    // A second factor would be asked here, before any session exists.
    let session = sessions::start(
        deps.db,
        deps.events,
        user.id.clone(),
        previous_session,
        deps.clock.now(),
        deps.session_ttl,
    )
    .await?;
    Ok(LoginState::Done { user, session })
}
