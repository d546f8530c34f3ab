//! The userinfo endpoint's rules (OIDC Core §5.3), with the bearer-token
//! errors of RFC 6750 §3.1.

use serde_json::{Map, Value};

use super::access_token::{self, Holder, Presented};
use super::claims::user_claims;
use super::{Context, Error, ErrorCode, Scope};

fn invalid_token() -> Error {
    Error::new(
        ErrorCode::InvalidToken,
        "the access token is invalid or expired",
    )
}

/// The claims of the user an access token was issued for; `method` is the
/// request's, for a DPoP proof's `htm`.
pub async fn userinfo(
    ctx: &Context,
    token: &Presented,
    method: &str,
) -> Result<Map<String, Value>, Error> {
    let valid = access_token::validate_presented(ctx, token, method, "/userinfo").await?;
    let scope = Scope::parse(&valid.claims.scope).map_err(|_| invalid_token())?;
    // Tokens from client credentials have no user behind them (no auth_time).
    let user = match valid.holder {
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
    out.extend(user_claims(&user, &scope, &valid.claims.userinfo_claims));
    Ok(out)
}
