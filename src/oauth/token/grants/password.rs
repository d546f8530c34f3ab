//! RFC 6749 §4.3: the resource owner password credentials grant.

use super::{Granted, Login};
use crate::accounts::amr::Amr;
use crate::accounts::{self, LoginOutcome};
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::token::issue::NewFamily;
use crate::oauth::{Context, Error, Scope};
use crate::secrets;
use crate::store::refresh_tokens as rt;

/// What the password grant's request carries besides the client.
pub struct Presented<'a> {
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    /// The client's network address, for brute-force accounting.
    pub address: Option<String>,
    /// The DPoP key the request proved.
    pub dpop_jkt: Option<&'a str>,
}

pub async fn run(
    ctx: &Context,
    client: &Client,
    presented: Presented<'_>,
    audience: Vec<String>,
) -> Result<Granted, Error> {
    let Presented {
        username,
        password,
        scope,
        address,
        dpop_jkt,
    } = presented;
    let scope = Scope::grant(scope.as_deref(), &client.scope)?;
    let attempt = accounts::Attempt {
        username,
        password,
        via: format!("client:{}", client.client_id),
        address,
    };
    let user =
        match accounts::authenticate(&ctx.db, &ctx.clock, &ctx.protocol.login, attempt).await? {
            LoginOutcome::Success(user) => user,
            LoginOutcome::Failure => {
                ctx.metrics.login_failed("password_grant");
                return Err(Error::invalid_grant("invalid username or password"));
            }
            LoginOutcome::Throttled { retry_after } => {
                return Err(Error::too_many_requests(
                    "too many failed attempts; try again later",
                    retry_after,
                ))
            }
        };
    // The password grant carries a password and nothing else: for a person
    // with a second factor it would be a way around that factor.
    if accounts::factors::has_factor(&ctx.db, &user.id).await? {
        return Err(Error::invalid_grant(
            "this account has a second factor, which the password grant cannot carry: sign in through the browser (authorization code flow)",
        ));
    }
    let now = ctx.now();
    let refresh_token = if client.allows(GrantType::RefreshToken) {
        let (token, row) = NewFamily {
            client,
            user_id: &user.id,
            scope: &scope,
            auth_time: now,
            amr: "pwd",
            session_id: None,
            resources: &audience,
            family_id: secrets::random_token(16),
            dpop_jkt,
            ttl: ctx.protocol.refresh_token_ttl,
            now,
        }
        .first_token();
        ctx.db.write(move |conn| rt::insert(conn, &row)).await?;
        Some(token)
    } else {
        None
    };
    Ok(Granted {
        grant: GrantType::Password,
        user: Some((
            user,
            Login {
                auth_time: now,
                amr: Amr::password(),
            },
        )),
        scope,
        refresh_token,
        nonce: None,
        requested: None,
        audience,
        subject: None,
        act: None,
        not_after: None,
    })
}
