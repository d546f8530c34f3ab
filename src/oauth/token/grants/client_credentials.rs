//! RFC 6749 §4.4: the client credentials grant. The client acts for itself:
//! no user, so no user scopes and no refresh or ID token.

use super::Granted;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::{Error, Scope};

pub fn run(
    client: &Client,
    scope: Option<String>,
    audience: Vec<String>,
) -> Result<Granted, Error> {
    if client.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let allowed = client.scope.without_user_scopes();
    Ok(Granted {
        grant: GrantType::ClientCredentials,
        user: None,
        scope: Scope::grant(scope.as_deref(), &allowed)?,
        refresh_token: None,
        nonce: None,
        requested: None,
        audience,
        subject: None,
        act: None,
        not_after: None,
    })
}
