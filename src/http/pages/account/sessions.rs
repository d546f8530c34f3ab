//! The sessions and applications of the account page:
//! `POST /account/sessions/end`, `POST /account/sessions/end-others` and
//! `POST /account/applications/revoke`.

use actix_web::{post, web, HttpRequest, HttpResponse};

use super::{checked, done};
use crate::accounts::profile as rules;
use crate::events::SessionEndReason;
use crate::http::errors::PageError;
use crate::http::State;

/// POST /account/sessions/end — field `session`: the id hash of one of
/// this person's live sessions (this browser's too: it is then signed out).
#[post("/account/sessions/end")]
pub async fn end_one(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let id_hash = signed.params.get("session").unwrap_or("");
    let ctx = &state.ctx;
    let ended = rules::end_own_session(
        &ctx.db,
        &ctx.events,
        &signed.session.user.id,
        id_hash,
        ctx.now(),
    )
    .await?;
    if !ended {
        return Err(PageError::BadRequest {
            title: "No such session",
            message: "That session is not one of yours, or it has ended already. Reload the account page."
                .into(),
        });
    }
    Ok(done(&state, "session-ended"))
}

/// POST /account/sessions/end-others — every session but this browser's.
#[post("/account/sessions/end-others")]
pub async fn end_others(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let ctx = &state.ctx;
    rules::end_other_sessions(
        &ctx.db,
        &ctx.events,
        &signed.session.user.id,
        &signed.session.id_hash,
        ctx.now(),
        SessionEndReason::EndedFromAccount,
    )
    .await?;
    Ok(done(&state, "sessions-ended"))
}

/// POST /account/applications/revoke — field `client_id`: the consent is
/// forgotten and the person's refresh tokens for the client revoked.
#[post("/account/applications/revoke")]
pub async fn revoke_application(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let signed = match checked(&req, &state, payload).await? {
        Ok(signed) => signed,
        Err(page) => return Ok(page),
    };
    let client_id = signed.params.get("client_id").unwrap_or("");
    let ctx = &state.ctx;
    let user_id = &signed.session.user.id;
    rules::revoke_application(&ctx.db, user_id, client_id, user_id, ctx.now()).await?;
    Ok(done(&state, "app-revoked"))
}
