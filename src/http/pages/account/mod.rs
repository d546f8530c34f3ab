//! `/account` — a person's own page: their profile and password, second
//! factors, sessions and the applications they let in. Without a live SSO
//! session it is a login form (`POST /account/login`). The rules are
//! `accounts::profile`'s and `accounts::factors`'; these files read the
//! forms and render the pages, one file per section:
//! [`profile`] (name, email, password), [`factors`] (authenticator app,
//! recovery codes, passkeys) and [`sessions`] (sessions, applications).
//!
//! The login form's CSRF token is a random value in the
//! `portcullis_account_csrf` cookie, echoed in the form (double submit).
//! Once signed in, every form's token is an HMAC of the session cookie
//! under a key derived from the KEK: stateless, the same at every replica,
//! and unknown to whoever can only read the database (which holds the
//! cookie's SHA-256, never the cookie).

mod factors;
mod passkeys;
mod profile;
mod sessions;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use aws_lc_rs::hmac;

use super::login::{browser, set_session_cookie, sign_in, SignedIn};
use super::{page_builder, page_builder_with_passkeys, render};
use crate::accounts::amr::Acr;
use crate::accounts::factors as account_factors;
use crate::accounts::login::{Attempt, Purpose};
use crate::accounts::profile::{self as rules, Application};
use crate::accounts::sessions::LiveSession;
use crate::accounts::MIN_PASSWORD_LEN;
use crate::http::errors::PageError;
use crate::http::extract::{cookie, current_session, parse_query, read_form, session_cookie};
use crate::http::oauth::authorize::see_other;
use crate::http::State;
use crate::oauth::form::Params;
use crate::secrets;
use crate::store::sessions::{self as session_rows, SessionRow};

pub const PATH: &str = "/account";
/// The login form's double-submit cookie.
const CSRF_COOKIE: &str = "portcullis_account_csrf";
const LOGIN_FAILED: &str = "The username or password is incorrect.";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(account_page)
        .service(login_submit)
        .service(profile::profile_submit)
        .service(profile::password_submit)
        .service(factors::totp_form)
        .service(factors::totp_submit)
        .service(factors::totp_remove)
        .service(factors::recovery_codes)
        .service(factors::passkey_rename)
        .service(factors::passkey_remove)
        .service(passkeys::registration_options)
        .service(passkeys::register)
        .service(sessions::end_one)
        .service(sessions::end_others)
        .service(sessions::revoke_application);
}

#[derive(Template)]
#[template(path = "account_login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

struct PasskeyView {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
    synced: bool,
}

struct SessionView {
    id_hash: String,
    created: String,
    last_seen: String,
    address: Option<String>,
    user_agent: Option<String>,
    current: bool,
}

struct ApplicationView {
    client_id: String,
    name: String,
    scope: Option<String>,
    granted: Option<String>,
    live_grants: usize,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    name: &'a str,
    email: &'a str,
    csrf_token: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    min_password_len: usize,
    mfa_required: bool,
    totp_since: Option<String>,
    recovery_left: i64,
    has_factor: bool,
    passkeys: Vec<PasskeyView>,
    /// Why passkeys cannot be added here (an IP-address issuer), if so.
    passkeys_unavailable: Option<String>,
    sessions: Vec<SessionView>,
    applications: Vec<ApplicationView>,
}

/// A time as the page shows it.
fn when(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// The CSRF token of the account forms of the browser whose session
/// cookie is `session_cookie`.
fn csrf_of(state: &State, session_cookie: &str) -> String {
    let secret = state.ctx.keys.derive_secret("account-csrf");
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret[..]);
    hex::encode(hmac::sign(&key, session_cookie.as_bytes()).as_ref())
}

/// The page's short notice after a form, by the `done` its redirect names
/// (fixed words: nothing from the address is shown).
fn notice_of(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "profile" => "Your profile is saved.",
        "password" => "Your password is changed. Your other sessions are signed out.",
        "totp" => "Your authenticator app is set up.",
        "totp-removed" => "Your authenticator app is removed.",
        "passkey-added" => "The passkey is added.",
        "passkey-renamed" => "The passkey is renamed.",
        "passkey-removed" => "The passkey is removed.",
        "session-ended" => "That session is signed out.",
        "sessions-ended" => "Your other sessions are signed out.",
        "app-revoked" => "The application's access is revoked.",
        _ => return None,
    })
}

/// Back to the account page, with a notice.
fn done(state: &State, what: &str) -> HttpResponse {
    see_other(&format!("{}{PATH}?done={what}", state.ctx.issuer()))
}

fn to_account(state: &State) -> HttpResponse {
    see_other(&format!("{}{PATH}", state.ctx.issuer()))
}

fn stale() -> PageError {
    PageError::BadRequest {
        title: "This form is out of date",
        message:
            "This form is out of date; reload the account page and try again. Nothing was changed."
                .into(),
    }
}

/// A signed-in form: its fields, its session and the session's cookie.
struct Signed {
    params: Params,
    session: LiveSession,
    cookie: String,
}

/// Reads an account form: first its CSRF token, then the session (none:
/// back to the account page, which asks to sign in). `Err` of the inner
/// result is the page to show instead.
async fn checked(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
) -> Result<Result<Signed, HttpResponse>, PageError> {
    let params = read_form(req, payload).await.map_err(|_| stale())?;
    let Some(cookie) = session_cookie(req) else {
        // No session to act on, and nothing a token could protect.
        return Ok(Err(to_account(state)));
    };
    let sent = params.get("csrf_token").unwrap_or_default();
    if !secrets::constant_time_eq(sent, &csrf_of(state, &cookie)) {
        return Err(stale());
    }
    let Some(session) = current_session(req, state).await? else {
        return Ok(Err(to_account(state)));
    };
    Ok(Ok(Signed {
        params,
        session,
        cookie,
    }))
}

/// GET /account — the page, or the login form without a session.
#[get("/account")]
pub async fn account_page(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (Some(session), Some(cookie)) =
        (current_session(&req, &state).await?, session_cookie(&req))
    else {
        return Ok(login_form(&req, &state, "", None, StatusCode::OK));
    };
    let params = parse_query(req.query_string()).unwrap_or_default();
    let notice = notice_of(params.get("done"));
    let view = View {
        session: &session,
        cookie: &cookie,
        notice,
        error: None,
    };
    show(&state, view, StatusCode::OK).await
}

/// What [`show`] renders.
struct View<'a> {
    session: &'a LiveSession,
    cookie: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

/// Renders the account page of `view.session`.
async fn show(
    state: &State,
    view: View<'_>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let ctx = &state.ctx;
    let (user_id, now) = (view.session.user.id.clone(), ctx.now());
    let (listing, live, apps) = ctx
        .db
        .run(move |conn| {
            Ok::<_, crate::store::StoreError>((
                account_factors::listing(conn, &user_id)?,
                session_rows::live_of_user(conn, &user_id, now)?,
                rules::applications(conn, &user_id, now)?,
            ))
        })
        .await?;
    let user = &view.session.user;
    let page = AccountPage {
        username: &user.username,
        name: user.name.as_deref().unwrap_or(""),
        email: user.email.as_deref().unwrap_or(""),
        csrf_token: &csrf_of(state, view.cookie),
        notice: view.notice,
        error: view.error,
        min_password_len: MIN_PASSWORD_LEN,
        mfa_required: ctx.protocol.mfa_required,
        has_factor: listing.totp_since.is_some() || !listing.passkeys.is_empty(),
        totp_since: listing.totp_since.map(when),
        recovery_left: listing.recovery_codes_left,
        passkeys: listing
            .passkeys
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id,
                name: p.name,
                created: when(p.created_at),
                last_used: p.last_used_at.map(when),
                synced: p.synced,
            })
            .collect(),
        passkeys_unavailable: ctx.passkeys.as_ref().err().map(|why| why.to_string()),
        sessions: live
            .into_iter()
            .map(|s| session_view(s, &view.session.id_hash))
            .collect(),
        applications: apps.into_iter().map(application_view).collect(),
    };
    let builder = if ctx.passkeys.is_ok() {
        page_builder_with_passkeys(status)
    } else {
        page_builder(status)
    };
    Ok(render(builder, &page))
}

fn session_view(s: SessionRow, current: &str) -> SessionView {
    SessionView {
        current: s.id_hash == current,
        created: when(s.created_at),
        last_seen: when(s.last_seen_at.unwrap_or(s.created_at)),
        id_hash: s.id_hash,
        address: s.address,
        user_agent: s.user_agent,
    }
}

fn application_view(a: Application) -> ApplicationView {
    ApplicationView {
        client_id: a.client_id,
        name: a.name,
        scope: a.consented_scope,
        granted: a.granted_at.map(when),
        live_grants: a.live_grants,
    }
}

/// The account page again with an error (a form that could not be taken).
async fn show_error(
    state: &State,
    signed: &Signed,
    error: &str,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let view = View {
        session: &signed.session,
        cookie: &signed.cookie,
        notice: None,
        error: Some(error),
    };
    show(state, view, status).await
}

/// The login form, with this browser's CSRF cookie (set anew when missing).
fn login_form(
    req: &HttpRequest,
    state: &State,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let token = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
        .unwrap_or_else(|| secrets::random_token(32));
    let mut res = render(
        page_builder(status),
        &LoginPage {
            csrf_token: &token,
            username,
            error,
        },
    );
    if let Err(e) = res.add_cookie(&cookie(CSRF_COOKIE, token, state)) {
        tracing::error!(error = %e, "cannot set the account CSRF cookie");
    }
    res
}

/// POST /account/login — the password, then (when the person has one) the
/// second factor, which comes back here.
#[post("/account/login")]
pub async fn login_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let params = read_form(&req, payload).await.map_err(|_| stale())?;
    let token = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(stale)?;
    let sent = params.get("csrf_token").unwrap_or_default();
    if !secrets::constant_time_eq(sent, &token) {
        return Err(stale());
    }
    let username = params.get("username").unwrap_or("").to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    let failed = |username: &str| {
        login_form(
            &req,
            &state,
            username,
            Some(LOGIN_FAILED),
            StatusCode::UNAUTHORIZED,
        )
    };
    if username.is_empty() || password.is_empty() || username.len() > 256 {
        return Ok(failed(&username));
    }
    let attempt = Attempt {
        username: username.clone(),
        password,
        via: "account-page".to_owned(),
        address: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let required: Acr = state.ctx.protocol.mfa_floor();
    let purpose = Purpose {
        continue_to: Some(PATH.into()),
        required,
    };
    let outcome = sign_in(
        &state,
        "account_page",
        attempt,
        (session_cookie(&req), browser(&req)),
        purpose,
    )
    .await?;
    match outcome {
        SignedIn::Yes { user, session } => {
            tracing::info!(user = %user.id, "account page login succeeded");
            let mut res = to_account(&state);
            set_session_cookie(&mut res, session, &state)?;
            Ok(res)
        }
        SignedIn::No(None) => Ok(failed(&username)),
        SignedIn::No(Some(page)) => Ok(page),
    }
}
