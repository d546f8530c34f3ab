//! `POST /token`.

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};

use super::errors::OAuthError;
use super::forms::read_form;
use crate::oauth::introspection::{self, TokenQuery};
use crate::oauth::token::{exchange, TokenRequest};
use crate::oauth::Error;
use crate::Services;

/// POST /token — RFC 6749 §4.3 (password), §4.4 (client credentials), §6 (refresh).
#[post("/token")]
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let mut request = TokenRequest::parse(&params, authorization_header(&req)?)?;
    request.address = req.peer_addr().map(|a| a.ip().to_string());
    let response = exchange(&services, request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

fn authorization_header(req: &HttpRequest) -> Result<Option<&str>, Error> {
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Error::invalid_client("malformed Authorization header").with_basic_challenge(true)
        }),
        None => Ok(None),
    }
}

/// POST /introspect — RFC 7662.
#[post("/introspect")]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let query = TokenQuery::parse(&params, authorization_header(&req)?)?;
    let answer = introspection::introspect(&services, query).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// POST /revoke — RFC 7009.
#[post("/revoke")]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let query = TokenQuery::parse(&params, authorization_header(&req)?)?;
    introspection::revoke(&services, query).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
