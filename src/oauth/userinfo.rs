//! The userinfo endpoint's rules (OIDC Core §5.3) and the bearer-token
//! errors of RFC 6750 §3.1.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::user_claims;
use super::introspection::{live_access_token, Holder};
use super::{Error, ErrorCode, Scope};
use crate::Services;

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    scope: String,
    auth_time: Option<i64>,
    #[serde(default)]
    userinfo_claims: Vec<String>,
    jti: String,
}

fn invalid_token() -> Error {
    Error::new(
        ErrorCode::InvalidToken,
        "the access token is invalid or expired",
    )
}

/// The claims of the user an access token was issued for.
pub async fn userinfo(services: &Services, token: &str) -> Result<Map<String, Value>, Error> {
    let claims: AccessClaims = services
        .keys
        .verify(token, &services.settings.issuer, "at+jwt", true)
        .map_err(|_| invalid_token())?;
    // A user's token (it has an auth_time) dies with its user.
    let user = claims.auth_time.map(|_| claims.sub.as_str());
    let holder = live_access_token(services, &claims.jti, user)
        .await?
        .ok_or_else(invalid_token)?;
    let scope = Scope::parse(&claims.scope).map_err(|_| invalid_token())?;
    // Tokens from client credentials have no user behind them (no auth_time).
    let user = match holder {
        Holder::User(user) if scope.contains("openid") => user,
        _ => {
            return Err(Error::new(
                ErrorCode::InsufficientScope,
                "the access token does not carry the openid scope",
            ))
        }
    };
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(user.id.as_str()));
    out.extend(user_claims(&user, &scope, &claims.userinfo_claims));
    Ok(out)
}
