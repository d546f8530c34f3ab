//! Reading what a request carries: form and JSON bodies and query strings
//! (with limits), the Authorization header, a bearer token, and the browser's
//! session and flow cookies.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::State;
use crate::accounts::sessions::{self, LiveSession};
use crate::oauth::access_token::{Presentation, Presented};
use crate::oauth::form::{self, Params};
use crate::oauth::{Error, ErrorCode};
use crate::store::StoreError;

/// Form requests are small; anything larger is refused before parsing.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The SSO session's cookie: a random value whose hash names the session.
pub const SESSION_COOKIE: &str = "portcullis_session";
/// Binds a pending login or consent to the browser that started it, so a
/// form cannot be completed from another browser (login CSRF).
pub const FLOW_COOKIE: &str = "portcullis_flow";

/// Reads an `application/x-www-form-urlencoded` body of at most
/// `MAX_FORM_BYTES`.
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Params, Error> {
    if !is_form(req) {
        return Err(Error::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    form::parse(&read_body(payload, MAX_FORM_BYTES).await?)
}

/// Reads an `application/json` body of at most `limit` bytes, unparsed.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, Error> {
    if !has_content_type(req, "application/json") {
        return Err(Error::invalid_request("the body must be application/json"));
    }
    read_body(payload, limit).await
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, Error> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| Error::invalid_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(Error::invalid_request("the request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn is_form(req: &HttpRequest) -> bool {
    has_content_type(req, "application/x-www-form-urlencoded")
}

fn has_content_type(req: &HttpRequest, expected: &str) -> bool {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case(expected)
}

pub fn parse_query(query: &str) -> Result<Params, Error> {
    if query.len() > MAX_FORM_BYTES {
        return Err(Error::invalid_request("the query string is too long"));
    }
    form::parse(query.as_bytes())
}

/// The Authorization header, for client authentication (RFC 6749 §2.3.1).
pub fn authorization_header(req: &HttpRequest) -> Result<Option<&str>, Error> {
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Error::invalid_client("malformed Authorization header").with_basic_challenge(true)
        }),
        None => Ok(None),
    }
}

/// A bearer token in the Authorization header (RFC 6750 §2.1).
pub fn bearer_token(req: &HttpRequest) -> Result<Option<String>, Error> {
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

/// RFC 9449 §8.1: the header a fresh server nonce travels in.
pub const DPOP_NONCE: &str = "DPoP-Nonce";

/// Every `DPoP` header value (RFC 9449 §4.1); more than one is refused
/// where the proof is checked.
pub fn dpop_proofs(req: &HttpRequest) -> Result<Vec<String>, Error> {
    req.headers()
        .get_all("dpop")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Error::invalid_dpop_proof("the DPoP header is not ASCII"))
        })
        .collect()
}

/// An access token at a protected resource: `Authorization: Bearer`
/// (RFC 6750 §2.1) or `Authorization: DPoP` with its proof (RFC 9449 §7.1).
pub fn presented_token(req: &HttpRequest) -> Result<Option<Presented>, Error> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::invalid_request("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .map(|(s, t)| (s, t.trim()))
        .filter(|(_, t)| !t.is_empty())
        .ok_or_else(|| Error::new(ErrorCode::InvalidToken, "expected a Bearer or DPoP token"))?;
    let how = if scheme.eq_ignore_ascii_case("bearer") {
        Presentation::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Presentation::Dpop {
            proofs: dpop_proofs(req)?,
        }
    } else {
        return Err(Error::new(
            ErrorCode::InvalidToken,
            "expected a Bearer or DPoP token",
        ));
    };
    Ok(Some(Presented {
        token: token.to_owned(),
        how,
    }))
}

/// The value of the browser's session cookie, if it sent one.
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// The value of the browser's flow cookie, if it sent one.
pub fn flow_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(FLOW_COOKIE).map(|c| c.value().to_owned())
}

/// The live SSO session of this browser, if any.
pub async fn current_session(
    req: &HttpRequest,
    state: &State,
) -> Result<Option<LiveSession>, StoreError> {
    let Some(value) = session_cookie(req) else {
        return Ok(None);
    };
    let now = state.ctx.now();
    state
        .ctx
        .db
        .run(move |conn| sessions::find(conn, &value, now))
        .await
}

/// A cookie only this server reads: HttpOnly, SameSite=Lax, Secure when
/// the issuer is https.
pub fn cookie<'c>(name: &'c str, value: String, state: &State) -> Cookie<'c> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.secure_cookies)
        .finish()
}
