//! `GET|POST /userinfo`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::errors::BearerError;
use crate::http::extract::{is_form, presented_token, read_form, DPOP_NONCE};
use crate::http::State;
use crate::oauth::access_token::Presented;
use crate::oauth::userinfo::userinfo as claims_of;
use crate::oauth::{dpop, Error};

async fn answer(
    req: &HttpRequest,
    state: &State,
    token: Result<Option<Presented>, Error>,
) -> Result<HttpResponse, BearerError> {
    let token = token?.ok_or_else(BearerError::missing)?;
    let claims = claims_of(&state.ctx, &token, req.method().as_str())
        .await
        .map_err(|e| BearerError::new(e).dpop(token.is_dpop()))?;
    let mut ok = HttpResponse::Ok();
    ok.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(nonce) = dpop::next_nonce(&state.ctx).filter(|_| token.is_dpop()) {
        ok.insert_header((DPOP_NONCE, nonce));
    }
    Ok(ok.json(claims))
}

/// GET /userinfo — OIDC Core §5.3, the token in the Authorization header.
pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, BearerError> {
    answer(&req, &state, presented_token(&req)).await
}

/// POST /userinfo — the token in the header or, RFC 6750 §2.2, in the form body.
pub async fn userinfo_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, BearerError> {
    let from_header = presented_token(&req);
    if !is_form(&req) {
        return answer(&req, &state, from_header).await;
    }
    let params = read_form(&req, payload).await?;
    let from_body = params.get("access_token").map(str::to_owned);
    let token = match (from_header, from_body) {
        (Ok(Some(_)), Some(_)) => Err(Error::invalid_request(
            "send the token in one place, not two",
        )),
        (Ok(None), Some(t)) => Ok(Some(Presented::bearer(t))),
        (other, None) => other,
        (Err(e), Some(_)) => Err(e),
    };
    answer(&req, &state, token).await
}
