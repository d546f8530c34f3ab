//! `POST /account/profile` (name and email) and `POST /account/password`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};

use super::{checked, done, show_error};
use crate::accounts::login::LoginOutcome;
use crate::accounts::profile as rules;
use crate::accounts::{authenticate, AccountError, Attempt};
use crate::http::errors::PageError;
use crate::http::pages::login::throttled_page;
use crate::http::State;

/// POST /account/profile — a new name and email.
#[post("/account/profile")]
pub async fn profile_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let name = signed.params.get("name").unwrap_or("");
    let email = signed.params.get("email").unwrap_or("");
    let profile = match rules::validate_profile(name, email) {
        Ok(profile) => profile,
        Err(e) => {
            return show_error(&state, &signed, &e.to_string(), StatusCode::BAD_REQUEST).await
        }
    };
    let ctx = &state.ctx;
    let user_id = &signed.session.user.id;
    rules::update_profile(&ctx.db, user_id, profile, user_id, ctx.now()).await?;
    Ok(done(&state, "profile"))
}

const WRONG_PASSWORD: &str = "The current password is incorrect.";

/// POST /account/password — the current password (counted by the
/// brute-force throttle), then the new one twice. Every other session of
/// the person ends, and their refresh tokens are revoked.
#[post("/account/password")]
pub async fn password_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let field = |name: &str| signed.params.get(name).unwrap_or("").to_owned();
    let (current, new, confirmation) = (
        field("current_password"),
        field("new_password"),
        field("confirm_password"),
    );
    if current.is_empty() {
        return show_error(&state, &signed, WRONG_PASSWORD, StatusCode::UNAUTHORIZED).await;
    }
    if let Err(e) = rules::check_new_password(&new, &confirmation) {
        return show_error(&state, &signed, &e.to_string(), StatusCode::BAD_REQUEST).await;
    }
    let ctx = &state.ctx;
    let user = &signed.session.user;
    let attempt = Attempt {
        username: user.username.clone(),
        password: current,
        via: "account-page".to_owned(),
        address: req.peer_addr().map(|a| a.ip().to_string()),
    };
    match authenticate(&ctx.db, &ctx.clock, &ctx.protocol.login, attempt).await? {
        LoginOutcome::Success(_) => {}
        LoginOutcome::Failure => {
            ctx.metrics.login_failed("account_password");
            return show_error(&state, &signed, WRONG_PASSWORD, StatusCode::UNAUTHORIZED).await;
        }
        LoginOutcome::Throttled { retry_after } => {
            return Ok(throttled_page(
                retry_after,
                "Too many wrong passwords for this account.",
            ))
        }
    }
    let changed = rules::change_password(
        &ctx.db,
        &ctx.events,
        &user.username,
        &user.id,
        &new,
        &signed.session.id_hash,
        ctx.now(),
    )
    .await;
    match changed {
        Ok(ended) => {
            tracing::info!(user = %user.id, ended, "password changed on the account page");
            Ok(done(&state, "password"))
        }
        Err(AccountError::Password(e)) => {
            show_error(&state, &signed, &e.to_string(), StatusCode::BAD_REQUEST).await
        }
        Err(AccountError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
