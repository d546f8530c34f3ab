//! Client configuration (RFC 7592 §2) at `{issuer}/register/{client_id}`,
//! authorized by the registration access token the client got when it
//! registered (or last updated). Only a dynamically registered client has
//! one; a wrong, missing or another client's token is the same
//! `invalid_token`, whether or not the client exists.

use serde_json::{json, Value};

use super::{client_uri, invalid_metadata, invalid_token, metadata, parse_body, Mode};
use crate::oauth::client_auth::secret;
use crate::oauth::clients::{self, Client};
use crate::oauth::{Context, Error};
use crate::secrets;

/// The dynamic client `client_id` if `token` is its registration access
/// token, with the token's hash. Read from the database, not the client
/// cache: a token rotated a moment ago on another replica must not work.
async fn authenticate(
    ctx: &Context,
    client_id: &str,
    token: Option<String>,
) -> Result<(Client, String), Error> {
    if ctx.protocol.registration.mode == Mode::Off {
        return Err(Error::invalid_request(
            "dynamic client registration is not enabled",
        ));
    }
    let token = token.ok_or_else(|| invalid_token("a registration access token is required"))?;
    let id = client_id.to_owned();
    let client = ctx.db.run(move |conn| clients::find(conn, &id)).await?;
    let given = secrets::sha256_hex(&token);
    let matches = client
        .as_ref()
        .filter(|c| c.dynamic)
        .and_then(Client::registration_token_hash)
        .is_some_and(|stored| secrets::constant_time_eq(stored, &given));
    match client {
        Some(client) if matches => Ok((client, given)),
        _ => Err(invalid_token(
            "the registration access token is invalid for this client",
        )),
    }
}

/// GET — RFC 7592 §2.1: the client's current metadata (never its secret:
/// only a hash of it is kept).
pub async fn read(ctx: &Context, client_id: &str, token: Option<String>) -> Result<Value, Error> {
    let (client, _) = authenticate(ctx, client_id, token).await?;
    let mut out = metadata::describe(&client);
    out.insert(
        "registration_client_uri".into(),
        json!(client_uri(ctx, &client.client_id)),
    );
    Ok(Value::Object(out))
}

/// PUT — RFC 7592 §2.2: replaces the metadata with the body's (checked as
/// a registration is; omitted fields take their defaults), and the
/// registration access token with a new one, returned. The client's
/// secret stays, and so do its kind (a confidential client cannot turn
/// public or the reverse) and its signing algorithm.
pub async fn update(
    ctx: &Context,
    client_id: &str,
    token: Option<String>,
    body: &[u8],
) -> Result<Value, Error> {
    let (client, current_hash) = authenticate(ctx, client_id, token).await?;
    let body = parse_body(body)?;
    if metadata::string(&body, "client_id")?.as_deref() != Some(client.client_id.as_str()) {
        return Err(Error::invalid_request(
            "the body's client_id must be this client's (RFC 7592 §2.2)",
        ));
    }
    if let Some(given) = metadata::string(&body, "client_secret")? {
        if !secret::matches(&client, &given) {
            return Err(Error::invalid_request(
                "the body's client_secret is not this client's",
            ));
        }
    }
    let outbound = ctx.outbound.policy();
    let mut new = metadata::parse(
        &body,
        &ctx.protocol.registration,
        outbound,
        client.client_id.clone(),
    )?;
    // A secret may go in the header or the form, but a client does not
    // turn public, or from a secret to keys, in place.
    let method = new.effective_auth_method();
    if method != client.auth_method && !(method.uses_secret() && client.auth_method.uses_secret()) {
        return Err(invalid_metadata(format!(
            "token_endpoint_auth_method cannot change from {} to {method}: register a new client",
            client.auth_method
        )));
    }
    // The signing algorithm stays (`clients::update_metadata`): an update
    // may repeat it, or leave it out, but not change it.
    if metadata::present(&body, "id_token_signed_response_alg")
        && new.signing_alg != client.signing_alg
    {
        return Err(invalid_metadata(
            "id_token_signed_response_alg cannot change: register a new client",
        ));
    }
    let registration_token = secrets::random_token(32);
    new.registration_token_hash = Some(secrets::sha256_hex(&registration_token));
    let (actor, now) = (format!("client:{}", client.client_id), ctx.now());
    let updated = ctx
        .db
        .write(move |conn| {
            clients::update_metadata(conn, new, outbound, &current_hash, &actor, now)
        })
        .await
        .map_err(metadata::client_error)?;
    ctx.clients.forget(&client.client_id);
    // Gone or rotated since `authenticate`: a racing update or deletion won.
    let updated = updated
        .ok_or_else(|| invalid_token("the registration access token is invalid for this client"))?;
    let mut out = metadata::describe(&updated);
    out.insert(
        "registration_access_token".into(),
        json!(registration_token),
    );
    out.insert(
        "registration_client_uri".into(),
        json!(client_uri(ctx, &updated.client_id)),
    );
    Ok(Value::Object(out))
}

/// DELETE — RFC 7592 §2.3: the client and every refresh token issued to it.
pub async fn delete(ctx: &Context, client_id: &str, token: Option<String>) -> Result<(), Error> {
    let (client, _) = authenticate(ctx, client_id, token).await?;
    let actor = format!("client:{}", client.client_id);
    clients::remove_client(ctx, &client.client_id, actor).await?;
    Ok(())
}
