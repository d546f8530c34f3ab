//! The second factors of the account page: the authenticator app
//! (`GET|POST /account/totp`, `POST /account/totp/remove`), recovery codes
//! (`POST /account/recovery-codes`) and passkeys (rename and remove; they
//! are added elsewhere). A factor is not removed when a policy needs one
//! and it is the person's last.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use super::{checked, csrf_of, done, show_error, to_account, Signed, PATH};
use crate::accounts::factors::{self, Factor, FactorError, Removal};
use crate::http::errors::PageError;
use crate::http::extract::{current_session, session_cookie};
use crate::http::pages::second_factor::{factor_error, totp_setup, EnrolPage, RecoveryCodesPage};
use crate::http::pages::{message_page, page_builder, render};
use crate::http::State;

const TOTP_PATH: &str = "/account/totp";
const WRONG_CODE: &str = "That code is not right. Check the key in your app and try the next code.";
const MAX_PASSKEY_NAME: usize = 64;

/// GET /account/totp — the setup of an authenticator app.
#[get("/account/totp")]
pub async fn totp_form(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let (Some(session), Some(cookie)) =
        (current_session(&req, &state).await?, session_cookie(&req))
    else {
        return Ok(to_account(&state));
    };
    enrol_page(&state, &session.user, &cookie, None, StatusCode::OK).await
}

async fn enrol_page(
    state: &State,
    user: &crate::store::users::UserRow,
    cookie: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let enrolled = factors::enrolled_async(&state.ctx.db, &user.id).await?;
    if enrolled.totp {
        return Ok(to_account(state));
    }
    let setup = totp_setup(state, user).await?;
    let csrf = csrf_of(state, cookie);
    let page = EnrolPage {
        error,
        ..EnrolPage::new(&setup, &user.username, &csrf, TOTP_PATH)
    };
    Ok(render(page_builder(status), &page))
}

/// POST /account/totp — the app's first code turns it on; the first factor
/// comes with recovery codes, shown once.
#[post("/account/totp")]
pub async fn totp_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let code: String = signed
        .params
        .get("code")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect();
    let ctx = &state.ctx;
    let user = &signed.session.user;
    match factors::confirm_totp(&ctx.db, &ctx.keys, &user.id, &code, ctx.now()).await {
        Ok(Some(codes)) => Ok(render(
            page_builder(StatusCode::OK),
            &RecoveryCodesPage {
                codes: &codes,
                continue_to: PATH,
            },
        )),
        Ok(None) => Ok(done(&state, "totp")),
        Err(FactorError::WrongCode) => {
            enrol_page(
                &state,
                user,
                &signed.cookie,
                Some(WRONG_CODE),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Err(FactorError::NoEnrolment) => Ok(to_account(&state)),
        Err(e) => Err(factor_error(e)),
    }
}

/// The refusal to remove a person's last factor.
fn last_factor() -> HttpResponse {
    message_page(
        StatusCode::CONFLICT,
        "Cannot remove your last second factor",
        "This server requires a second factor to sign in, and this is your last one. Set up another one (an authenticator app or a passkey) first, then remove this one. Nothing was changed.",
    )
}

async fn remove(state: &State, signed: &Signed, factor: Factor) -> Result<Removal, PageError> {
    let ctx = &state.ctx;
    let user_id = &signed.session.user.id;
    let keep_one = ctx.protocol.mfa_required;
    Ok(factors::remove_factor(&ctx.db, user_id, factor, keep_one, user_id, ctx.now()).await?)
}

/// POST /account/totp/remove
#[post("/account/totp/remove")]
pub async fn totp_remove(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    Ok(match remove(&state, &signed, Factor::Totp).await? {
        Removal::Removed => done(&state, "totp-removed"),
        Removal::NotFound => to_account(&state),
        Removal::LastFactor => last_factor(),
    })
}

/// POST /account/recovery-codes — a new set; the old one stops working.
#[post("/account/recovery-codes")]
pub async fn recovery_codes(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let ctx = &state.ctx;
    let user_id = &signed.session.user.id;
    if !factors::has_factor(&ctx.db, user_id).await? {
        return show_error(
            &state,
            &signed,
            "Recovery codes stand in for a lost authenticator app or passkey: set one up first.",
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let codes = factors::regenerate_recovery_codes(&ctx.db, user_id, user_id, ctx.now()).await?;
    Ok(render(
        page_builder(StatusCode::OK),
        &RecoveryCodesPage {
            codes: &codes,
            continue_to: PATH,
        },
    ))
}

fn not_yours() -> PageError {
    PageError::BadRequest {
        title: "No such passkey",
        message: "That passkey is not one of yours (or it was removed meanwhile). Reload the account page.".into(),
    }
}

/// POST /account/passkeys/rename — fields `id` and `name`.
#[post("/account/passkeys/rename")]
pub async fn passkey_rename(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let id = signed.params.get("id").unwrap_or("");
    let name = signed.params.get("name").unwrap_or("").trim();
    if name.is_empty() || name.chars().count() > MAX_PASSKEY_NAME || name.contains(char::is_control)
    {
        let message = format!("A passkey's name is 1 to {MAX_PASSKEY_NAME} characters.");
        return show_error(&state, &signed, &message, StatusCode::BAD_REQUEST).await;
    }
    let ctx = &state.ctx;
    if !factors::rename_passkey(&ctx.db, &signed.session.user.id, id, name).await? {
        return Err(not_yours());
    }
    Ok(done(&state, "passkey-renamed"))
}

/// POST /account/passkeys/remove — field `id`.
#[post("/account/passkeys/remove")]
pub async fn passkey_remove(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let id = signed.params.get("id").unwrap_or("").to_owned();
    match remove(&state, &signed, Factor::Passkey(id)).await? {
        Removal::Removed => Ok(done(&state, "passkey-removed")),
        Removal::NotFound => Err(not_yours()),
        Removal::LastFactor => Ok(last_factor()),
    }
}
