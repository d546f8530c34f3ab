//! Client authentication (RFC 6749 §2.3), dispatched in one place: each
//! `token_endpoint_auth_method` is one [`ClientAuth`] variant, read from the
//! request by [`ClientAuth::from_request`] and checked by [`authenticate`].
//! A new method (`private_key_jwt`, RFC 7523) is one more variant and one
//! more file beside `basic.rs` and `secret.rs`.

mod basic;
pub(crate) mod secret;

pub use basic::parse_basic;

use super::clients::Client;
use super::form::Params;
use super::{Context, Error};

/// The `token_endpoint_auth_method`s the variants stand for, as discovery
/// lists them (RFC 8414 §2).
pub const METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

/// The methods that prove a confidential client: what introspection, which
/// public clients may not use, accepts.
pub const CONFIDENTIAL_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// How the client presented itself on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    SecretBasic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    SecretPost { client_id: String, secret: String },
    /// `client_id` alone: a public client (`none`).
    None { client_id: String },
    /// Nothing at all.
    Missing,
}

impl ClientAuth {
    /// Reads the credentials from the Authorization header and the form.
    pub fn from_request(params: &Params, authorization: Option<&str>) -> Result<Self, Error> {
        Self::from_parts(
            authorization,
            params.get("client_id"),
            params.get("client_secret"),
        )
    }

    /// Combines the Authorization header and the form parameters. Using two
    /// methods at once is refused (RFC 6749 §2.3).
    pub fn from_parts(
        authorization: Option<&str>,
        form_client_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Self, Error> {
        if let Some(header) = authorization {
            let (client_id, secret) = parse_basic(header)?;
            if form_secret.is_some() {
                return Err(Error::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if form_client_id.is_some_and(|id| id != client_id) {
                return Err(Error::invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            return Ok(ClientAuth::SecretBasic { client_id, secret });
        }
        match (form_client_id, form_secret) {
            (Some(id), Some(secret)) => Ok(ClientAuth::SecretPost {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(id), None) => Ok(ClientAuth::None {
                client_id: id.to_owned(),
            }),
            (None, Some(_)) => Err(Error::invalid_request("client_secret without client_id")),
            (None, None) => Ok(ClientAuth::Missing),
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            ClientAuth::SecretBasic { client_id, .. }
            | ClientAuth::SecretPost { client_id, .. }
            | ClientAuth::None { client_id } => Some(client_id),
            ClientAuth::Missing => None,
        }
    }

    /// A failure answers with `WWW-Authenticate: Basic` when the client
    /// tried Basic (RFC 6749 §5.2).
    fn challenges(&self) -> bool {
        matches!(self, ClientAuth::SecretBasic { .. })
    }
}

/// Authenticates the client of a request. Every failure is the same
/// `invalid_client`, whatever went wrong, so nothing tells which clients exist.
pub async fn authenticate(ctx: &Context, auth: ClientAuth) -> Result<Client, Error> {
    let fail = || {
        Error::invalid_client("client authentication failed")
            .with_basic_challenge(auth.challenges())
    };
    let Some(client_id) = auth.client_id() else {
        return Err(
            Error::invalid_client("client authentication is required").with_basic_challenge(true)
        );
    };
    let client = ctx
        .clients
        .get_or_load(&ctx.db, client_id)
        .await?
        .ok_or_else(fail)?;
    let authenticated = match &auth {
        ClientAuth::SecretBasic { secret, .. } | ClientAuth::SecretPost { secret, .. } => {
            secret::matches(&client, secret)
        }
        ClientAuth::None { .. } => client.is_public(),
        ClientAuth::Missing => false,
    };
    if authenticated {
        Ok(client)
    } else {
        Err(fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = ClientAuth::from_parts(Some(&header), Some("a"), Some("b")).unwrap_err();
        assert_eq!(err.code, super::super::ErrorCode::InvalidRequest);
        assert!(matches!(
            ClientAuth::from_parts(Some(&header), Some("a"), None),
            Ok(ClientAuth::SecretBasic { .. })
        ));
        assert!(matches!(
            ClientAuth::from_parts(None, Some("a"), None),
            Ok(ClientAuth::None { .. })
        ));
    }
}
