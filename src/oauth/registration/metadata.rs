//! Client metadata (RFC 7591 §2): read from a registration or an update
//! into a [`NewClient`] checked by the rules every registration obeys
//! ([`clients::validate`]), and rendered back from a stored [`Client`].
//!
//! Fields with a column of their own become the client's (redirect URIs,
//! grant types, scope, name, post-logout redirect URIs, the signing
//! algorithm `id_token_signed_response_alg`, the authentication method and
//! its keys, `jwks` or `jwks_uri`); the others that Portcullis understands
//! are kept in `clients.metadata` as given (after their checks); unknown
//! fields are ignored (§2).

use serde_json::{json, Map, Value};

use super::{invalid_metadata, Mode, Policy};
use crate::keys::SigningAlg;
use crate::oauth::client_auth::{self, jwk};
use crate::oauth::clients::{self, AuthMethod, Client, GrantType, NewClient, RegistrationError};
use crate::oauth::{Error, ErrorCode, Scope};
use crate::remote;

/// Longest string value accepted (a URI, a name, a contact).
const MAX_VALUE_LEN: usize = 2048;
/// Most entries accepted in a list (redirect URIs, contacts, grant types).
const MAX_LIST_LEN: usize = 32;

/// Fields kept in `clients.metadata` as given, once checked.
const HTTPS_URIS: [&str; 4] = ["client_uri", "logo_uri", "tos_uri", "policy_uri"];
const PLAIN_STRINGS: [&str; 2] = ["software_id", "software_version"];

/// Maps a rule of [`clients::validate`] to RFC 7591 §3.2.2's codes.
pub(super) fn client_error(e: RegistrationError) -> Error {
    match e {
        RegistrationError::InvalidRedirectUri(m) => Error::new(ErrorCode::InvalidRedirectUri, m),
        RegistrationError::Invalid(m) => invalid_metadata(m),
        RegistrationError::Store(s) => s.into(),
        // The id is 128 random bits: a collision is a server fault.
        RegistrationError::Exists(id) => {
            tracing::error!(client_id = %id, "a generated client id already exists");
            Error::server_error()
        }
    }
}

/// Reads `body` (a JSON object) as the metadata of the client `client_id`;
/// `outbound` is what a `jwks_uri` is checked under.
pub(super) fn parse(
    body: &Map<String, Value>,
    policy: &Policy,
    outbound: remote::Policy,
    client_id: String,
) -> Result<NewClient, Error> {
    // An unchecked statement would be metadata we vouch for without having
    // verified it: refused, not ignored (§3.1.1).
    if present(body, "software_statement") {
        return Err(Error::new(
            ErrorCode::InvalidSoftwareStatement,
            "software statements are not supported",
        ));
    }
    let mut extra = Map::new();

    let auth_method = string(body, "token_endpoint_auth_method")?
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    if !client_auth::METHODS.contains(&auth_method.as_str()) {
        return Err(invalid_metadata(format!(
            "token_endpoint_auth_method `{auth_method}` is not supported: use one of {}",
            client_auth::METHODS.join(", ")
        )));
    }
    let method: AuthMethod = auth_method.parse().map_err(invalid_metadata)?;
    let public = method == AuthMethod::None;
    extra.insert("token_endpoint_auth_method".into(), json!(auth_method));
    // RFC 7591 §2: the one algorithm its assertions may be signed with.
    if let Some(alg) = string(body, "token_endpoint_auth_signing_alg")? {
        if method != AuthMethod::PrivateKeyJwt {
            return Err(invalid_metadata(
                "token_endpoint_auth_signing_alg goes with token_endpoint_auth_method private_key_jwt",
            ));
        }
        if jwk::alg_by_name(&alg).is_none() {
            return Err(invalid_metadata(format!(
                "token_endpoint_auth_signing_alg `{alg}` is not supported: use one of {}",
                jwk::ALG_NAMES.join(", ")
            )));
        }
        extra.insert("token_endpoint_auth_signing_alg".into(), json!(alg));
    }

    let grant_types = match list(body, "grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(names) => names
            .iter()
            .map(|name| grant_type(name, policy.mode))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);
    // Only the code flow issues a refresh token; without it the grant is
    // a promise nothing keeps.
    if grant_types.contains(&GrantType::RefreshToken) && !code_flow {
        return Err(invalid_metadata(
            "the refresh_token grant needs the authorization_code grant",
        ));
    }
    let response_types = list(body, "response_types")?.unwrap_or_else(|| {
        if code_flow {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    });
    if let Some(other) = response_types.iter().find(|r| r.as_str() != "code") {
        return Err(invalid_metadata(format!(
            "response type `{other}` is not supported: only `code`"
        )));
    }
    let asks_code = !response_types.is_empty();
    if code_flow != asks_code {
        return Err(invalid_metadata(
            "response_types [\"code\"] goes with the authorization_code grant, and only with it",
        ));
    }

    let redirect_uris = list(body, "redirect_uris")?.unwrap_or_default();
    if code_flow && redirect_uris.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    let post_logout_redirect_uris = list(body, "post_logout_redirect_uris")?.unwrap_or_default();

    let scope = match string(body, "scope")?.filter(|s| !s.trim().is_empty()) {
        None => policy.scope.clone(),
        Some(asked) => {
            let scope = Scope::parse(&asked)
                .map_err(|_| invalid_metadata(format!("malformed scope `{asked}`")))?;
            if !scope.is_subset_of(&policy.scope) {
                return Err(invalid_metadata(format!(
                    "scope `{scope}` cannot be registered: at most `{}`",
                    policy.scope
                )));
            }
            scope
        }
    };

    let name = string(body, "client_name")?.filter(|n| !n.trim().is_empty());

    // OpenID Connect Dynamic Client Registration §2; the client's access
    // tokens are signed with the same key as its ID tokens.
    let signing_alg = match string(body, "id_token_signed_response_alg")? {
        None => NewClient::DEFAULT_SIGNING_ALG,
        Some(name) => signing_alg(&name)?,
    };

    for key in HTTPS_URIS {
        if let Some(uri) = string(body, key)? {
            check_https(key, &uri)?;
            extra.insert(key.into(), json!(uri));
        }
    }
    for key in PLAIN_STRINGS {
        if let Some(value) = string(body, key)? {
            extra.insert(key.into(), json!(value));
        }
    }
    if let Some(contacts) = list(body, "contacts")? {
        extra.insert("contacts".into(), json!(contacts));
    }
    // Checked with the client's other rules (`clients::validate`).
    let jwks = body.get("jwks").filter(|v| !v.is_null()).cloned();
    let jwks_uri = string(body, "jwks_uri")?;

    let client = NewClient {
        client_id,
        name,
        public,
        grant_types,
        redirect_uris,
        scope: scope.to_string(),
        consent: true,
        post_logout_redirect_uris,
        signing_alg,
        dynamic: true,
        metadata: extra,
        auth_method: Some(method),
        jwks,
        jwks_uri,
        // RFC 9449 §5.2 and RFC 9126 §6.
        require_dpop: flag(body, "dpop_bound_access_tokens")?,
        require_par: flag(body, "require_pushed_authorization_requests")?,
        ..NewClient::default()
    };
    clients::validate(&client, outbound).map_err(client_error)?;
    Ok(client)
}

/// The grant types a dynamically registered client may have: never
/// `password` (it would see its users' passwords); `client_credentials`
/// only through an operator's initial access token; the grants that need
/// an operator's settings (token exchange) or that are not offered to
/// registered clients yet (the device grant) not at all.
fn grant_type(name: &str, mode: Mode) -> Result<GrantType, Error> {
    let grant: GrantType = name
        .parse()
        .map_err(|_| invalid_metadata(format!("grant type `{name}` is not supported")))?;
    match grant {
        GrantType::AuthorizationCode | GrantType::RefreshToken => Ok(grant),
        GrantType::ClientCredentials if mode == Mode::Token => Ok(grant),
        GrantType::ClientCredentials => Err(invalid_metadata(
            "client_credentials cannot be registered without an initial access token",
        )),
        GrantType::Password => Err(invalid_metadata(
            "the password grant is not available to dynamically registered clients",
        )),
        GrantType::DeviceCode | GrantType::TokenExchange => Err(invalid_metadata(format!(
            "the {} grant is not available to dynamically registered clients",
            grant.short_name()
        ))),
    }
}

/// A JWS algorithm name as registered: exactly as JWA spells it (names are
/// case-sensitive, RFC 7515 §4.1.1), and one Portcullis signs with — never
/// `none`.
fn signing_alg(name: &str) -> Result<SigningAlg, Error> {
    SigningAlg::ALL
        .into_iter()
        .find(|alg| alg.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
            invalid_metadata(format!(
                "id_token_signed_response_alg `{name}` is not supported: use one of {}",
                names.join(", ")
            ))
        })
}

/// The client information (RFC 7591 §3.2.1) of a stored client, without
/// its credentials.
pub(super) fn describe(client: &Client) -> Map<String, Value> {
    let mut out = client.metadata.clone();
    let code_flow = client.allows(GrantType::AuthorizationCode);
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    out.insert("client_id".into(), json!(client.client_id));
    out.insert("client_id_issued_at".into(), json!(client.created_at));
    // The name defaults to the id; only a name the client gave is its own.
    if client.name != client.client_id {
        out.insert("client_name".into(), json!(client.name));
    }
    out.insert("redirect_uris".into(), json!(client.redirect_uris));
    out.insert("grant_types".into(), json!(grants));
    out.insert(
        "response_types".into(),
        json!(if code_flow { vec!["code"] } else { vec![] }),
    );
    out.insert("scope".into(), json!(client.scope.to_string()));
    out.insert(
        "id_token_signed_response_alg".into(),
        json!(client.signing_alg.as_str()),
    );
    if !client.post_logout_redirect_uris.is_empty() {
        out.insert(
            "post_logout_redirect_uris".into(),
            json!(client.post_logout_redirect_uris),
        );
    }
    if !out.contains_key("token_endpoint_auth_method") {
        out.insert(
            "token_endpoint_auth_method".into(),
            json!(client.auth_method.as_str()),
        );
    }
    out.insert(
        "dpop_bound_access_tokens".into(),
        json!(client.require_dpop),
    );
    out.insert(
        "require_pushed_authorization_requests".into(),
        json!(client.require_par),
    );
    if let Some(jwks) = &client.jwks {
        out.insert("jwks".into(), json!(jwks.as_ref()));
    }
    if let Some(uri) = &client.jwks_uri {
        out.insert("jwks_uri".into(), json!(uri));
    }
    if client.auth_method.uses_secret() {
        // The secret does not expire (RFC 7591 §3.2.1: 0).
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    out
}

/// A field that is there and not `null` (RFC 7592 §2.2: null is absent).
pub(super) fn present(body: &Map<String, Value>, key: &str) -> bool {
    body.get(key).is_some_and(|v| !v.is_null())
}

/// A string field, if present.
pub(super) fn string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_VALUE_LEN => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid_metadata(format!(
            "{key} is longer than {MAX_VALUE_LEN} bytes"
        ))),
        Some(_) => Err(invalid_metadata(format!("{key} must be a string"))),
    }
}

/// A boolean field; absent is false.
fn flag(body: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid_metadata(format!("{key} must be true or false"))),
    }
}

/// An array-of-strings field, if present.
fn list(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, Error> {
    let items = match body.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.len() <= MAX_LIST_LEN => items,
        Some(Value::Array(_)) => {
            return Err(invalid_metadata(format!(
                "{key} has more than {MAX_LIST_LEN} entries"
            )))
        }
        Some(_) => {
            return Err(invalid_metadata(format!(
                "{key} must be an array of strings"
            )))
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if !s.is_empty() && s.len() <= MAX_VALUE_LEN => Ok(s.clone()),
            _ => Err(invalid_metadata(format!(
                "{key} must be an array of non-empty strings of at most {MAX_VALUE_LEN} bytes"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Pages a user is sent to are https (§2: `logo_uri`, `client_uri`,
/// `tos_uri`, `policy_uri`; `jwks_uri`, which the server fetches, has the
/// outbound rules: `clients::validate`).
fn check_https(key: &str, uri: &str) -> Result<(), Error> {
    let parsed =
        url::Url::parse(uri).map_err(|e| invalid_metadata(format!("{key} `{uri}`: {e}")))?;
    if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid_metadata(format!("{key} must be an https URL")));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid_metadata(format!("{key} must be an https URL")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
