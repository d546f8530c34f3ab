//! Client authentication (RFC 6749 §2.3), dispatched in one place: each
//! `token_endpoint_auth_method` is one [`ClientAuth`] variant, read from the
//! request by [`ClientAuth::from_request`] and checked by [`authenticate`].
//! A new method is one more variant and one more file beside `basic.rs`,
//! `secret.rs` and `assertion.rs` (`private_key_jwt`, RFC 7523, whose key
//! rules are `jwk.rs`).

pub mod assertion;
mod basic;
pub mod jwk;
pub(crate) mod secret;

pub use basic::parse_basic;

use super::clients::Client;
use super::form::Params;
use super::{Context, Error};

/// The `token_endpoint_auth_method`s the variants stand for, as discovery
/// lists them (RFC 8414 §2).
pub const METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "none",
    "private_key_jwt",
];

/// The methods that prove a confidential client: what introspection, which
/// public clients may not use, accepts.
pub const CONFIDENTIAL_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// The endpoint a client authenticates at: an assertion may name its URL
/// as `aud` (RFC 7523 §3 allows the token endpoint's; each endpoint that
/// authenticates clients accepts its own too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspection,
    Revocation,
    DeviceAuthorization,
    PushedAuthorization,
}

impl Endpoint {
    /// Its path under the issuer.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Token => "/token",
            Endpoint::Introspection => "/introspect",
            Endpoint::Revocation => "/revoke",
            Endpoint::DeviceAuthorization => "/device_authorization",
            Endpoint::PushedAuthorization => "/par",
        }
    }
}

/// How the client presented itself on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    SecretBasic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    SecretPost { client_id: String, secret: String },
    /// `client_id` alone: a public client (`none`).
    None { client_id: String },
    /// `client_assertion` (`private_key_jwt`): the client is the form's
    /// `client_id`, else the assertion's (still unverified) `sub`.
    Assertion {
        client_id: String,
        assertion: String,
    },
    /// Nothing at all.
    Missing,
}

impl ClientAuth {
    /// Reads the credentials from the Authorization header and the form.
    pub fn from_request(params: &Params, authorization: Option<&str>) -> Result<Self, Error> {
        let assertion_type = params.get("client_assertion_type");
        let assertion = params.get("client_assertion");
        if assertion_type.is_some() || assertion.is_some() {
            return Self::from_assertion(
                authorization,
                params.get("client_id"),
                params.get("client_secret"),
                assertion_type,
                assertion,
            );
        }
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

    /// RFC 7521 §4.2 and RFC 7523 §2.2: an assertion, alone. Its type must
    /// be the JWT bearer one; a `client_id` beside it must be its `sub`.
    pub fn from_assertion(
        authorization: Option<&str>,
        form_client_id: Option<&str>,
        form_secret: Option<&str>,
        assertion_type: Option<&str>,
        assertion: Option<&str>,
    ) -> Result<Self, Error> {
        if authorization.is_some() || form_secret.is_some() {
            return Err(Error::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
            return Err(Error::invalid_request(
                "client_assertion and client_assertion_type go together",
            ));
        };
        if assertion_type != assertion::ASSERTION_TYPE {
            return Err(Error::invalid_request(format!(
                "client_assertion_type must be {}",
                assertion::ASSERTION_TYPE
            )));
        }
        let client_id = match (form_client_id, assertion::unverified_subject(assertion)) {
            (Some(id), Some(sub)) if id == sub => sub,
            (None, Some(sub)) => sub,
            // No subject to name the client, or one that is not the
            // client_id sent: a bad assertion, told as any other.
            _ => return Err(Error::invalid_client("client authentication failed")),
        };
        Ok(ClientAuth::Assertion {
            client_id,
            assertion: assertion.to_owned(),
        })
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            ClientAuth::SecretBasic { client_id, .. }
            | ClientAuth::SecretPost { client_id, .. }
            | ClientAuth::Assertion { client_id, .. }
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

/// Authenticates the client of a request at `endpoint`. Every failure is
/// the same `invalid_client`, whatever went wrong, so nothing tells which
/// clients exist.
pub async fn authenticate(
    ctx: &Context,
    auth: ClientAuth,
    endpoint: Endpoint,
) -> Result<Client, Error> {
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
        ClientAuth::Assertion { assertion, .. } => {
            match assertion::verify(ctx, &client, assertion, endpoint).await {
                Ok(()) => true,
                Err(assertion::Refusal::Store(e)) => return Err(e.into()),
                Err(refusal) => {
                    tracing::info!(client_id = %client.client_id, reason = %refusal, "client assertion refused");
                    false
                }
            }
        }
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

    #[test]
    fn an_assertion_comes_alone_with_its_type() {
        use super::super::ErrorCode::{InvalidClient, InvalidRequest};
        let jwt = format!(
            "e30.{}.sig",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":"svc"}"#)
        );
        let jwt = Some(jwt.as_str());
        let kind = Some(assertion::ASSERTION_TYPE);
        let basic = format!("Basic {}", STANDARD.encode("svc:s"));
        let code = |r: Result<ClientAuth, Error>| r.unwrap_err().code;
        assert!(matches!(
            ClientAuth::from_assertion(None, None, None, kind, jwt),
            Ok(ClientAuth::Assertion { ref client_id, .. }) if client_id == "svc"
        ));
        assert!(ClientAuth::from_assertion(None, Some("svc"), None, kind, jwt).is_ok());
        let cases = [
            (
                ClientAuth::from_assertion(Some(&basic), None, None, kind, jwt),
                InvalidRequest,
            ),
            (
                ClientAuth::from_assertion(None, None, Some("s"), kind, jwt),
                InvalidRequest,
            ),
            (
                ClientAuth::from_assertion(None, None, None, None, jwt),
                InvalidRequest,
            ),
            (
                ClientAuth::from_assertion(None, None, None, kind, None),
                InvalidRequest,
            ),
            (
                ClientAuth::from_assertion(None, None, None, Some("urn:x:saml2-bearer"), jwt),
                InvalidRequest,
            ),
            (
                ClientAuth::from_assertion(None, Some("other"), None, kind, jwt),
                InvalidClient,
            ),
            (
                ClientAuth::from_assertion(None, None, None, kind, Some("junk")),
                InvalidClient,
            ),
        ];
        for (i, (result, expected)) in cases.into_iter().enumerate() {
            assert_eq!(code(result), expected, "case {i}");
        }
    }
}
