//! The login and consent pages.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{self as flow, cookie, expired, see_other, SESSION_COOKIE};
use super::forms::{read_form, single};
use super::pages::{self, page_builder, render};
use crate::accounts::{self, sessions, LoginOutcome};
use crate::oauth::authorize::{self, AuthorizeRequest};
use crate::oauth::clients;
use crate::oauth::{Error, ErrorCode, Scope};
use crate::secrets;
use crate::store;
use crate::store::authorization::{self as rows, PendingRow};
use crate::Services;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

struct ScopeLine {
    name: String,
    description: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<ScopeLine>,
    request_id: &'a str,
    csrf_token: &'a str,
}

/// The same words for every failed login: they must not tell which part was wrong.
const LOGIN_FAILED: &str = "The username or password is incorrect.";

async fn client_name(services: &Services, client_id: &str) -> Option<String> {
    let id = client_id.to_owned();
    services
        .db
        .run(move |conn| clients::find(conn, &id))
        .await
        .ok()
        .flatten()
        .map(|c| c.name)
}

fn login_page(
    status: StatusCode,
    client: &str,
    pending: &PendingRow,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    render(
        page_builder(status),
        &LoginPage {
            client_name: client,
            request_id: &pending.id,
            csrf_token: &pending.csrf_token,
            username,
            error,
        },
    )
}

/// GET /login?request=ID — the login form for a pending authorization request.
#[get("/login")]
pub async fn login_form(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let Some((request, pending)) = flow::pending_from_query(&req, &services).await else {
        return expired();
    };
    let Some(name) = client_name(&services, &request.client_id).await else {
        return expired();
    };
    login_page(
        StatusCode::OK,
        &name,
        &pending,
        request.login_hint.as_deref().unwrap_or(""),
        None,
    )
}

/// Checks the CSRF token and the browser binding of a page's form.
async fn checked_form(
    req: &HttpRequest,
    services: &Services,
    payload: web::Payload,
) -> Result<(Vec<(String, String)>, AuthorizeRequest, PendingRow), HttpResponse> {
    let params = read_form(req, payload).await.map_err(|_| expired())?;
    let (request, pending) = flow::load_pending(req, services, single(&params, "request"))
        .await
        .ok_or_else(expired)?;
    let csrf_ok = single(&params, "csrf_token")
        .is_some_and(|t| secrets::constant_time_eq(t, &pending.csrf_token));
    if !csrf_ok {
        return Err(pages::error(
            StatusCode::BAD_REQUEST,
            "Cannot sign in",
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
    services: web::Data<Services>,
) -> HttpResponse {
    let (params, request, pending) = match checked_form(&req, &services, payload).await {
        Ok(parts) => parts,
        Err(page) => return page,
    };
    let username = single(&params, "username").unwrap_or("").to_owned();
    let password = single(&params, "password").unwrap_or("").to_owned();
    let name = client_name(&services, &request.client_id)
        .await
        .unwrap_or_default();
    if username.is_empty() || password.is_empty() || username.len() > 256 {
        return login_page(
            StatusCode::UNAUTHORIZED,
            &name,
            &pending,
            &username,
            Some(LOGIN_FAILED),
        );
    }
    let attempt = accounts::Attempt {
        username: username.clone(),
        password,
        via: format!("login-page:{}", request.client_id),
        address: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let policy = services.settings.login_policy();
    let user = match accounts::authenticate(&services.db, &policy, attempt).await {
        Ok(LoginOutcome::Success(user)) => user,
        Ok(LoginOutcome::Throttled { retry_after }) => {
            let minutes = (retry_after + 59) / 60;
            let mut res = pages::error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                &format!("Too many failed sign-in attempts. Try again in {minutes} minute(s)."),
            );
            if let Ok(value) =
                actix_web::http::header::HeaderValue::from_str(&retry_after.to_string())
            {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return res;
        }
        Ok(LoginOutcome::Failure) => {
            services.metrics.login_failed("login_page");
            tracing::info!(client_id = %request.client_id, "login failed");
            return login_page(
                StatusCode::UNAUTHORIZED,
                &name,
                &pending,
                &username,
                Some(LOGIN_FAILED),
            );
        }
        Err(_) => return pages::unavailable(),
    };
    let previous = req
        .cookie(SESSION_COOKIE)
        .map(|c| secrets::sha256_hex(c.value()));
    let ttl = services.settings.session_ttl;
    let user_id = user.id.clone();
    let created = services
        .db
        .write(move |conn| {
            let now = store::now();
            // A new login replaces the browser's previous session (no fixation).
            if let Some(old) = previous {
                sessions::end(conn, &old, now)?;
            }
            sessions::create(conn, &user_id, now, ttl)
        })
        .await;
    let Ok(session_value) = created else {
        return pages::unavailable();
    };
    tracing::info!(user = %user.id, client_id = %request.client_id, "login succeeded");
    let location = authorize::redirect_url(
        &format!("{}/authorize/continue", services.settings.issuer),
        &[("request", Some(&pending.id))],
    );
    let mut res = see_other(&location);
    let mut session_cookie = cookie(SESSION_COOKIE, session_value, &services);
    session_cookie.set_max_age(actix_web::cookie::time::Duration::seconds(ttl));
    if res.add_cookie(&session_cookie).is_err() {
        return pages::unavailable();
    }
    res
}

fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your account identifier)",
        "profile" => "Your name and username",
        "email" => "Your email address",
        "address" => "Your postal address",
        "phone" => "Your phone number",
        "offline_access" => "Stay connected while you are away",
        _ => "Access on your behalf",
    }
}

/// GET /consent?request=ID — asks the user before a third-party client gets their data.
#[get("/consent")]
pub async fn consent_form(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let Some((request, pending)) = flow::pending_from_query(&req, &services).await else {
        return expired();
    };
    let Ok(Some(session)) = flow::current_session(&req, &services).await else {
        return expired();
    };
    let Some(name) = client_name(&services, &request.client_id).await else {
        return expired();
    };
    let scope = Scope::parse(&request.scope).unwrap_or_default();
    let scopes = scope
        .iter()
        .map(|s| ScopeLine {
            name: s.to_owned(),
            description: describe(s),
        })
        .collect();
    render(
        page_builder(StatusCode::OK),
        &ConsentPage {
            client_name: &name,
            username: &session.user.username,
            scopes,
            request_id: &pending.id,
            csrf_token: &pending.csrf_token,
        },
    )
}

/// POST /consent — records the user's answer and resumes the request.
#[post("/consent")]
pub async fn consent_submit(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    let (params, request, pending) = match checked_form(&req, &services, payload).await {
        Ok(parts) => parts,
        Err(page) => return page,
    };
    let Ok(Some(session)) = flow::current_session(&req, &services).await else {
        return expired();
    };
    if single(&params, "decision") != Some("allow") {
        let id = pending.id.clone();
        // Best effort: an undeleted pending request expires on its own.
        let _ = services
            .db
            .write(move |conn| rows::delete_pending(conn, &id))
            .await;
        let error = Error::new(ErrorCode::AccessDenied, "the user declined");
        return see_other(&authorize::error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
            &services.settings.issuer,
        ));
    }
    let (user_id, client_id, scope) = (
        session.user.id.clone(),
        request.client_id.clone(),
        request.scope.clone(),
    );
    let saved = services
        .db
        .write(move |conn| rows::save_consent(conn, &user_id, &client_id, &scope, store::now()))
        .await;
    if saved.is_err() {
        return pages::unavailable();
    }
    flow::issue_code_redirect(&services, request, &session, Some(pending.id)).await
}
