//! Validating an authorization request (OIDC Core §3.1.2.1-2, RFC 6749
//! §4.1.1, RFC 7636 §4.3) into an [`AuthorizeRequest`].

use super::{AuthorizeError, AuthorizeRequest, Prompt};
use crate::accounts::amr::Acr;
use crate::oauth::claims::RequestedClaims;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::form::{Params, Repeated, REPEATABLE};
use crate::oauth::pkce::is_pkce_value;
use crate::oauth::resource;
use crate::oauth::{Error, ErrorCode, Scope};

/// The longest value any authorization parameter may have.
pub const MAX_PARAM_LEN: usize = 2048;

/// The `client_id` of a request, or the page to show when there is none.
pub fn client_id_of(params: &Params) -> Result<String, AuthorizeError> {
    match params.single("client_id") {
        Ok(Some(id)) if id.len() <= 128 => Ok(id.to_owned()),
        Ok(Some(_)) => Err(AuthorizeError::Page("The client_id is too long.".into())),
        Ok(None) => Err(AuthorizeError::Page(
            "The request names no client (client_id is missing).".into(),
        )),
        Err(Repeated) => Err(AuthorizeError::Page(
            "The request names client_id more than once.".into(),
        )),
    }
}

/// Validates a request for `client` (already looked up by its `client_id`).
pub fn validate(params: &Params, client: &Client) -> Result<AuthorizeRequest, AuthorizeError> {
    let redirect_uri = match params.single("redirect_uri") {
        Ok(Some(uri)) => uri.to_owned(),
        Ok(None) => {
            return Err(AuthorizeError::Page(
                "The request has no redirect_uri.".into(),
            ))
        }
        Err(Repeated) => {
            return Err(AuthorizeError::Page(
                "The request names redirect_uri more than once.".into(),
            ))
        }
    };
    // Exact string comparison, no normalisation (RFC 9700 §4.1.3).
    if !client.redirect_uris.iter().any(|r| r == &redirect_uri) {
        return Err(AuthorizeError::Page(
            "The redirect_uri is not registered for this client, so Portcullis will not send you there.".into(),
        ));
    }
    let state = params
        .single("state")
        .ok()
        .flatten()
        .filter(|s| s.len() <= MAX_PARAM_LEN)
        .map(str::to_owned);
    let fail = |code: ErrorCode, description: &'static str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: Error::new(code, description),
    };
    let pairs = params.pairs();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if !REPEATABLE.contains(&name.as_str()) && pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(fail(ErrorCode::InvalidRequest, "a parameter is repeated"));
        }
        if value.len() > MAX_PARAM_LEN {
            return Err(fail(ErrorCode::InvalidRequest, "a parameter is too long"));
        }
    }
    let get = |name: &str| params.get(name);
    if get("request").is_some() {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    // A pushed request (RFC 9126) is taken before validation; one that
    // names another request_uri is not a request this server made.
    if get("request_uri").is_some() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "request_uri cannot be used here",
        ));
    }
    if get("registration").is_some() {
        return Err(fail(
            ErrorCode::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    match get("response_type") {
        None => return Err(fail(ErrorCode::InvalidRequest, "response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    let scope = Scope::grant(get("scope"), &client.scope).map_err(|_| {
        fail(
            ErrorCode::InvalidScope,
            "the requested scope exceeds what this client may ask for",
        )
    })?;
    let resources = resource::requested(params)
        .and_then(|asked| resource::registered(asked, client))
        .map_err(|error| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
        })?;
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) => {
            if !is_pkce_value(challenge) {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge is malformed",
                ));
            }
            Some(challenge.to_owned())
        }
        (Some(_), _) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256",
            ))
        }
        (None, Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ))
        }
        (None, None) if client.is_public() => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "public clients must use PKCE (code_challenge, S256)",
            ))
        }
        (None, None) if client.is_fapi2() => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "FAPI 2.0 clients must use PKCE (code_challenge, S256)",
            ))
        }
        (None, None) => None,
    };
    let mut prompt = Prompt::default();
    for value in get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err(fail(ErrorCode::InvalidRequest, "unsupported prompt value")),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            fail(
                ErrorCode::InvalidRequest,
                "max_age must be a whole number of seconds",
            )
        })?),
    };
    let claims = match get("claims") {
        None => None,
        Some(json) => Some(RequestedClaims::parse(json).map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "the claims parameter is malformed",
            )
        })?),
    };
    let dpop_jkt = match get("dpop_jkt") {
        None => None,
        Some(jkt) if is_thumbprint(jkt) => Some(jkt.to_owned()),
        Some(_) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
            ))
        }
    };
    let acr = asked_acr(get("acr_values"), get("claims"));
    // id_token_hint, ui_locales, claims_locales and display are accepted
    // and need nothing from us.
    Ok(AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope: scope.to_string(),
        state,
        nonce: get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: get("login_hint").map(str::to_owned),
        claims,
        resources,
        dpop_jkt,
        pushed: None,
        acr,
    })
}

/// The level a request asks for: the lowest known value of `acr_values`,
/// or of an essential `acr` in the `claims` parameter's `id_token` member
/// (`value` or `values`), whichever is higher.
fn asked_acr(acr_values: Option<&str>, claims: Option<&str>) -> Option<Acr> {
    let from_values = acr_values.and_then(|v| Acr::lowest_of(v.split(' ')));
    let essential = claims
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|claims| {
            let acr = claims.get("id_token")?.get("acr")?;
            if acr.get("essential") != Some(&serde_json::Value::Bool(true)) {
                return None;
            }
            let one = acr.get("value").and_then(|v| v.as_str());
            let many = acr.get("values").and_then(|v| v.as_array());
            let names = one
                .into_iter()
                .chain(many.into_iter().flatten().filter_map(|v| v.as_str()));
            Acr::lowest_of(names)
        });
    from_values.max(essential)
}

/// An RFC 7638 SHA-256 thumbprint, base64url without padding: 43 characters.
fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A request that came through the browser, not pushed: [`validate`], and
/// refused when the client (or the server) asks for pushed requests only
/// (RFC 9126 §5, FAPI 2.0 §5.3.1.2).
pub fn front_channel(
    params: &Params,
    client: &Client,
    server_requires_par: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let request = validate(params, client)?;
    if server_requires_par || client.require_par || client.is_fapi2() {
        return Err(AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: Error::invalid_request(
                "this client must push its authorization requests (PAR, RFC 9126)",
            ),
        });
    }
    Ok(request)
}
