//! Adding a passkey on the account page: `POST /account/passkeys/options`
//! (JSON: the creation options and the ceremony) and `POST /account/passkeys`
//! (the browser's answer, in a form post, then back to the page).

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};

use super::{checked, done, show_error};
use crate::accounts::factors;
use crate::accounts::passkeys::{self, PasskeyError};
use crate::http::errors::{problem, PageError};
use crate::http::pages::passkeys::MAX_CREDENTIAL_JSON;
use crate::http::pages::second_factor::RecoveryCodesPage;
use crate::http::pages::{page_builder, render};
use crate::http::State;

/// POST /account/passkeys/options — field `csrf_token`.
#[post("/account/passkeys/options")]
pub async fn registration_options(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let Ok(rp) = state.ctx.passkeys.as_ref() else {
        return Ok(problem(
            StatusCode::NOT_FOUND,
            "passkeys_unavailable",
            "passkeys are unavailable on this server",
        ));
    };
    let signed = match checked(&req, &state, payload).await {
        Ok(Ok(signed)) => signed,
        Ok(Err(_)) => {
            return Ok(problem(
                StatusCode::UNAUTHORIZED,
                "login_required",
                "sign in on the account page first",
            ))
        }
        Err(PageError::Unavailable(e)) => return Err(PageError::Unavailable(e)),
        Err(_) => {
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "this page is out of date; reload the account page",
            ))
        }
    };
    let ctx = &state.ctx;
    match passkeys::begin_registration(&ctx.db, rp, &signed.session.user, ctx.now()).await {
        Ok((options, ceremony)) => Ok(HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"publicKey": options, "ceremony": ceremony}))),
        Err(PasskeyError::Store(e)) => Err(e.into()),
        Err(e) => Ok(problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &e.to_string(),
        )),
    }
}

/// POST /account/passkeys — fields `csrf_token`, `ceremony`, `credential`
/// (the browser's `toJSON()`), `name`.
#[post("/account/passkeys")]
pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let Ok(rp) = state.ctx.passkeys.as_ref() else {
        return show_error(
            &state,
            &signed,
            "Passkeys are unavailable on this server.",
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    let ceremony = signed.params.get("ceremony").unwrap_or("");
    let credential = signed.params.get("credential").unwrap_or("");
    let name = signed.params.get("name").unwrap_or("");
    if ceremony.is_empty() || credential.is_empty() || credential.len() > MAX_CREDENTIAL_JSON {
        let message = "The passkey was not added: the browser sent no answer. Try again.";
        return show_error(&state, &signed, message, StatusCode::BAD_REQUEST).await;
    }
    let ctx = &state.ctx;
    let user = &signed.session.user;
    match passkeys::finish_registration(&ctx.db, rp, user, ceremony, credential, name, ctx.now())
        .await
    {
        Ok(_) => {
            // The first factor comes with recovery codes, shown once.
            let left = factors::enrolled_async(&ctx.db, &user.id)
                .await?
                .recovery_codes_left;
            if left > 0 {
                return Ok(done(&state, "passkey-added"));
            }
            let codes =
                factors::regenerate_recovery_codes(&ctx.db, &user.id, &user.id, ctx.now()).await?;
            Ok(render(
                page_builder(StatusCode::OK),
                &RecoveryCodesPage {
                    codes: &codes,
                    continue_to: &format!("{}?done=passkey-added", super::PATH),
                },
            ))
        }
        Err(PasskeyError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::info!(user = %user.id, error = %e, "passkey registration refused");
            let message = format!("The passkey was not added: {e}.");
            show_error(&state, &signed, &message, StatusCode::BAD_REQUEST).await
        }
    }
}
