//! Token introspection (RFC 7662) and revocation (RFC 7009).

use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::{self, Client, ClientCredentials};
use super::{Error, ErrorCode};
use crate::secrets;
use crate::store::{self, refresh_tokens as rt, throttle, users};
use crate::Services;

/// An introspection or revocation request: the token, and who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    pub token: String,
    pub client: ClientCredentials,
}

impl TokenQuery {
    pub fn parse(params: &[(String, String)], authorization: Option<&str>) -> Result<Self, Error> {
        super::form::check_params(params, super::token::MAX_PARAM_LEN)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let token =
            get("token").ok_or_else(|| Error::invalid_request("missing parameter `token`"))?;
        // token_type_hint is only a hint (RFC 7009 §2.1): both kinds are tried.
        let client =
            ClientCredentials::from_parts(authorization, get("client_id"), get("client_secret"))?;
        Ok(TokenQuery {
            token: token.to_owned(),
            client,
        })
    }
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    client_id: String,
    aud: Value,
    #[serde(default)]
    scope: String,
    exp: i64,
    iat: i64,
    jti: String,
    auth_time: Option<i64>,
}

fn audience_matches(aud: &Value, who: &str) -> bool {
    match aud {
        Value::String(a) => a == who,
        Value::Array(list) => list.iter().any(|a| a == who),
        _ => false,
    }
}

/// May `caller` see this access token? Its own tokens, and those meant for
/// it as a resource server (its client_id or registered audience in `aud`).
fn visible_to(claims: &AccessClaims, caller: &Client) -> bool {
    claims.client_id == caller.client_id
        || audience_matches(&claims.aud, &caller.client_id)
        || caller
            .audience
            .as_deref()
            .is_some_and(|a| audience_matches(&claims.aud, a))
}

fn inactive() -> Value {
    json!({"active": false})
}

fn looks_like_jwt(token: &str) -> bool {
    token.len() < 8192 && token.matches('.').count() == 2
}

/// Who a live access token speaks for.
pub enum Holder {
    /// A client's own token (client credentials), or the caller did not ask
    /// about the user.
    Client,
    User(Box<users::UserRow>),
}

/// Whether a verified access token still counts: its `jti` not revoked and,
/// when `user` names the user it was issued for, that user still there and
/// enabled. `None` when it does not count. One trip to the database.
pub async fn live_access_token(
    services: &Services,
    jti: &str,
    user: Option<&str>,
) -> Result<Option<Holder>, Error> {
    let (jti, user) = (jti.to_owned(), user.map(str::to_owned));
    Ok(services
        .db
        .run(move |conn| {
            if throttle::is_access_token_revoked(conn, &jti)? {
                return Ok::<_, store::StoreError>(None);
            }
            let Some(sub) = user else {
                return Ok(Some(Holder::Client));
            };
            Ok(users::find_by_id(conn, &sub)?
                .filter(|u| !u.disabled)
                .map(|u| Holder::User(Box::new(u))))
        })
        .await?)
}

/// RFC 7662 §2.2: `{"active": false}` for anything expired, revoked,
/// malformed, unknown or not the caller's to see.
pub async fn introspect(services: &Services, query: TokenQuery) -> Result<Value, Error> {
    let caller = clients::authenticate(&services.db, &services.client_cache, query.client).await?;
    if caller.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot introspect tokens",
        ));
    }
    let issuer = &services.settings.issuer;
    if looks_like_jwt(&query.token) {
        let Ok(claims) = services
            .keys
            .verify::<AccessClaims>(&query.token, issuer, "at+jwt", true)
        else {
            return Ok(inactive());
        };
        if !visible_to(&claims, &caller) {
            return Ok(inactive());
        }
        // A user's token (it has an auth_time) dies with its user.
        let user = claims.auth_time.map(|_| claims.sub.as_str());
        if live_access_token(services, &claims.jti, user)
            .await?
            .is_none()
        {
            return Ok(inactive());
        }
        return Ok(json!({
            "active": true, "token_type": "Bearer", "scope": claims.scope, "client_id": claims.client_id,
            "sub": claims.sub, "aud": claims.aud, "iss": issuer, "exp": claims.exp, "iat": claims.iat,
            "jti": claims.jti,
        }));
    }
    let hash = secrets::sha256_hex(&query.token);
    let row = services
        .db
        .run(move |conn| rt::find_by_hash(conn, &hash))
        .await?;
    let now = store::now();
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

/// RFC 7009 §2: a refresh token revokes its family; an access token is
/// denied by `jti` until it expires. Unknown or invalid tokens are not an
/// error (§2.2): the client's aim, a token that does not work, holds.
pub async fn revoke(services: &Services, query: TokenQuery) -> Result<(), Error> {
    let caller = clients::authenticate(&services.db, &services.client_cache, query.client).await?;
    let not_yours = || {
        Error::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        )
    };
    if looks_like_jwt(&query.token) {
        let verified = services.keys.verify::<AccessClaims>(
            &query.token,
            &services.settings.issuer,
            "at+jwt",
            false,
        );
        let Ok(claims) = verified else { return Ok(()) };
        if claims.client_id != caller.client_id {
            return Err(not_yours());
        }
        if claims.exp > store::now() {
            let (jti, exp) = (claims.jti.clone(), claims.exp);
            services
                .db
                .write(move |conn| throttle::revoke_access_token(conn, &jti, exp))
                .await?;
        }
        return Ok(());
    }
    let hash = secrets::sha256_hex(&query.token);
    let row = services
        .db
        .run(move |conn| rt::find_by_hash(conn, &hash))
        .await?;
    match row {
        None => Ok(()),
        Some(r) if r.client_id != caller.client_id => Err(not_yours()),
        Some(r) => {
            let family = r.family_id.clone();
            let revoked = services
                .db
                .write(move |conn| rt::revoke_family(conn, &family, store::now()))
                .await?;
            tracing::info!(client_id = %caller.client_id, revoked, "refresh token family revoked on request");
            Ok(())
        }
    }
}
