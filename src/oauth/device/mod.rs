//! The device authorization grant (RFC 8628): a device without a browser
//! (a TV, a command-line tool) asks for a pair of codes here, shows the
//! person the user code and where to type it, and polls the token endpoint
//! (`oauth::token::grants::device_code`) while the person approves on their
//! phone through the `/device` pages (`verification.rs`).

pub mod user_code;
pub mod verification;

use serde::Serialize;

use super::client_auth::{self, ClientAuth};
use super::clients::GrantType;
use super::form::Params;
use super::{resource, Context, Error, Scope};
use crate::secrets;
use crate::store::device_codes::{self as rows, DeviceCodeRow, DeviceStatus};
use crate::store::StoreError;

/// RFC 8628 §3.5: each `slow_down` makes the interval this much longer.
pub const SLOW_DOWN_STEP: i64 = 5;

/// The path of the verification page.
pub const VERIFICATION_PATH: &str = "/device";

/// A device authorization request (RFC 8628 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub client: ClientAuth,
    pub scope: Option<String>,
    pub resources: Vec<String>,
}

impl DeviceRequest {
    pub fn parse(params: &Params, authorization: Option<&str>) -> Result<Self, Error> {
        params.check(super::token::MAX_PARAM_LEN)?;
        Ok(DeviceRequest {
            client: ClientAuth::from_request(params, authorization)?,
            scope: params.get("scope").map(str::to_owned),
            resources: resource::requested(params)?,
        })
    }
}

/// RFC 8628 §3.2.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Authenticates the client (public clients too), checks what it asks
/// for, and stores the request: the device code as its hash, the user code
/// unique among live requests.
pub async fn authorize(
    ctx: &Context,
    request: DeviceRequest,
) -> Result<DeviceAuthorization, Error> {
    let client = client_auth::authenticate(
        ctx,
        request.client,
        client_auth::Endpoint::DeviceAuthorization,
    )
    .await?;
    let now = ctx.now();
    ctx.limiter.check(&client.client_id, now)?;
    if !client.allows(GrantType::DeviceCode) {
        return Err(Error::unauthorized_client(
            "this client may not use the device authorization grant",
        ));
    }
    let scope = Scope::grant(request.scope.as_deref(), &client.scope)?;
    let resources = resource::registered(request.resources, &client)?;
    let protocol = &ctx.protocol;
    let device_code = secrets::random_token(32);
    let row = DeviceCodeRow {
        device_code_hash: secrets::sha256_hex(&device_code),
        user_code: String::new(),
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        resources: resources.join(" "),
        created_at: now,
        expires_at: now + protocol.device_code_ttl,
        poll_interval: protocol.device_poll_interval,
        last_polled_at: None,
        slowed: false,
        status: DeviceStatus::Pending,
        user_id: None,
        session_id: None,
        auth_time: None,
        decided_at: None,
        amr: None,
    };
    let user_code = ctx
        .db
        .write(move |conn| {
            // A clash among ~2^34.6 codes is rare; a few tries make it moot.
            let mut last = None;
            for _ in 0..5 {
                let code = user_code::generate();
                let attempt = DeviceCodeRow {
                    user_code: code.clone(),
                    ..row.clone()
                };
                match rows::insert(conn, attempt) {
                    Ok(()) => return Ok(code),
                    Err(e @ StoreError::Conflict(_)) => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(last.unwrap_or(StoreError::Conflict("user code")))
        })
        .await?;
    let shown = user_code::display(&user_code);
    let verification_uri = format!("{}{VERIFICATION_PATH}", ctx.issuer());
    Ok(DeviceAuthorization {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        verification_uri,
        user_code: shown,
        expires_in: protocol.device_code_ttl,
        interval: protocol.device_poll_interval,
    })
}
