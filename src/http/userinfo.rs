//! `GET|POST /userinfo`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::errors::status_of;
use super::forms::{is_form, read_form, single};
use crate::oauth::userinfo::userinfo as claims_of;
use crate::oauth::{Error, ErrorCode};
use crate::Services;

/// An RFC 6750 §3 answer: the challenge names the error, if any.
pub fn bearer_error(error: Option<&Error>) -> HttpResponse {
    let Some(error) = error else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="portcullis""#))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    };
    let description = error.description.as_deref().unwrap_or("");
    let challenge = format!(
        r#"Bearer realm="portcullis", error="{}", error_description="{}""#,
        error.code.as_str(),
        description.replace(['"', '\\'], "")
    );
    let status = match error.code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        other => status_of(other),
    };
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": error.code.as_str(), "error_description": description}))
}

pub fn header_token(req: &HttpRequest) -> Result<Option<String>, Error> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::invalid_request("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(Error::new(
            ErrorCode::InvalidToken,
            "expected a Bearer token",
        )),
    }
}

async fn answer(services: &Services, token: Result<Option<String>, Error>) -> HttpResponse {
    let token = match token {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_error(None),
        Err(e) => return bearer_error(Some(&e)),
    };
    match claims_of(services, &token).await {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Err(e)
            if matches!(
                e.code,
                ErrorCode::InvalidToken | ErrorCode::InsufficientScope
            ) =>
        {
            bearer_error(Some(&e))
        }
        Err(e) => super::errors::OAuthError(e).into(),
    }
}

/// GET /userinfo — OIDC Core §5.3, the token in the Authorization header.
pub async fn userinfo_get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    answer(&services, header_token(&req)).await
}

/// POST /userinfo — the token in the header or, RFC 6750 §2.2, in the form body.
pub async fn userinfo_post(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    let from_header = header_token(&req);
    if !is_form(&req) {
        return answer(&services, from_header).await;
    }
    let from_body = match read_form(&req, payload).await {
        Ok(params) => single(&params, "access_token").map(str::to_owned),
        Err(e) => return bearer_error(Some(&e)),
    };
    let token = match (from_header, from_body) {
        (Ok(Some(_)), Some(_)) => Err(Error::invalid_request(
            "send the token in one place, not two",
        )),
        (Ok(None), Some(t)) => Ok(Some(t)),
        (other, None) => other,
        (Err(e), Some(_)) => Err(e),
    };
    answer(&services, token).await
}
