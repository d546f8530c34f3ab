//! The token endpoint's decisions (RFC 6749 §3.2), as one pipeline:
//!
//! ```text
//! client authentication → rate limit → DPoP proof → the grant (resources checked by each) → issuing
//! ```
//! Each grant is a file in `grants/`; issuing the access token, the ID token
//! and refresh families is `issue.rs`. The DPoP proof (RFC 9449 §5) is
//! checked once here for every grant: its key binds the access token
//! (`cnf.jkt`), and the grants check it against a bound code or refresh
//! family.

mod grants;
mod issue;
mod request;

pub use issue::TokenResponse;
pub use request::{Grant, TokenRequest, MAX_PARAM_LEN};

use super::{client_auth, dpop, Context, Error};

/// Decides a token request and issues the tokens.
pub async fn exchange(ctx: &Context, request: TokenRequest) -> Result<TokenResponse, Error> {
    let client =
        client_auth::authenticate(ctx, request.client, client_auth::Endpoint::Token).await?;
    ctx.limiter.check(&client.client_id, ctx.now())?;
    let proofs: Vec<&str> = request.dpop_proofs.iter().map(String::as_str).collect();
    let target = dpop::Target {
        method: "POST",
        path: "/token",
        access_token: None,
    };
    let proven = dpop::check(ctx, &proofs, target).await?;
    if proven.is_none() && (client.require_dpop || client.is_fapi2()) {
        return Err(Error::invalid_request(
            "this client's tokens must be DPoP-bound: send a DPoP proof",
        ));
    }
    let jkt = proven.as_ref().map(|p| p.jkt.as_str());
    let granted = grants::run(
        ctx,
        &client,
        request.grant,
        &request.resources,
        request.address,
        jkt,
    )
    .await?;
    let mut response = issue::tokens(ctx, &client, granted, jkt)?;
    response.dpop_nonce = dpop::next_nonce(ctx).filter(|_| proven.is_some());
    Ok(response)
}
