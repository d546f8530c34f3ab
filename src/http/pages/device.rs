//! `/device` — where a person connects a device (RFC 8628 §3.3): type the
//! code (prefilled from `verification_uri_complete`), sign in unless the
//! browser's SSO session is live, then confirm on a page that always shows
//! the client, the scopes and the code, warning that only the person in
//! front of the device should approve (§5.4, remote phishing). Decisions
//! are `oauth::device::verification`'s.
//!
//! The forms carry a CSRF token that must equal this browser's device
//! cookie (double submit): these pages have no pending request to hold one.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::consent::{scope_lines, ScopeLine};
use super::login::{browser, set_session_cookie, sign_in, throttled_page, SignedIn};
use super::{message_page, page_builder, render};
use crate::accounts::login::{Attempt, Purpose};
use crate::http::errors::PageError;
use crate::http::extract::{cookie, current_session, parse_query, read_form, session_cookie};
use crate::http::State;
use crate::oauth::authorize::policy_acr;
use crate::oauth::device::verification::{self, Lookup, Pending, Typist};
use crate::oauth::form::Params;
use crate::oauth::Scope;
use crate::secrets;

/// The browser's device-page cookie: its CSRF token and throttle identity.
const DEVICE_COOKIE: &str = "portcullis_device";

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    csrf_token: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_login.html")]
struct LoginPage<'a> {
    client_name: &'a str,
    csrf_token: &'a str,
    user_code: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_confirm.html")]
struct ConfirmPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<ScopeLine>,
    csrf_token: &'a str,
    user_code: &'a str,
}

const UNKNOWN_CODE: &str =
    "That code is not valid. Check the code on your device (it expires after a few minutes) and try again.";
const LOGIN_FAILED: &str = "The username or password is incorrect.";

/// GET /device[?user_code=…] — the code entry form.
#[get("/device")]
pub async fn device_form(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let typed = parse_query(req.query_string())
        .ok()
        .and_then(|p| p.get("user_code").map(str::to_owned))
        .unwrap_or_default();
    let typed: String = typed.chars().take(16).collect();
    let token = req
        .cookie(DEVICE_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
        .unwrap_or_else(|| secrets::random_token(32));
    let mut res = render(
        page_builder(StatusCode::OK),
        &EntryPage {
            csrf_token: &token,
            user_code: &typed,
            error: None,
        },
    );
    if let Err(e) = res.add_cookie(&cookie(DEVICE_COOKIE, token, &state)) {
        tracing::error!(error = %e, "cannot set the device cookie");
    }
    res
}

/// A posted device form whose CSRF token matches this browser's cookie.
struct DeviceForm {
    params: Params,
    token: String,
    typist: Typist,
}

async fn checked(req: &HttpRequest, payload: web::Payload) -> Result<DeviceForm, PageError> {
    let stale = || {
        PageError::BadRequest {
        title: "Cannot connect the device",
        message: "This form was not sent from this browser's device page (its security token is missing or wrong). Open the address your device shows and start again.".into(),
    }
    };
    let params = read_form(req, payload).await.map_err(|_| stale())?;
    let token = req
        .cookie(DEVICE_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(stale)?;
    let sent = params.get("csrf_token").unwrap_or_default();
    if !secrets::constant_time_eq(sent, &token) {
        return Err(stale());
    }
    let typist = Typist {
        address: req.peer_addr().map(|a| a.ip().to_string()),
        browser: token.clone(),
    };
    Ok(DeviceForm {
        params,
        token,
        typist,
    })
}

/// A checked form and the pending request its code names, or the page to
/// show instead.
async fn form_and_pending(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
) -> Result<Result<(DeviceForm, Pending), HttpResponse>, PageError> {
    let form = checked(req, payload).await?;
    Ok(pending_of(state, &form).await?.map(|p| (form, p)))
}

/// The pending request the form's code names, or the page to show instead.
async fn pending_of(
    state: &State,
    form: &DeviceForm,
) -> Result<Result<Pending, HttpResponse>, PageError> {
    let typed = form.params.get("user_code").unwrap_or_default();
    match verification::find(&state.ctx, typed, &form.typist).await? {
        Lookup::Found(pending) => Ok(Ok(*pending)),
        Lookup::Unknown => {
            let shown: String = typed.chars().take(16).collect();
            Ok(Err(render(
                page_builder(StatusCode::BAD_REQUEST),
                &EntryPage {
                    csrf_token: &form.token,
                    user_code: &shown,
                    error: Some(UNKNOWN_CODE),
                },
            )))
        }
        Lookup::Throttled { retry_after } => Ok(Err(throttled_page(
            retry_after,
            "Too many wrong codes were tried from here.",
        ))),
    }
}

fn login_page(
    status: StatusCode,
    pending: &Pending,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    render(
        page_builder(status),
        &LoginPage {
            client_name: &pending.client.name,
            csrf_token: token,
            user_code: &pending.shown,
            username,
            error,
        },
    )
}

/// The confirmation page for `username`, the signed-in person.
fn confirm_page(pending: &Pending, username: &str, token: &str) -> HttpResponse {
    let scope = Scope::parse(&pending.row.scope).unwrap_or_default();
    render(
        page_builder(StatusCode::OK),
        &ConfirmPage {
            client_name: &pending.client.name,
            username,
            scopes: scope_lines(&scope),
            csrf_token: token,
            user_code: &pending.shown,
        },
    )
}

/// POST /device — the code was typed: confirm, or sign in first.
#[post("/device")]
pub async fn device_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (form, pending) = match form_and_pending(&req, &state, payload).await? {
        Ok(both) => both,
        Err(page) => return Ok(page),
    };
    let another = form.params.get("another_account").is_some();
    match current_session(&req, &state).await? {
        Some(session) if !another => {
            Ok(confirm_page(&pending, &session.user.username, &form.token))
        }
        _ => Ok(login_page(StatusCode::OK, &pending, &form.token, "", None)),
    }
}

/// POST /device/login — signs the person in (a new SSO session), then confirms.
#[post("/device/login")]
pub async fn device_login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (form, pending) = match form_and_pending(&req, &state, payload).await? {
        Ok(both) => both,
        Err(page) => return Ok(page),
    };
    let username = form.params.get("username").unwrap_or("").to_owned();
    let password = form.params.get("password").unwrap_or("").to_owned();
    let failed = || {
        login_page(
            StatusCode::UNAUTHORIZED,
            &pending,
            &form.token,
            &username,
            Some(LOGIN_FAILED),
        )
    };
    if username.is_empty() || password.is_empty() || username.len() > 256 {
        return Ok(failed());
    }
    let attempt = Attempt {
        username: username.clone(),
        password,
        via: format!("device-page:{}", pending.client.client_id),
        address: form.typist.address.clone(),
    };
    // The user signed in is the one the page names: no need to read the
    // session back.
    let (user, session_value) = match sign_in(
        &state,
        "device_page",
        attempt,
        (session_cookie(&req), browser(&req)),
        Purpose {
            // After a second factor, back to this code's page, signed in.
            continue_to: Some(format!(
                "/device?user_code={}",
                url::form_urlencoded::byte_serialize(pending.shown.as_bytes()).collect::<String>()
            )),
            required: policy_acr(&pending.client, state.ctx.protocol.mfa_floor()),
        },
    )
    .await?
    {
        SignedIn::Yes { user, session } => (user, session),
        SignedIn::No(None) => return Ok(failed()),
        SignedIn::No(Some(page)) => return Ok(page),
    };
    let mut res = confirm_page(&pending, &user.username, &form.token);
    set_session_cookie(&mut res, session_value, &state)?;
    Ok(res)
}

/// POST /device/confirm — the person approves or denies.
#[post("/device/confirm")]
pub async fn device_confirm(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (form, pending) = match form_and_pending(&req, &state, payload).await? {
        Ok(both) => both,
        Err(page) => return Ok(page),
    };
    let Some(session) = current_session(&req, &state).await? else {
        return Ok(login_page(StatusCode::OK, &pending, &form.token, "", None));
    };
    let approve = form.params.get("decision") == Some("approve");
    let decided = verification::decide(&state.ctx, &pending, &session, approve).await?;
    let (status, title, message) = match (decided, approve) {
        (false, _) => (
            StatusCode::CONFLICT,
            "Already decided",
            "This request was already approved or denied, or it expired. Start again on your device if you need to.",
        ),
        (true, true) => (
            StatusCode::OK,
            "Device connected",
            "You can return to your device: it will continue on its own.",
        ),
        (true, false) => (
            StatusCode::OK,
            "Request denied",
            "The device was not given access. You can close this page.",
        ),
    };
    Ok(message_page(status, title, message))
}
