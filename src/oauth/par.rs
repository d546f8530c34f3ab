//! Pushed authorization requests (RFC 9126): a client sends its
//! authorization request to `/par`, authenticated, and gets a `request_uri`
//! that the browser then carries to `/authorize` in place of the parameters.
//! The request is validated at push time with the authorization endpoint's
//! own rules and stored, so any replica can open it. The browser may open
//! it again (a reload) until its code is issued; that spends it.

use serde::Serialize;

use super::authorize::{self, AuthorizeError, AuthorizeRequest, PENDING_TTL};
use super::client_auth::{self, ClientAuth, Endpoint};
use super::clients::Client;
use super::form::Params;
use super::{dpop, Context, Error};
use crate::secrets;
use crate::store::pushed_requests::{self as rows, PushedRow};
use crate::store::StoreError;

/// RFC 9126 §2.2: the `request_uri` prefix it suggests.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may wait for the browser (FAPI 2.0 asks for
/// less than 600 s; a browser redirect takes a second).
pub const PUSHED_TTL: i64 = 60;

/// The parameters of client authentication, which are not part of the
/// authorization request.
const CLIENT_AUTH_PARAMS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// A push as the HTTP layer read it.
pub struct PushRequest {
    pub client: ClientAuth,
    pub params: Params,
    /// The `DPoP` header values (RFC 9449 §10.1).
    pub dpop_proofs: Vec<String>,
}

/// RFC 9126 §2.2.
#[derive(Debug, Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

pub async fn push(ctx: &Context, push: PushRequest) -> Result<Pushed, Error> {
    let client = client_auth::authenticate(ctx, push.client, Endpoint::PushedAuthorization).await?;
    let params = push.params;
    if params.get("request_uri").is_some() {
        return Err(Error::invalid_request(
            "a pushed request cannot itself name a request_uri",
        ));
    }
    if params
        .get("client_id")
        .is_some_and(|id| id != client.client_id)
    {
        return Err(Error::invalid_request(
            "client_id does not match the authenticated client",
        ));
    }
    let proofs: Vec<&str> = push.dpop_proofs.iter().map(String::as_str).collect();
    let target = dpop::Target {
        method: "POST",
        path: "/par",
        access_token: None,
    };
    let proven = dpop::check(ctx, &proofs, target).await?;
    let authorization: Params = params
        .pairs()
        .iter()
        .filter(|(name, _)| !CLIENT_AUTH_PARAMS.contains(&name.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let mut request = authorize::validate(&authorization, &client).map_err(as_json)?;
    // RFC 9449 §10.1: a proof at PAR binds the code to its key; a dpop_jkt
    // sent beside it must name the same key.
    if let Some(proven) = proven {
        match &request.dpop_jkt {
            Some(jkt) if jkt != &proven.jkt => {
                return Err(Error::invalid_dpop_proof(
                    "dpop_jkt does not match the DPoP proof's key",
                ))
            }
            _ => request.dpop_jkt = Some(proven.jkt),
        }
    }
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", secrets::random_token(32));
    let row = PushedRow {
        request_uri_hash: secrets::sha256_hex(&request_uri),
        client_id: client.client_id.clone(),
        params: serde_json::to_string(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: ctx.now(),
        expires_at: ctx.now() + PUSHED_TTL,
        used_at: None,
    };
    ctx.db.write(move |conn| rows::insert(conn, &row)).await?;
    Ok(Pushed {
        request_uri,
        expires_in: PUSHED_TTL,
    })
}

/// The authorization endpoint's error, as PAR's JSON (RFC 9126 §2.3).
fn as_json(error: AuthorizeError) -> Error {
    match error {
        AuthorizeError::Page(message) => Error::invalid_request(message),
        AuthorizeError::Redirect { error, .. } => error,
    }
}

/// What `/authorize?client_id=…&request_uri=…` leads to.
#[derive(Debug)]
pub enum Taken {
    Request(Box<AuthorizeRequest>),
    /// Unknown, expired, used already, or another client's: there is no
    /// redirect URI to trust, so the browser is told on a page.
    Unusable,
}

/// Opens the pushed request `request_uri` of `client` for the browser. It
/// can be opened again (a reload) until its code is issued, which spends
/// it (`AuthorizeRequest::pushed` says which row).
pub async fn take(ctx: &Context, client: &Client, request_uri: &str) -> Result<Taken, StoreError> {
    if !request_uri.starts_with(REQUEST_URI_PREFIX) || request_uri.len() > 256 {
        return Ok(Taken::Unusable);
    }
    let (hash, client_id, now) = (
        secrets::sha256_hex(request_uri),
        client.client_id.clone(),
        ctx.now(),
    );
    let key = hash.clone();
    let keep_until = now + PENDING_TTL;
    let params = ctx
        .db
        .write(move |conn| rows::open(conn, &key, &client_id, now, keep_until))
        .await?;
    let Some(params) = params else {
        return Ok(Taken::Unusable);
    };
    let mut request: AuthorizeRequest = serde_json::from_str(&params)
        .map_err(|e| StoreError::Corrupt(format!("pushed request: {e}")))?;
    request.pushed = Some(hash);
    Ok(Taken::Request(Box::new(request)))
}
