//! The authorization endpoint's rules: OIDC Core §3.1.2, RFC 6749 §4.1,
//! RFC 7636 (PKCE, S256 only), RFC 9207 (`iss` in the response).

use serde::{Deserialize, Serialize};

use super::claims::RequestedClaims;
use super::clients::{Client, GrantType};
use super::{Error, ErrorCode, Scope};
use crate::secrets;
use crate::store::authorization::{self as rows, CodeRow, PendingRow};
use crate::store::{DbConnection, StoreError};

/// The longest value any authorization parameter may have.
pub const MAX_PARAM_LEN: usize = 2048;
/// How long a login or consent page may stay open.
pub const PENDING_TTL: i64 = 600;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub claims: Option<RequestedClaims>,
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: the user is told,
    /// and we do NOT redirect — that would make us an open redirector.
    Page(String),
    /// Everything else goes back to the client's registered redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
    },
}

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = params
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(());
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The `client_id` of a request, or the page to show when there is none.
pub fn client_id_of(params: &[(String, String)]) -> Result<String, AuthorizeError> {
    match single(params, "client_id") {
        Ok(Some(id)) if id.len() <= 128 => Ok(id.to_owned()),
        Ok(Some(_)) => Err(AuthorizeError::Page("The client_id is too long.".into())),
        Ok(None) => Err(AuthorizeError::Page(
            "The request names no client (client_id is missing).".into(),
        )),
        Err(()) => Err(AuthorizeError::Page(
            "The request names client_id more than once.".into(),
        )),
    }
}

/// Validates a request for `client` (already looked up by its `client_id`).
pub fn validate(
    params: &[(String, String)],
    client: &Client,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let redirect_uri = match single(params, "redirect_uri") {
        Ok(Some(uri)) => uri.to_owned(),
        Ok(None) => {
            return Err(AuthorizeError::Page(
                "The request has no redirect_uri.".into(),
            ))
        }
        Err(()) => {
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
    let state = single(params, "state")
        .ok()
        .flatten()
        .filter(|s| s.len() <= MAX_PARAM_LEN)
        .map(str::to_owned);
    let fail = |code: ErrorCode, description: &'static str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: Error::new(code, description),
    };
    for (i, (name, value)) in params.iter().enumerate() {
        if params[..i].iter().any(|(n, _)| n == name) {
            return Err(fail(ErrorCode::InvalidRequest, "a parameter is repeated"));
        }
        if value.len() > MAX_PARAM_LEN {
            return Err(fail(ErrorCode::InvalidRequest, "a parameter is too long"));
        }
    }
    let get = |name: &str| single(params, name).ok().flatten();
    if get("request").is_some() {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
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
    // id_token_hint, acr_values, ui_locales, claims_locales and display are
    // accepted and need nothing from us: there is one way to log in.
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
    })
}

/// RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
pub fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks a `code_verifier` against the stored S256 challenge.
pub fn verify_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), Error> {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier)) if is_pkce_value(verifier) => {
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if secrets::constant_time_eq(&computed, challenge) {
                Ok(())
            } else {
                Err(Error::invalid_grant(
                    "the code_verifier does not match the code_challenge",
                ))
            }
        }
        (Some(_), Some(_)) => Err(Error::invalid_request("code_verifier is malformed")),
        (Some(_), None) => Err(Error::invalid_grant(
            "code_verifier is required for this code",
        )),
        // A verifier for a code issued without a challenge: a downgrade attempt.
        (None, Some(_)) => Err(Error::invalid_grant(
            "this code was issued without a code_challenge",
        )),
    }
}

/// The SSO session a request arrives with.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub auth_time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Login,
    Consent,
    IssueCode,
}

/// What the authorization endpoint does next. `started_at` is when the
/// pending request was created, when this is its continuation: a login made
/// after it satisfies `prompt=login`.
pub fn next_step(
    request: &AuthorizeRequest,
    client: &Client,
    session: Option<&SessionState>,
    consented: Option<&Scope>,
    started_at: Option<i64>,
    now: i64,
) -> Result<Next, Error> {
    let needs_login = match session {
        None => true,
        Some(s) => {
            let too_old = request.max_age.is_some_and(|max| now - s.auth_time > max);
            let login_forced = request.prompt.login && started_at.is_none_or(|t| s.auth_time < t);
            too_old || login_forced
        }
    };
    if needs_login {
        return if request.prompt.none {
            Err(Error::new(
                ErrorCode::LoginRequired,
                "the user is not logged in",
            ))
        } else {
            Ok(Next::Login)
        };
    }
    if client.consent {
        let requested = Scope::parse(&request.scope).unwrap_or_default();
        let covered = consented.is_some_and(|c| requested.is_subset_of(c));
        if !covered || request.prompt.consent {
            return if request.prompt.none {
                Err(Error::new(
                    ErrorCode::ConsentRequired,
                    "the user has not consented to this client",
                ))
            } else {
                Ok(Next::Consent)
            };
        }
    }
    Ok(Next::IssueCode)
}

/// `base` with `params` added to its query (absent values skipped).
pub fn redirect_url(base: &str, params: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    if let Some(v) = value {
                        query.append_pair(name, v);
                    }
                }
            }
            url.to_string()
        }
        // Registered redirect URIs were parsed at registration; keep the base.
        Err(_) => base.to_owned(),
    }
}

/// The error redirect of RFC 6749 §4.1.2.1, with `iss` (RFC 9207).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &Error,
    issuer: &str,
) -> String {
    redirect_url(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", error.description.as_deref()),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

/// Stores a request that waits for a login or consent; returns its id and
/// CSRF token. `browser` is the value of the flow cookie it is bound to.
pub fn save_pending(
    conn: &mut DbConnection,
    request: &AuthorizeRequest,
    browser: &str,
    now: i64,
) -> Result<PendingRow, StoreError> {
    let params = serde_json::to_string(request).map_err(|e| StoreError::Task(e.to_string()))?;
    let row = PendingRow {
        id: secrets::random_token(24),
        params,
        csrf_token: secrets::random_token(24),
        browser_hash: secrets::sha256_hex(browser),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    rows::insert_pending(conn, &row)?;
    Ok(row)
}

/// A pending request, if it is alive and bound to `browser`.
pub fn load_pending(
    conn: &mut DbConnection,
    id: &str,
    browser: Option<&str>,
    now: i64,
) -> Result<Option<(AuthorizeRequest, PendingRow)>, StoreError> {
    let Some(row) = rows::find_pending(conn, id, now)? else {
        return Ok(None);
    };
    let bound = browser
        .is_some_and(|b| secrets::constant_time_eq(&secrets::sha256_hex(b), &row.browser_hash));
    if !bound {
        return Ok(None);
    }
    let request: AuthorizeRequest = serde_json::from_str(&row.params)
        .map_err(|e| StoreError::Task(format!("pending request: {e}")))?;
    Ok(Some((request, row)))
}

/// Issues a single-use code (256 random bits; only its hash is stored) bound
/// to the client, redirect URI, PKCE challenge, nonce, scope and session.
pub fn issue_code(
    conn: &mut DbConnection,
    request: &AuthorizeRequest,
    user_id: &str,
    session_id: &str,
    auth_time: i64,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let code = secrets::random_token(32);
    let claims = match &request.claims {
        Some(c) => Some(serde_json::to_string(c).map_err(|e| StoreError::Task(e.to_string()))?),
        None => None,
    };
    rows::insert_code(
        conn,
        &CodeRow {
            code_hash: secrets::sha256_hex(&code),
            client_id: request.client_id.clone(),
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            claims,
            auth_time,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            family_id: None,
        },
    )?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;

    fn client(public: bool, consent: bool) -> Client {
        Client::for_tests(
            "app",
            public,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            vec!["https://app.example.com/cb".into()],
            Scope::parse("openid profile email").unwrap(),
            SigningAlg::Rs256,
            consent,
        )
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "app"),
            ("redirect_uri", "https://app.example.com/cb"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn redirect_code(r: Result<AuthorizeRequest, AuthorizeError>) -> ErrorCode {
        match r {
            Err(AuthorizeError::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("xyz"));
                error.code
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates() {
        let req = validate(&params(&base()), &client(true, false)).unwrap();
        assert_eq!(req.scope, "openid email");
        assert_eq!(req.code_challenge.as_deref(), Some(CHALLENGE));
    }

    #[test]
    fn an_unregistered_redirect_uri_is_a_page_never_a_redirect() {
        for uri in [
            "https://evil.example.com/cb",
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
        ] {
            let mut p = base();
            p[1] = ("redirect_uri", uri);
            assert!(
                matches!(
                    validate(&params(&p), &client(true, false)),
                    Err(AuthorizeError::Page(_))
                ),
                "{uri}"
            );
        }
    }

    #[test]
    fn pkce_rules() {
        let mut p = base();
        p[6] = ("code_challenge_method", "plain");
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::InvalidRequest
        );
        let p: Vec<_> = base()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("code_challenge"))
            .collect();
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::InvalidRequest
        );
        assert!(
            validate(&params(&p), &client(false, false)).is_ok(),
            "PKCE optional for confidential clients"
        );
        // RFC 7636 appendix B's example.
        assert!(verify_pkce(
            Some(CHALLENGE),
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        )
        .is_ok());
        assert!(verify_pkce(
            Some(CHALLENGE),
            Some("eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        )
        .is_err());
        assert!(verify_pkce(Some(CHALLENGE), None).is_err());
        assert!(verify_pkce(None, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).is_err());
    }

    #[test]
    fn other_errors_redirect_with_their_codes() {
        let mut p = base();
        p.push(("request", "eyJ..."));
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::RequestNotSupported
        );
        let mut p = base();
        p[2] = ("response_type", "token");
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::UnsupportedResponseType
        );
        let mut p = base();
        p[3] = ("scope", "openid admin");
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::InvalidScope
        );
        let mut p = base();
        p.push(("prompt", "none login"));
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::InvalidRequest
        );
        let mut p = base();
        p.push(("scope", "openid"));
        assert_eq!(
            redirect_code(validate(&params(&p), &client(true, false))),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn next_step_follows_session_prompt_max_age_and_consent() {
        let c = client(true, false);
        let mut req = validate(&params(&base()), &c).unwrap();
        let s = SessionState { auth_time: 1000 };
        assert_eq!(
            next_step(&req, &c, None, None, None, 1010).unwrap(),
            Next::Login
        );
        assert_eq!(
            next_step(&req, &c, Some(&s), None, None, 1010).unwrap(),
            Next::IssueCode
        );
        req.max_age = Some(5);
        assert_eq!(
            next_step(&req, &c, Some(&s), None, None, 1010).unwrap(),
            Next::Login
        );
        req.max_age = None;
        req.prompt.login = true;
        assert_eq!(
            next_step(&req, &c, Some(&s), None, None, 1010).unwrap(),
            Next::Login
        );
        assert_eq!(
            next_step(&req, &c, Some(&s), None, Some(999), 1010).unwrap(),
            Next::IssueCode
        );
        req.prompt = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            next_step(&req, &c, None, None, None, 1010)
                .unwrap_err()
                .code,
            ErrorCode::LoginRequired
        );

        let third = client(true, true);
        let req = validate(&params(&base()), &third).unwrap();
        assert_eq!(
            next_step(&req, &third, Some(&s), None, None, 1010).unwrap(),
            Next::Consent
        );
        let granted = Scope::parse("openid email profile").unwrap();
        assert_eq!(
            next_step(&req, &third, Some(&s), Some(&granted), None, 1010).unwrap(),
            Next::IssueCode
        );
        let narrower = Scope::parse("openid").unwrap();
        assert_eq!(
            next_step(&req, &third, Some(&s), Some(&narrower), None, 1010).unwrap(),
            Next::Consent
        );
    }

    #[test]
    fn error_redirects_carry_state_and_iss() {
        let e = Error::new(ErrorCode::LoginRequired, "not logged in");
        let url = error_redirect(
            "https://app.example.com/cb?x=1",
            Some("s t"),
            &e,
            "https://id.example.com",
        );
        assert_eq!(
            url,
            "https://app.example.com/cb?x=1&error=login_required&error_description=not+logged+in&state=s+t&iss=https%3A%2F%2Fid.example.com"
        );
    }
}
