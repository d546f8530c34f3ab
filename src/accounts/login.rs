//! Logging in: the password check every login makes (the login page and
//! the password grant), and the browser login as a small state machine from
//! the first credential to an SSO session.
//!
//! ```text
//! NeedsPassword --password ok, no factor------------------> Done(session, amr pwd)
//! NeedsPassword --password ok, a factor--> NeedsSecondFactor --code/passkey ok--> Done(amr pwd otp mfa)
//! NeedsPassword --password ok, none but required--> NeedsEnrolment --first code ok--> Done
//! (live session below the level asked) --step_up--> NeedsSecondFactor --ok--> session raised
//! ```
//! Between two steps the login is a `login_challenges` row, found by the
//! hash of a cookie, so any replica can take the next step.

use super::amr::{Acr, Amr};
use super::factors;
use super::passkeys;
use super::sessions::{self, LiveSession, SignIn};
use super::throttle;
use super::webauthn::RelyingParty;
use crate::audit;
use crate::clock::Clock;
use crate::events::Events;
use crate::keys::KeyManager;
use crate::secrets;
use crate::store::login_challenges::{self as challenges, ChallengeRow};
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
    pub keys: &'a KeyManager,
    /// The WebAuthn relying party, when passkeys are available.
    pub passkeys: Option<&'a RelyingParty>,
    pub policy: throttle::Policy,
    pub session_ttl: i64,
}

/// How long a login may wait between its password and its second factor.
pub const CHALLENGE_TTL: i64 = 300;

/// The browser a login happens in, for the session list on the account page.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// What a login is for: the request it continues (none for the account
/// page) and the level that request needs.
#[derive(Debug, Clone)]
pub struct Purpose {
    pub continue_to: Option<String>,
    pub required: Acr,
}

/// Where a browser's sign-in stands after a step.
#[derive(Debug)]
pub enum LoginState {
    /// The password is still to be given (again, after a failure).
    NeedsPassword { failed: bool },
    /// Too many failures: come back after `retry_after` seconds.
    Throttled { retry_after: i64 },
    /// The password was right; a second factor is to be given. `challenge`
    /// is the cookie value naming the login until then.
    NeedsSecondFactor { challenge: String },
    /// The level asked for needs a second factor the person does not have:
    /// they set one up first.
    NeedsEnrolment { challenge: String },
    /// Every factor the policy asks for is proven: the browser is signed in.
    Done {
        user: Box<UserRow>,
        /// The new session cookie's value.
        session: String,
    },
}

/// The purposes a challenge row can have.
const LOGIN: &str = "login";
const ENROL: &str = "enrol";
const STEP_UP: &str = "step_up";
/// A step-up for a person with no factor yet: they set one up, and the
/// session they have is raised (not replaced: its other apps keep their
/// refresh tokens).
const ENROL_STEP_UP: &str = "enrol_step_up";

/// The password step of a browser login. `previous_session` is the cookie
/// value of the session the browser had, which a new login replaces.
pub async fn password_step(
    deps: &Deps<'_>,
    attempt: Attempt,
    previous_session: Option<String>,
    browser: Browser,
    purpose: Purpose,
) -> Result<LoginState, StoreError> {
    let user = match authenticate(deps.db, deps.clock, &deps.policy, attempt).await? {
        LoginOutcome::Success(user) => user,
        LoginOutcome::Failure => return Ok(LoginState::NeedsPassword { failed: true }),
        LoginOutcome::Throttled { retry_after } => {
            return Ok(LoginState::Throttled { retry_after })
        }
    };
    let kind = if factors::has_factor(deps.db, &user.id).await? {
        LOGIN
    } else if purpose.required > Acr::Pwd {
        ENROL
    } else {
        let sign_in = SignIn {
            user_id: user.id.clone(),
            amr: Amr::password(),
            address: browser.address,
            user_agent: browser.user_agent,
        };
        let now = deps.clock.now();
        let session = sessions::start(
            deps.db,
            deps.events,
            sign_in,
            previous_session,
            now,
            deps.session_ttl,
        )
        .await?;
        return Ok(LoginState::Done { user, session });
    };
    let row = ChallengeRow {
        id_hash: String::new(),
        purpose: kind.to_owned(),
        user_id: Some(user.id.clone()),
        continue_to: purpose.continue_to,
        amr: Amr::password().to_string(),
        required_acr: purpose.required.as_str().to_owned(),
        session_hash: previous_session.as_deref().map(secrets::sha256_hex),
        ceremony_state: None,
        created_at: 0,
        expires_at: 0,
    };
    let challenge = open_challenge(deps, row).await?;
    Ok(if kind == LOGIN {
        LoginState::NeedsSecondFactor { challenge }
    } else {
        LoginState::NeedsEnrolment { challenge }
    })
}

/// Stores a challenge; returns the cookie value that names it.
async fn open_challenge(deps: &Deps<'_>, mut row: ChallengeRow) -> Result<String, StoreError> {
    let value = secrets::random_token(32);
    let now = deps.clock.now();
    row.id_hash = secrets::sha256_hex(&value);
    row.created_at = now;
    row.expires_at = now + CHALLENGE_TTL;
    deps.db
        .write(move |conn| challenges::insert(conn, &row))
        .await?;
    Ok(value)
}

/// A step-up: the browser's live session is below the level a request
/// asks, so its person proves a second factor now. Returns the challenge's
/// cookie value, or `NeedsEnrolment` when they have no factor yet.
pub async fn step_up(
    deps: &Deps<'_>,
    session: &LiveSession,
    purpose: Purpose,
) -> Result<LoginState, StoreError> {
    let has_factor = factors::has_factor(deps.db, &session.user.id).await?;
    let row = ChallengeRow {
        id_hash: String::new(),
        purpose: if has_factor { STEP_UP } else { ENROL_STEP_UP }.to_owned(),
        user_id: Some(session.user.id.clone()),
        continue_to: purpose.continue_to,
        amr: session.amr.to_string(),
        required_acr: purpose.required.as_str().to_owned(),
        session_hash: Some(session.id_hash.clone()),
        ceremony_state: None,
        created_at: 0,
        expires_at: 0,
    };
    let challenge = open_challenge(deps, row).await?;
    Ok(if has_factor {
        LoginState::NeedsSecondFactor { challenge }
    } else {
        LoginState::NeedsEnrolment { challenge }
    })
}

/// A login waiting for its second factor, as the page shows it.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub user: UserRow,
    pub continue_to: Option<String>,
    pub enrolled: factors::Enrolled,
    /// The person has no factor yet and sets one up now.
    pub enrolling: bool,
    /// A step-up of a live session (its person is signed in already).
    pub step_up: bool,
    /// The level the login must reach: at `phr`, only a passkey will do.
    pub required: Acr,
}

/// The login a challenge cookie names, if it is still live.
pub async fn waiting(deps: &Deps<'_>, challenge: &str) -> Result<Option<Waiting>, StoreError> {
    let (hash, now) = (secrets::sha256_hex(challenge), deps.clock.now());
    deps.db
        .run(move |conn| {
            let Some(row) = challenges::find_live(conn, &hash, now)? else {
                return Ok(None);
            };
            let Some(user) = row.user_id.as_deref().map(|id| users::find_by_id(conn, id)) else {
                return Ok(None);
            };
            let Some(user) = user?.filter(|u| !u.disabled) else {
                return Ok(None);
            };
            let enrolled = factors::enrolled(conn, &user.id)?;
            Ok(Some(Waiting {
                enrolling: row.purpose == ENROL || row.purpose == ENROL_STEP_UP,
                step_up: row.purpose == STEP_UP || row.purpose == ENROL_STEP_UP,
                required: Acr::parse(&row.required_acr).unwrap_or(Acr::Pwd),
                continue_to: row.continue_to,
                enrolled,
                user,
            }))
        })
        .await
}

/// A second factor, as given on the page.
#[derive(Debug)]
pub enum Proof {
    Totp(String),
    RecoveryCode(String),
    /// A passkey assertion (the browser's JSON), checked against the
    /// ceremony begun on this login's challenge.
    Passkey(String),
}

/// What a proven factor adds to the login's methods.
enum Proven {
    Code,
    Passkey { synced: bool },
}

/// How a second-factor step ended.
#[derive(Debug)]
pub enum SecondFactorState {
    /// The challenge is unknown, expired or finished already.
    Expired,
    /// The code was wrong (or replayed); the attempt was counted.
    Failed,
    Throttled {
        retry_after: i64,
    },
    Done {
        user: Box<UserRow>,
        /// The new session cookie's value; `None` for a step-up, whose
        /// session was raised in place.
        session: Option<String>,
        continue_to: Option<String>,
        /// After a recovery code: how many remain.
        recovery_codes_left: Option<i64>,
    },
}

/// The second-factor step: checks `proof` for the person the challenge
/// names, within the same brute-force budget as their password, then
/// signs the browser in (or raises its session, on a step-up).
/// `waiting` is what [`waiting`] read for `challenge` (the page checked its
/// form with it); the challenge is taken again, once, when the factor holds.
pub async fn second_factor_step(
    deps: &Deps<'_>,
    challenge: &str,
    waiting: Waiting,
    proof: Proof,
    browser: Browser,
) -> Result<SecondFactorState, StoreError> {
    if waiting.enrolling {
        return Ok(SecondFactorState::Expired);
    }
    // A code cannot reach a phishing-resistant level: not even checked.
    if waiting.required == Acr::Phr && !matches!(proof, Proof::Passkey(_)) {
        return Ok(SecondFactorState::Failed);
    }
    let user = waiting.user;
    let keys = throttle::keys(&user.username, browser.address.as_deref());
    let now = deps.clock.now();
    match throttle::check(deps.db, &deps.policy, &keys, now).await? {
        throttle::Verdict::Refuse { retry_after } => {
            return Ok(SecondFactorState::Throttled { retry_after })
        }
        throttle::Verdict::Slow(delay) => tokio::time::sleep(delay).await,
        throttle::Verdict::Allow => {}
    }
    let (method, proven, left) = match &proof {
        Proof::Totp(code) => {
            let ok = factors::check_totp(deps.db, deps.keys, &user.id, code, now)
                .await
                .map_err(factor_store_error)?;
            ("totp", ok.then_some(Proven::Code), None)
        }
        Proof::RecoveryCode(code) => {
            let left = factors::use_recovery_code(deps.db, &user.id, code, now).await?;
            ("recovery_code", left.map(|_| Proven::Code), left)
        }
        Proof::Passkey(response) => {
            let hash = secrets::sha256_hex(challenge);
            let state = passkeys::second_factor_state(deps.db, &hash, now).await?;
            let checked = match (deps.passkeys, state) {
                (Some(rp), Some(state)) => {
                    passkeys::check_second_factor(deps.db, rp, &user.id, &state, response, now)
                        .await
                }
                _ => Err(passkeys::PasskeyError::Expired),
            };
            match checked {
                Ok(synced) => ("passkey", Some(Proven::Passkey { synced }), None),
                Err(passkeys::PasskeyError::Store(e)) => return Err(e),
                Err(e) => {
                    tracing::info!(user = %user.id, error = %e, "passkey second factor refused");
                    ("passkey", None, None)
                }
            }
        }
    };
    let proven_ok = proven.is_some();
    let (policy, user_id) = (deps.policy, user.id.clone());
    deps.db
        .write(move |conn| {
            if !proven_ok {
                audit::record_or_log(conn, now, &user_id, "mfa.failure", &user_id, method);
            }
            throttle::record(conn, &policy, &keys, proven_ok, now)
        })
        .await?;
    let Some(proven) = proven else {
        return Ok(SecondFactorState::Failed);
    };
    finish(deps, challenge, Box::new(user), proven, browser, left).await
}

/// A factor's first code during a login that needs one: completes the
/// enrolment, then the login. Returns the recovery codes to show once.
pub async fn enrolment_step(
    deps: &Deps<'_>,
    challenge: &str,
    waiting: Waiting,
    code: &str,
    browser: Browser,
) -> Result<(SecondFactorState, Option<Vec<String>>), StoreError> {
    // An authenticator app would not reach `phr`: the login would come back.
    if !waiting.enrolling || waiting.required == Acr::Phr {
        return Ok((SecondFactorState::Expired, None));
    }
    let now = deps.clock.now();
    let codes = match factors::confirm_totp(deps.db, deps.keys, &waiting.user.id, code, now).await {
        Ok(codes) => codes,
        Err(factors::FactorError::WrongCode | factors::FactorError::NoEnrolment) => {
            return Ok((SecondFactorState::Failed, None))
        }
        Err(e) => return Err(factor_store_error(e)),
    };
    let state = finish(
        deps,
        challenge,
        Box::new(waiting.user),
        Proven::Code,
        browser,
        None,
    )
    .await?;
    Ok((state, codes))
}

/// The factor is proven: takes the challenge (of two racing requests, one
/// wins) and signs the browser in, or raises the session it steps up.
async fn finish(
    deps: &Deps<'_>,
    challenge: &str,
    user: Box<UserRow>,
    proven: Proven,
    browser: Browser,
    recovery_codes_left: Option<i64>,
) -> Result<SecondFactorState, StoreError> {
    let (hash, now) = (secrets::sha256_hex(challenge), deps.clock.now());
    let taken = deps
        .db
        .write(move |conn| challenges::take_live(conn, &hash, now))
        .await?;
    let Some(row) = taken else {
        return Ok(SecondFactorState::Expired);
    };
    let mut amr = Amr::from_stored(&row.amr);
    match proven {
        Proven::Code => amr.add_code(),
        // Second-factor passkeys are asked with user verification required.
        Proven::Passkey { synced } => amr.add_passkey(synced, true),
    }
    let raising = row.purpose == STEP_UP || row.purpose == ENROL_STEP_UP;
    let session = match (raising, row.session_hash) {
        (true, Some(session_hash)) => {
            let (id, amr) = (user.id.clone(), amr.clone());
            let raised = deps
                .db
                .write(move |conn| sessions::raise(conn, &session_hash, &id, &amr, now))
                .await?;
            if !raised {
                return Ok(SecondFactorState::Expired);
            }
            None
        }
        (_, previous) => {
            let sign_in = SignIn {
                user_id: user.id.clone(),
                amr,
                address: browser.address,
                user_agent: browser.user_agent,
            };
            Some(
                sessions::start_replacing(
                    deps.db,
                    deps.events,
                    sign_in,
                    previous,
                    now,
                    deps.session_ttl,
                )
                .await?,
            )
        }
    };
    Ok(SecondFactorState::Done {
        user,
        session,
        continue_to: row.continue_to,
        recovery_codes_left,
    })
}

/// The store errors inside a factor error; a KEK that cannot unseal a
/// secret is as fatal as a broken database row.
fn factor_store_error(e: factors::FactorError) -> StoreError {
    match e {
        factors::FactorError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}
