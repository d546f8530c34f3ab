//! `GET|POST /login` — the login page of a pending authorization request.
//! The steps of a login are `accounts::login`'s state machine; this file
//! renders the page each state asks for.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::second_factor;
use super::{error, page_builder, page_builder_with_passkeys, render};
use crate::accounts::login::{self, Attempt, Browser, LoginState, Purpose};
use crate::http::errors::PageError;
use crate::http::extract::{cookie, read_form, session_cookie, SESSION_COOKIE};
use crate::http::oauth::authorize::{find_client, load_pending, pending_from_query, see_other};
use crate::http::State;
use crate::oauth::authorize::{required_acr, AuthorizeRequest};
use crate::oauth::form::Params;
use crate::secrets;
use crate::store::authorization::PendingRow;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// "Sign in with a passkey" is offered.
    passkeys: bool,
}

/// The same words for every failed login: they must not tell which part was wrong.
const LOGIN_FAILED: &str = "The username or password is incorrect.";

/// The display name of a client, if it is still registered.
pub async fn client_name(state: &State, client_id: &str) -> Result<Option<String>, PageError> {
    Ok(find_client(state, client_id).await?.map(|c| c.name))
}

fn login_page(
    state: &State,
    status: StatusCode,
    client: &str,
    pending: &PendingRow,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let passkeys = state.ctx.passkeys.is_ok();
    let builder = if passkeys {
        page_builder_with_passkeys(status)
    } else {
        page_builder(status)
    };
    render(
        builder,
        &LoginPage {
            client_name: client,
            request_id: &pending.id,
            csrf_token: &pending.csrf_token,
            username,
            error,
            passkeys,
        },
    )
}

/// The login page of a pending request again, 401, saying `message`.
pub(super) async fn login_page_for(
    state: &State,
    request: &AuthorizeRequest,
    pending: &PendingRow,
    message: &str,
) -> Result<HttpResponse, PageError> {
    let name = client_name(state, &request.client_id)
        .await?
        .unwrap_or_default();
    Ok(login_page(
        state,
        StatusCode::UNAUTHORIZED,
        &name,
        pending,
        "",
        Some(message),
    ))
}

/// GET /login?request=ID — the login form for a pending authorization request.
#[get("/login")]
pub async fn login_form(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (request, pending) = pending_from_query(&req, &state).await?;
    let name = client_name(&state, &request.client_id)
        .await?
        .ok_or(PageError::Expired)?;
    Ok(login_page(
        &state,
        StatusCode::OK,
        &name,
        &pending,
        request.login_hint.as_deref().unwrap_or(""),
        None,
    ))
}

/// Checks the CSRF token and the browser binding of a page's form.
pub async fn checked_form(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
) -> Result<(Params, AuthorizeRequest, PendingRow), PageError> {
    let params = read_form(req, payload)
        .await
        .map_err(|_| PageError::Expired)?;
    let (request, pending) = load_pending(req, state, params.get("request")).await?;
    let csrf_ok = params
        .get("csrf_token")
        .is_some_and(|t| secrets::constant_time_eq(t, &pending.csrf_token));
    if !csrf_ok {
        return Err(PageError::sign_in(
            "The form was not sent from this sign-in page (its security token is missing or wrong). Go back to the application and start again.",
        ));
    }
    Ok((params, request, pending))
}

/// POST /login — checks the password, starts the SSO session, resumes the request.
#[post("/login")]
pub async fn login_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (params, request, pending) = checked_form(&req, &state, payload).await?;
    let username = params.get("username").unwrap_or("").to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    let name = client_name(&state, &request.client_id)
        .await?
        .unwrap_or_default();
    let failed = || {
        login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &name,
            &pending,
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
        via: format!("login-page:{}", request.client_id),
        address: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let client = find_client(&state, &request.client_id).await?;
    let required = match &client {
        Some(client) => required_acr(&request, client, state.ctx.protocol.mfa_floor()),
        None => return Err(PageError::Expired),
    };
    let purpose = Purpose {
        continue_to: Some(continue_url(&pending.id)),
        required,
    };
    let (user, session) = match sign_in(
        &state,
        "login_page",
        attempt,
        (session_cookie(&req), browser(&req)),
        purpose,
    )
    .await?
    {
        SignedIn::Yes { user, session } => (user, session),
        SignedIn::No(None) => {
            tracing::info!(client_id = %request.client_id, "login failed");
            return Ok(failed());
        }
        SignedIn::No(Some(page)) => return Ok(page),
    };
    tracing::info!(user = %user.id, client_id = %request.client_id, "login succeeded");
    let mut res = see_other(&format!(
        "{}{}",
        state.ctx.issuer(),
        continue_url(&pending.id)
    ));
    set_session_cookie(&mut res, session, &state)?;
    Ok(res)
}

/// Where a login for the pending request `id` continues: a path on this
/// server (never from the request, so never an open redirect).
pub fn continue_url(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/authorize/continue?request={id}")
}

/// What the session list on the account page shows of a browser.
pub(super) fn browser(req: &HttpRequest) -> Browser {
    Browser {
        address: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// How a browser sign-in step ended.
pub(super) enum SignedIn {
    Yes {
        user: Box<crate::store::users::UserRow>,
        /// The new session cookie's value.
        session: String,
    },
    /// Not signed in: `None` for a wrong username or password (the caller
    /// shows its form again), or the page to show instead (throttled, or
    /// on to the second factor).
    No(Option<HttpResponse>),
}

/// The password step of any sign-in page (`accounts::login`'s state
/// machine), with a failure counted in the metrics under `page` and the
/// throttled page.
pub(super) async fn sign_in(
    state: &State,
    page: &'static str,
    attempt: Attempt,
    (previous_session, browser): (Option<String>, Browser),
    purpose: Purpose,
) -> Result<SignedIn, PageError> {
    let deps = deps(state);
    let ctx = &state.ctx;
    Ok(
        match login::password_step(&deps, attempt, previous_session, browser, purpose).await? {
            LoginState::Done { user, session } => SignedIn::Yes { user, session },
            LoginState::NeedsSecondFactor { challenge }
            | LoginState::NeedsEnrolment { challenge } => {
                let mut res = see_other(&format!("{}{}", state.ctx.issuer(), second_factor::PATH));
                second_factor::set_challenge_cookie(&mut res, challenge, state)?;
                SignedIn::No(Some(res))
            }
            LoginState::NeedsPassword { .. } => {
                ctx.metrics.login_failed(page);
                SignedIn::No(None)
            }
            LoginState::Throttled { retry_after } => SignedIn::No(Some(throttled_page(
                retry_after,
                "Too many failed sign-in attempts.",
            ))),
        },
    )
}

/// What the login steps need from the server.
pub(super) fn deps(state: &State) -> login::Deps<'_> {
    let ctx = &state.ctx;
    login::Deps {
        db: &ctx.db,
        clock: &ctx.clock,
        events: &ctx.events,
        keys: &ctx.keys,
        passkeys: ctx.passkeys.as_ref().ok(),
        policy: ctx.protocol.login,
        session_ttl: ctx.protocol.session_ttl,
    }
}

/// A 429 page with `Retry-After`.
pub(super) fn throttled_page(retry_after: i64, what: &str) -> HttpResponse {
    let minutes = (retry_after + 59) / 60;
    let mut res = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &format!("{what} Try again in {minutes} minute(s)."),
    );
    if let Ok(value) = header::HeaderValue::from_str(&retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, value);
    }
    res
}

/// Gives the browser its new SSO session cookie.
pub(super) fn set_session_cookie(
    res: &mut HttpResponse,
    value: String,
    state: &State,
) -> Result<(), PageError> {
    let mut session_cookie = cookie(SESSION_COOKIE, value, state);
    session_cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
        state.ctx.protocol.session_ttl,
    ));
    res.add_cookie(&session_cookie)
        .map_err(|e| PageError::Internal(format!("cannot set the session cookie: {e}")))
}
