//! Token revocation (RFC 7009).

use super::access_token;
use super::client_auth;
use super::introspection::{looks_like_jwt, TokenQuery};
use super::{Context, Error, ErrorCode};
use crate::keys::Expiry;
use crate::secrets;
use crate::store::{refresh_tokens as rt, revoked_tokens};

/// RFC 7009 §2: a refresh token revokes its family; an access token is
/// denied by `jti` until it expires. Unknown or invalid tokens are not an
/// error (§2.2): the client's aim, a token that does not work, holds.
pub async fn revoke(ctx: &Context, query: TokenQuery) -> Result<(), Error> {
    let caller =
        client_auth::authenticate(ctx, query.client, client_auth::Endpoint::Revocation).await?;
    let not_yours = || {
        Error::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        )
    };
    if looks_like_jwt(&query.token) {
        let Ok(claims) = access_token::decode(ctx, &query.token, Expiry::Ignore) else {
            return Ok(());
        };
        if claims.client_id != caller.client_id {
            return Err(not_yours());
        }
        if claims.exp > ctx.now() {
            let (jti, exp) = (claims.jti.clone(), claims.exp);
            ctx.db
                .write(move |conn| revoked_tokens::revoke(conn, &jti, exp))
                .await?;
        }
        return Ok(());
    }
    let hash = secrets::sha256_hex(&query.token);
    let row = ctx
        .db
        .run(move |conn| rt::find_by_hash(conn, &hash))
        .await?;
    match row {
        None => Ok(()),
        Some(r) if r.client_id != caller.client_id => Err(not_yours()),
        Some(r) => {
            let (family, now) = (r.family_id.clone(), ctx.now());
            let revoked = ctx
                .db
                .write(move |conn| rt::revoke_family(conn, &family, now))
                .await?;
            tracing::info!(client_id = %caller.client_id, revoked, "refresh token family revoked on request");
            Ok(())
        }
    }
}
