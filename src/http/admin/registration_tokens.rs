//! `/admin/registration-tokens`: initial access tokens for dynamic client
//! registration (RFC 7591 §3).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ok, AdminActor};
use crate::http::errors::AdminError;
use crate::http::State;
use crate::oauth::registration::initial_tokens;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Seconds the token is valid (default: until deleted).
    expires_in: Option<i64>,
    /// Registrations it allows (default: any number).
    uses: Option<i64>,
}

/// POST /admin/registration-tokens — `{"expires_in": 86400, "uses": 1}`
/// (both optional); the token is in the answer, once.
pub async fn create_token(
    AdminActor(actor): AdminActor,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, AdminError> {
    // Not `Option<Json>`: a malformed body must be refused, not read as
    // "no limits".
    let body: NewTokenBody = if body.iter().all(u8::is_ascii_whitespace) {
        NewTokenBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AdminError::Invalid(e.to_string()))?
    };
    let now = state.ctx.now();
    let minted = state
        .ctx
        .db
        .write(move |conn| initial_tokens::create(conn, body.expires_in, body.uses, &actor, now))
        .await?;
    Ok(ok(StatusCode::CREATED, json!(minted)))
}
