//! A token request as parsed from the form: the grant with its own
//! parameters, and how the client authenticates.

use crate::oauth::client_auth::ClientAuth;
use crate::oauth::clients::GrantType;
use crate::oauth::form::Params;
use crate::oauth::resource;

use super::grants::token_exchange::{self, Exchange};
use crate::oauth::{Error, ErrorCode};

/// The longest value any token-request parameter may have.
pub const MAX_PARAM_LEN: usize = 4096;

/// The grant and the parameters it owns (RFC 6749 §4.1.3, §4.3, §4.4, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    DeviceCode {
        device_code: String,
    },
    TokenExchange(Exchange),
}

impl Grant {
    pub fn grant_type(&self) -> GrantType {
        match self {
            Grant::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Grant::Password { .. } => GrantType::Password,
            Grant::RefreshToken { .. } => GrantType::RefreshToken,
            Grant::ClientCredentials { .. } => GrantType::ClientCredentials,
            Grant::DeviceCode { .. } => GrantType::DeviceCode,
            Grant::TokenExchange(_) => GrantType::TokenExchange,
        }
    }

    /// Reads the parameters of the grant `grant_type` names.
    fn parse(params: &Params) -> Result<Self, Error> {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        let grant_type = match params.get("grant_type") {
            None => return Err(Error::invalid_request("missing parameter `grant_type`")),
            Some(name) => name.parse::<GrantType>().map_err(|_| {
                Error::new(
                    ErrorCode::UnsupportedGrantType,
                    "this grant type is not supported",
                )
            })?,
        };
        Ok(match grant_type {
            GrantType::AuthorizationCode => Grant::AuthorizationCode {
                code: params.required("code")?.to_owned(),
                redirect_uri: owned(params.get("redirect_uri")),
                code_verifier: owned(params.get("code_verifier")),
            },
            GrantType::Password => Grant::Password {
                username: params.required("username")?.to_owned(),
                password: params.required("password")?.to_owned(),
                scope: owned(params.get("scope")),
            },
            GrantType::RefreshToken => Grant::RefreshToken {
                refresh_token: params.required("refresh_token")?.to_owned(),
                scope: owned(params.get("scope")),
            },
            GrantType::ClientCredentials => Grant::ClientCredentials {
                scope: owned(params.get("scope")),
            },
            GrantType::TokenExchange => {
                let actor_token = params.get("actor_token");
                token_exchange::check_token_types(
                    params.required("subject_token_type")?,
                    actor_token.map(|t| (t, params.get("actor_token_type"))),
                    params.get("requested_token_type"),
                )?;
                if actor_token.is_none() && params.get("actor_token_type").is_some() {
                    return Err(Error::invalid_request(
                        "actor_token_type without actor_token",
                    ));
                }
                Grant::TokenExchange(Exchange {
                    subject_token: params.required("subject_token")?.to_owned(),
                    actor_token: owned(actor_token),
                    audiences: params.all("audience").map(str::to_owned).collect(),
                    scope: owned(params.get("scope")),
                })
            }
            GrantType::DeviceCode => Grant::DeviceCode {
                device_code: params.required("device_code")?.to_owned(),
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant: Grant,
    pub client: ClientAuth,
    /// Resource indicators (RFC 8707), for every grant.
    pub resources: Vec<String>,
    /// The client's network address, for brute-force accounting.
    pub address: Option<String>,
    /// The `DPoP` header values (RFC 9449 §4): none, one proof, or a
    /// malformed request with several.
    pub dpop_proofs: Vec<String>,
}

impl TokenRequest {
    /// Builds a request from decoded form parameters and the Authorization
    /// header. A repeated parameter is refused (RFC 6749 §3.2).
    pub fn parse(params: &Params, authorization: Option<&str>) -> Result<Self, Error> {
        params.check(MAX_PARAM_LEN)?;
        let client = ClientAuth::from_request(params, authorization)?;
        Ok(TokenRequest {
            grant: Grant::parse(params)?,
            client,
            resources: resource::requested(params)?,
            address: None,
            dpop_proofs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn parses_a_password_request() {
        let req = TokenRequest::parse(
            &params(&[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
                ("client_id", "c"),
            ]),
            None,
        )
        .unwrap();
        assert!(matches!(req.grant, Grant::Password { ref username, .. } if username == "u"));
        assert!(matches!(req.client, ClientAuth::None { ref client_id } if client_id == "c"));
    }

    #[test]
    fn refuses_repeated_and_missing_parameters() {
        let err = TokenRequest::parse(
            &params(&[("grant_type", "password"), ("grant_type", "password")]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = TokenRequest::parse(
            &params(&[("grant_type", "password"), ("username", "u")]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = TokenRequest::parse(&params(&[]), None).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn unknown_grant_is_unsupported() {
        let err = TokenRequest::parse(&params(&[("grant_type", "urn:x")]), None).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedGrantType);
    }

    #[test]
    fn overlong_values_are_refused() {
        let long = "x".repeat(MAX_PARAM_LEN + 1);
        let err = TokenRequest::parse(
            &params(&[("grant_type", "refresh_token"), ("refresh_token", &long)]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }
}
