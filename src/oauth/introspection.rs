//! Token introspection (RFC 7662). The request shape is shared with
//! revocation (RFC 7009), which is `revocation.rs`.

use serde_json::{json, Value};

use super::access_token::{self, AccessToken};
use super::client_auth::{self, ClientAuth};
use super::clients::Client;
use super::form::Params;
use super::{Context, Error};
use crate::keys::Expiry;
use crate::secrets;
use crate::store::refresh_tokens as rt;

/// An introspection or revocation request: the token, and who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    pub token: String,
    pub client: ClientAuth,
}

impl TokenQuery {
    pub fn parse(params: &Params, authorization: Option<&str>) -> Result<Self, Error> {
        params.check(super::token::MAX_PARAM_LEN)?;
        let token = params
            .get("token")
            .ok_or_else(|| Error::invalid_request("missing parameter `token`"))?;
        // token_type_hint is only a hint (RFC 7009 §2.1): both kinds are tried.
        let client = ClientAuth::from_request(params, authorization)?;
        Ok(TokenQuery {
            token: token.to_owned(),
            client,
        })
    }
}

/// Whether `token` has the shape of a JWT (an access token) rather than
/// an opaque refresh token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.len() < 8192 && token.matches('.').count() == 2
}

/// May `caller` see this access token? Its own tokens, and those meant for
/// it as a resource server (its client_id or registered audience in `aud`).
fn visible_to(claims: &AccessToken, caller: &Client) -> bool {
    claims.client_id == caller.client_id || claims.addressed_to(caller)
}

fn inactive() -> Value {
    json!({"active": false})
}

/// RFC 7662 §2.2: `{"active": false}` for anything expired, revoked,
/// malformed, unknown or not the caller's to see.
pub async fn introspect(ctx: &Context, query: TokenQuery) -> Result<Value, Error> {
    let caller =
        client_auth::authenticate(ctx, query.client, client_auth::Endpoint::Introspection).await?;
    if caller.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot introspect tokens",
        ));
    }
    let issuer = ctx.issuer();
    if looks_like_jwt(&query.token) {
        let Ok(claims) = access_token::decode(ctx, &query.token, Expiry::Enforce) else {
            return Ok(inactive());
        };
        // Not the caller's to see: no database work for it.
        if !visible_to(&claims, &caller) {
            return Ok(inactive());
        }
        let Some(valid) = access_token::live(ctx, claims).await? else {
            return Ok(inactive());
        };
        let claims = valid.claims;
        let token_type = if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        let mut answer = json!({
            "active": true, "token_type": token_type, "scope": claims.scope, "client_id": claims.client_id,
            "sub": claims.sub, "aud": claims.aud, "iss": issuer, "exp": claims.exp, "iat": claims.iat,
            "jti": claims.jti,
        });
        // RFC 8693 §4.1: an exchanged token says who acts for its subject.
        if let Some(act) = claims.act {
            answer["act"] = act;
        }
        // RFC 9449 §6.2: the resource server checks the proof's key against it.
        if let Some(cnf) = claims.cnf {
            answer["cnf"] = json!({"jkt": cnf.jkt});
        }
        return Ok(answer);
    }
    let hash = secrets::sha256_hex(&query.token);
    let row = ctx
        .db
        .run(move |conn| rt::find_by_hash(conn, &hash))
        .await?;
    let now = ctx.now();
    match row {
        Some(r)
            if r.client_id == caller.client_id
                && r.used_at.is_none()
                && r.revoked_at.is_none()
                && r.expires_at > now =>
        {
            Ok(json!({
                "active": true, "token_type": "refresh_token", "scope": r.scope, "client_id": r.client_id,
                "sub": r.user_id, "iss": issuer, "exp": r.expires_at, "iat": r.issued_at,
            }))
        }
        _ => Ok(inactive()),
    }
}
