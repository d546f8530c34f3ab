//! `POST /token`, `POST /introspect`, `POST /revoke`,
//! `POST /device_authorization`: form in, JSON out.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::errors::OAuthError;
use crate::http::extract::{authorization_header, dpop_proofs, read_form, DPOP_NONCE};
use crate::http::State;
use crate::oauth::device::{self, DeviceRequest};
use crate::oauth::introspection::{self, TokenQuery};
use crate::oauth::revocation;
use crate::oauth::token::{exchange, TokenRequest};

/// POST /token — RFC 6749 §4.1.3 (authorization code), §4.3 (password),
/// §4.4 (client credentials), §6 (refresh).
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let mut request = TokenRequest::parse(&params, authorization_header(&req)?)?;
    request.address = req.peer_addr().map(|a| a.ip().to_string());
    request.dpop_proofs = dpop_proofs(&req)?;
    let response = exchange(&state.ctx, request).await?;
    let mut ok = HttpResponse::Ok();
    ok.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if let Some(nonce) = &response.dpop_nonce {
        ok.insert_header((DPOP_NONCE, nonce.as_str()));
    }
    Ok(ok.json(response))
}

/// The request of both introspection and revocation.
async fn token_query(req: &HttpRequest, payload: web::Payload) -> Result<TokenQuery, OAuthError> {
    let params = read_form(req, payload).await?;
    Ok(TokenQuery::parse(&params, authorization_header(req)?)?)
}

/// POST /introspect — RFC 7662.
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let query = token_query(&req, payload).await?;
    let answer = introspection::introspect(&state.ctx, query).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// POST /revoke — RFC 7009.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let query = token_query(&req, payload).await?;
    revocation::revoke(&state.ctx, query).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// POST /device_authorization — RFC 8628 §3.1.
pub async fn device_authorization(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let request = DeviceRequest::parse(&params, authorization_header(&req)?)?;
    let answer = device::authorize(&state.ctx, request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
