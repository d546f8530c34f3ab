//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592), governed by [`Mode`]:
//!
//! - `metadata.rs`: the client metadata of RFC 7591 §2, read from the JSON a
//!   client sends into a [`NewClient`] checked by the rules `client add`
//!   obeys, and rendered back;
//! - `initial_tokens.rs`: the operator's initial access tokens (§3);
//! - `management.rs`: read, update and delete with the registration access
//!   token (RFC 7592 §2).
//!
//! Dynamically registered clients are third parties: their users always see
//! the consent page, and they never get the password grant (nor, on an
//! open endpoint, client credentials: an anonymous client would act as
//! itself without any user).

pub mod initial_tokens;
pub mod management;
mod metadata;

use std::fmt;
use std::str::FromStr;

use diesel::Connection;
use serde_json::{json, Value};

use super::clients::{self, RegistrationError};
use super::limiter::RateLimiter;
use super::{Context, Error, ErrorCode, Scope};
use crate::secrets;
use crate::store::StoreError;

/// Who may use `POST /register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No dynamic registration: the endpoints answer 404 and discovery does
    /// not name them.
    Off,
    /// Only with an initial access token minted by an operator.
    Token,
    /// Anyone.
    Open,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Token => "token",
            Mode::Open => "open",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Mode::Off, Mode::Token, Mode::Open]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("expected off, token or open, got `{s}`"))
    }
}

/// The registration settings the protocol needs.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    /// The most a registered client may ask for, and its scope when it
    /// names none.
    pub scope: Scope,
}

/// The registration endpoint's limiter: `per_minute` registrations per
/// client address (0: no limit), in this replica's memory.
pub fn limiter(per_minute: i64) -> RateLimiter {
    RateLimiter::per_window(per_minute, 60, "too many registrations from this address")
}

/// A registration request as the HTTP layer read it.
pub struct RegistrationRequest<'a> {
    /// The JSON body, unparsed.
    pub body: &'a [u8],
    /// The bearer token sent, if any (the initial access token).
    pub initial_token: Option<String>,
    /// The client's network address, for the rate limit and the audit trail.
    pub address: Option<String>,
}

/// RFC 6750 §3.1 `invalid_token`: a missing or wrong initial or
/// registration access token.
fn invalid_token(description: &'static str) -> Error {
    Error::new(ErrorCode::InvalidToken, description)
}

fn invalid_metadata(description: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorCode::InvalidClientMetadata, description)
}

/// Reads a JSON body: it must be an object (RFC 7591 §3.1).
fn parse_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_metadata("the body must be a JSON object")),
        Err(e) => Err(invalid_metadata(format!("the body is not valid JSON: {e}"))),
    }
}

/// `{issuer}/register/{client_id}`: where the client manages itself.
fn client_uri(ctx: &Context, client_id: &str) -> String {
    format!("{}/register/{client_id}", ctx.issuer())
}

/// What can stop a registration inside its write transaction; any of them
/// rolls it back, so a refused registration spends no use of its token.
enum Refusal {
    Token,
    Client(RegistrationError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Client(e.into())
    }
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<RegistrationError> for Refusal {
    fn from(e: RegistrationError) -> Self {
        Refusal::Client(e)
    }
}

/// POST /register: checks the request and the metadata, then, in one write
/// transaction, spends a use of the initial access token (token mode) and
/// stores the client. Answers the client information response (RFC 7591
/// §3.2.1): the registered metadata, the client's credentials and its
/// registration access token, all shown this once.
pub async fn register(ctx: &Context, request: RegistrationRequest<'_>) -> Result<Value, Error> {
    let policy = &ctx.protocol.registration;
    let address = request.address.unwrap_or_else(|| "unknown".to_owned());
    ctx.registration_limiter.check(&address, ctx.now())?;
    let initial_token = match policy.mode {
        Mode::Off => {
            return Err(Error::invalid_request(
                "dynamic client registration is not enabled",
            ))
        }
        Mode::Open => None,
        Mode::Token => Some(
            request
                .initial_token
                .ok_or_else(|| invalid_token("an initial access token is required"))?,
        ),
    };
    let body = parse_body(request.body)?;
    let outbound = ctx.outbound.policy();
    let mut new = metadata::parse(&body, policy, outbound, secrets::random_hex(16))?;
    let registration_token = secrets::random_token(32);
    new.registration_token_hash = Some(secrets::sha256_hex(&registration_token));
    let now = ctx.now();
    let registered = ctx
        .db
        .write(move |conn| {
            conn.transaction::<_, Refusal, _>(|conn| {
                let actor = match &initial_token {
                    Some(token) => {
                        let id = initial_tokens::spend(conn, token, now)?.ok_or(Refusal::Token)?;
                        format!("registration:{id}")
                    }
                    None => format!("registration:{address}"),
                };
                Ok(clients::register(conn, new, outbound, &actor, now)?)
            })
        })
        .await
        .map_err(|refusal| match refusal {
            Refusal::Token => {
                invalid_token("the initial access token is invalid, expired or used up")
            }
            Refusal::Client(e) => metadata::client_error(e),
        })?;
    let client = &registered.client;
    let mut out = metadata::describe(client);
    if let Some(secret) = registered.secret {
        out.insert("client_secret".into(), json!(secret));
    }
    out.insert(
        "registration_access_token".into(),
        json!(registration_token),
    );
    out.insert(
        "registration_client_uri".into(),
        json!(client_uri(ctx, &client.client_id)),
    );
    Ok(Value::Object(out))
}
