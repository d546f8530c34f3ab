//! The token endpoint's decisions (RFC 6749 §3.2), as one pipeline:
//!
//! ```text
//! client authentication → rate limit → (sender binding) → (resource/audience) → the grant → issuing
//! ```
//! Each grant is a file in `grants/`; issuing the access token, the ID token
//! and refresh families is `issue.rs`. DPoP (RFC 9449) and resource
//! indicators (RFC 8707) will each be one step here, run once for every
//! grant, not inside each.

mod grants;
mod issue;
mod request;

pub use issue::TokenResponse;
pub use request::{Grant, TokenRequest, MAX_PARAM_LEN};

use super::{client_auth, Context, Error};

/// Decides a token request and issues the tokens.
pub async fn exchange(ctx: &Context, request: TokenRequest) -> Result<TokenResponse, Error> {
    let client = client_auth::authenticate(ctx, request.client).await?;
    ctx.limiter.check(&client.client_id, ctx.now())?;
    let granted = grants::run(
        ctx,
        &client,
        request.grant,
        &request.resources,
        request.address,
    )
    .await?;
    issue::tokens(ctx, &client, granted)
}
