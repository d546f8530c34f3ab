//! `GET|POST /userinfo`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::errors::BearerError;
use crate::http::extract::{bearer_token, is_form, read_form};
use crate::http::State;
use crate::oauth::userinfo::userinfo as claims_of;
use crate::oauth::Error;

async fn answer(
    state: &State,
    token: Result<Option<String>, Error>,
) -> Result<HttpResponse, BearerError> {
    let token = token?.ok_or(BearerError(None))?;
    let claims = claims_of(&state.ctx, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims))
}

/// GET /userinfo — OIDC Core §5.3, the token in the Authorization header.
pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, BearerError> {
    answer(&state, bearer_token(&req)).await
}

/// POST /userinfo — the token in the header or, RFC 6750 §2.2, in the form body.
pub async fn userinfo_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, BearerError> {
    let from_header = bearer_token(&req);
    if !is_form(&req) {
        return answer(&state, from_header).await;
    }
    let params = read_form(&req, payload).await?;
    let from_body = params.get("access_token").map(str::to_owned);
    let token = match (from_header, from_body) {
        (Ok(Some(_)), Some(_)) => Err(Error::invalid_request(
            "send the token in one place, not two",
        )),
        (Ok(None), Some(t)) => Ok(Some(t)),
        (other, None) => other,
        (Err(e), Some(_)) => Err(e),
    };
    answer(&state, token).await
}
