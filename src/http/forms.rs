//! Reading form bodies and query strings, with limits.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::oauth::Error;

/// Form requests are small; anything larger is refused before parsing.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Reads an `application/x-www-form-urlencoded` body of at most
/// `MAX_FORM_BYTES` into name/value pairs.
pub async fn read_form(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<(String, String)>, Error> {
    if !is_form(req) {
        return Err(Error::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| Error::invalid_request("the request body could not be read"))?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(Error::invalid_request("the request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    crate::oauth::form::parse(&body)
}

pub fn is_form(req: &HttpRequest) -> bool {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, Error> {
    if query.len() > MAX_FORM_BYTES {
        return Err(Error::invalid_request("the query string is too long"));
    }
    crate::oauth::form::parse(query.as_bytes())
}

/// The value of a parameter given exactly once; `None` when absent, empty or repeated.
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = params
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    match (found.next(), found.next()) {
        (Some(v), None) if !v.is_empty() => Some(v),
        _ => None,
    }
}
