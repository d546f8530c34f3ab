//! `GET|POST /login/second-factor` — the second step of a login, a
//! step-up, or (when a factor is required and the person has none) the
//! enrolment of an authenticator app before the login completes
//! (`POST /login/enrol`). The steps are `accounts::login`'s; this file
//! renders the page each asks for. The login between steps is named by the
//! `portcullis_login` cookie; its forms' CSRF token is derived from it.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::login::{browser, continue_url, deps, set_session_cookie, throttled_page};
use super::{message_page, page_builder, page_builder_with_passkeys, render};
use crate::accounts::amr::Acr;
use crate::accounts::factors::{self, TotpSetup};
use crate::accounts::login::{self, LoginState, Proof, Purpose, SecondFactorState, Waiting};
use crate::http::errors::PageError;
use crate::http::extract::{cookie, current_session, parse_query, read_form};
use crate::http::oauth::authorize::{find_client, load_pending, see_other};
use crate::http::State;
use crate::oauth::authorize::required_acr;
use crate::oauth::form::Params;
use crate::secrets;

pub const PATH: &str = "/login/second-factor";
const ENROL_PATH: &str = "/login/enrol";
pub const CHALLENGE_COOKIE: &str = "portcullis_login";

const WRONG_CODE: &str = "That code is not right, or it was used already. Try the next one.";

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    step_up: bool,
    totp: bool,
    passkeys: bool,
    recovery: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "enrol_totp.html")]
pub(super) struct EnrolPage<'a> {
    pub username: &'a str,
    pub csrf_token: &'a str,
    pub action: &'a str,
    pub required: bool,
    pub secret: &'a str,
    pub uri: &'a str,
    pub qr_svg: &'a str,
    pub error: Option<&'a str>,
}

impl<'a> EnrolPage<'a> {
    /// The page for `setup`; `action` is where its form goes (the login's
    /// enrolment, or the account page's).
    pub fn new(
        setup: &'a TotpSetup,
        username: &'a str,
        csrf_token: &'a str,
        action: &'a str,
    ) -> Self {
        EnrolPage {
            username,
            csrf_token,
            action,
            required: action == ENROL_PATH,
            secret: &setup.secret,
            uri: &setup.uri,
            qr_svg: setup.qr_svg.as_deref().unwrap_or(""),
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(super) struct RecoveryCodesPage<'a> {
    pub codes: &'a [String],
    pub continue_to: &'a str,
}

#[derive(Template)]
#[template(path = "message_continue.html")]
struct ContinuePage<'a> {
    title: &'a str,
    message: &'a str,
    continue_to: &'a str,
}

/// The CSRF token of a challenge's forms: only the browser holding the
/// cookie can know it, and the database (which holds the cookie's SHA-256)
/// does not give it.
pub(super) fn csrf_of(challenge: &str) -> String {
    secrets::sha256_hex(&format!("csrf:{challenge}"))
}

pub(super) fn challenge_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(CHALLENGE_COOKIE).map(|c| c.value().to_owned())
}

pub fn set_challenge_cookie(
    res: &mut HttpResponse,
    value: String,
    state: &State,
) -> Result<(), PageError> {
    let mut c = cookie(CHALLENGE_COOKIE, value, state);
    c.set_max_age(actix_web::cookie::time::Duration::seconds(
        login::CHALLENGE_TTL,
    ));
    res.add_cookie(&c)
        .map_err(|e| PageError::Internal(format!("cannot set the login cookie: {e}")))
}

fn clear_challenge_cookie(res: &mut HttpResponse) {
    let mut c = Cookie::new(CHALLENGE_COOKIE, "");
    c.set_path("/");
    c.make_removal();
    // A response that cannot take the removal still works: the row is gone.
    let _ = res.add_cookie(&c);
}

fn expired() -> PageError {
    PageError::sign_in(
        "This sign-in has expired or was finished in another tab. Go back to the application and start again.",
    )
}

/// GET /login/second-factor[?request=ID] — with `request`, a step-up
/// parked by the authorization endpoint (the browser's session is below
/// the level asked); else the login the cookie names.
#[get("/login/second-factor")]
pub async fn second_factor_form(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = parse_query(req.query_string()).map_err(|_| PageError::Expired)?;
    if let Some(id) = params.get("request") {
        return begin_step_up(&req, &state, id).await;
    }
    let challenge = challenge_cookie(&req).ok_or_else(expired)?;
    let waiting = login::waiting(&deps(&state), &challenge)
        .await?
        .ok_or_else(expired)?;
    if waiting.enrolling {
        return enrol_form(&state, &waiting, &challenge, None, StatusCode::OK).await;
    }
    Ok(factor_page(
        &state,
        &waiting,
        &challenge,
        None,
        StatusCode::OK,
    ))
}

async fn begin_step_up(
    req: &HttpRequest,
    state: &State,
    request_id: &str,
) -> Result<HttpResponse, PageError> {
    let (request, pending) = load_pending(req, state, Some(request_id)).await?;
    let issuer = state.ctx.issuer();
    let Some(session) = current_session(req, state).await? else {
        // Signed out meanwhile: the request starts over at the login page.
        return Ok(see_other(&format!("{issuer}{}", continue_url(&pending.id))));
    };
    let client = find_client(state, &request.client_id)
        .await?
        .ok_or(PageError::Expired)?;
    let purpose = Purpose {
        continue_to: Some(continue_url(&pending.id)),
        required: required_acr(&request, &client, state.ctx.protocol.mfa_floor()),
    };
    let challenge = match login::step_up(&deps(state), &session, purpose).await? {
        LoginState::NeedsSecondFactor { challenge } | LoginState::NeedsEnrolment { challenge } => {
            challenge
        }
        _ => return Err(expired()),
    };
    let mut res = see_other(&format!("{issuer}{PATH}"));
    set_challenge_cookie(&mut res, challenge, state)?;
    Ok(res)
}

/// A login that asks for a passkey (`phr`) from a person without one.
fn passkey_needed() -> HttpResponse {
    message_page(
        StatusCode::FORBIDDEN,
        "A passkey is needed",
        "This application asks you to sign in with a passkey, and your account has none. Add one on your account page (/account), then go back to the application and sign in again.",
    )
}

fn factor_page(
    state: &State,
    waiting: &Waiting,
    challenge: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let passkeys = state.ctx.passkeys.is_ok() && waiting.enrolled.passkeys > 0;
    let codes = waiting.required < Acr::Phr;
    if !passkeys && !codes {
        return passkey_needed();
    }
    let builder = if passkeys {
        page_builder_with_passkeys(status)
    } else {
        page_builder(status)
    };
    render(
        builder,
        &SecondFactorPage {
            username: &waiting.user.username,
            csrf_token: &csrf_of(challenge),
            step_up: waiting.step_up,
            totp: codes && waiting.enrolled.totp,
            passkeys,
            recovery: codes && waiting.enrolled.recovery_codes_left > 0,
            error,
        },
    )
}

async fn enrol_form(
    state: &State,
    waiting: &Waiting,
    challenge: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    if waiting.required == Acr::Phr {
        return Ok(passkey_needed());
    }
    let setup = totp_setup(state, &waiting.user).await?;
    let csrf = csrf_of(challenge);
    let page = EnrolPage {
        error,
        ..EnrolPage::new(&setup, &waiting.user.username, &csrf, ENROL_PATH)
    };
    Ok(render(page_builder(status), &page))
}

/// The authenticator-app setup in progress for `user`, or a new one.
pub(crate) async fn totp_setup(
    state: &State,
    user: &crate::store::users::UserRow,
) -> Result<TotpSetup, PageError> {
    let ctx = &state.ctx;
    let issuer_name = issuer_label(ctx.issuer());
    let account = &user.username;
    let existing = factors::pending_totp(&ctx.db, &ctx.keys, &user.id, account, &issuer_name)
        .await
        .map_err(factor_error)?;
    match existing {
        Some(setup) => Ok(setup),
        None => factors::begin_totp(
            &ctx.db,
            &ctx.keys,
            &user.id,
            account,
            &issuer_name,
            ctx.now(),
        )
        .await
        .map_err(factor_error),
    }
}

/// The name authenticator apps show for this server: its host.
fn issuer_label(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Portcullis".to_owned())
}

pub(super) fn factor_error(e: factors::FactorError) -> PageError {
    match e {
        factors::FactorError::Store(e) => e.into(),
        factors::FactorError::AlreadyEnrolled => PageError::BadRequest {
            title: "Already set up",
            message: e.to_string().into(),
        },
        other => PageError::Internal(other.to_string()),
    }
}

/// The challenge of a form: its cookie, with the form's CSRF token checked.
async fn checked(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
) -> Result<(Params, String, Waiting), PageError> {
    let params = read_form(req, payload)
        .await
        .map_err(|_| PageError::Expired)?;
    let challenge = challenge_cookie(req).ok_or_else(expired)?;
    let csrf_ok = params
        .get("csrf_token")
        .is_some_and(|t| secrets::constant_time_eq(t, &csrf_of(&challenge)));
    if !csrf_ok {
        return Err(PageError::sign_in(
            "The form was not sent from this sign-in page (its security token is missing or wrong). Go back to the application and start again.",
        ));
    }
    let waiting = login::waiting(&deps(state), &challenge)
        .await?
        .ok_or_else(expired)?;
    Ok((params, challenge, waiting))
}

/// POST /login/second-factor — a TOTP code or a recovery code.
#[post("/login/second-factor")]
pub async fn second_factor_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (params, challenge, waiting) = checked(&req, &state, payload).await?;
    let code = params.get("code").unwrap_or("").trim().to_owned();
    let credential = params.get("credential").unwrap_or("").to_owned();
    let proof = match params.get("method") {
        Some("passkey")
            if !credential.is_empty()
                && credential.len() <= super::passkeys::MAX_CREDENTIAL_JSON =>
        {
            Some(Proof::Passkey(credential))
        }
        _ if code.is_empty() || code.len() > 64 => None,
        Some("totp") => Some(Proof::Totp(code)),
        Some("recovery") => Some(Proof::RecoveryCode(code)),
        _ => None,
    };
    let Some(proof) = proof else {
        return Ok(factor_page(
            &state,
            &waiting,
            &challenge,
            Some(WRONG_CODE),
            StatusCode::BAD_REQUEST,
        ));
    };
    let outcome = login::second_factor_step(
        &deps(&state),
        &challenge,
        waiting.clone(),
        proof,
        browser(&req),
    )
    .await?;
    match outcome {
        SecondFactorState::Expired => Err(expired()),
        SecondFactorState::Failed => {
            state.ctx.metrics.login_failed("second_factor");
            Ok(factor_page(
                &state,
                &waiting,
                &challenge,
                Some(WRONG_CODE),
                StatusCode::UNAUTHORIZED,
            ))
        }
        SecondFactorState::Throttled { retry_after } => Ok(throttled_page(
            retry_after,
            "Too many failed sign-in attempts.",
        )),
        SecondFactorState::Done {
            session,
            continue_to,
            recovery_codes_left,
            ..
        } => {
            let to = format!(
                "{}{}",
                state.ctx.issuer(),
                continue_to.as_deref().unwrap_or("/account")
            );
            let mut res = match recovery_codes_left {
                Some(left) => render(
                    page_builder(StatusCode::OK),
                    &ContinuePage {
                        title: "Recovery code used",
                        message: &format!(
                            "That recovery code is now spent; you have {left} left. Set up your authenticator again on your account page, or make new codes there."
                        ),
                        continue_to: &to,
                    },
                ),
                None => see_other(&to),
            };
            if let Some(session) = session {
                set_session_cookie(&mut res, session, &state)?;
            }
            clear_challenge_cookie(&mut res);
            Ok(res)
        }
    }
}

/// POST /login/enrol — the first code of the authenticator app a login
/// needed; on success the recovery codes are shown once, then the login
/// continues.
#[post("/login/enrol")]
pub async fn enrol_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (params, challenge, waiting) = checked(&req, &state, payload).await?;
    if !waiting.enrolling {
        return Err(expired());
    }
    let code = params.get("code").unwrap_or("").to_owned();
    let (outcome, codes) = login::enrolment_step(
        &deps(&state),
        &challenge,
        waiting.clone(),
        &code,
        browser(&req),
    )
    .await?;
    match outcome {
        SecondFactorState::Done {
            session,
            continue_to,
            ..
        } => {
            let to = format!(
                "{}{}",
                state.ctx.issuer(),
                continue_to.as_deref().unwrap_or("/account")
            );
            let mut res = match codes {
                Some(codes) => render(
                    page_builder(StatusCode::OK),
                    &RecoveryCodesPage {
                        codes: &codes,
                        continue_to: &to,
                    },
                ),
                None => render(
                    page_builder(StatusCode::OK),
                    &ContinuePage {
                        title: "Authenticator app set up",
                        message: "Your authenticator app is set up.",
                        continue_to: &to,
                    },
                ),
            };
            if let Some(session) = session {
                set_session_cookie(&mut res, session, &state)?;
            }
            clear_challenge_cookie(&mut res);
            Ok(res)
        }
        SecondFactorState::Failed => {
            enrol_form(
                &state,
                &waiting,
                &challenge,
                Some(WRONG_CODE),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        SecondFactorState::Throttled { retry_after } => Ok(throttled_page(
            retry_after,
            "Too many failed sign-in attempts.",
        )),
        SecondFactorState::Expired => Err(expired()),
    }
}
