//! The token endpoint's decisions: RFC 6749 §4.1.3 (authorization code,
//! with RFC 7636 PKCE), §4.3 (password), §4.4 (client credentials), §6
//! (refresh, with RFC 9700 §4.14.2 rotation and reuse detection); access
//! tokens per RFC 9068 and ID tokens per OIDC Core §2.

use serde::Serialize;
use serde_json::{Map, Value};

use super::authorize::verify_pkce;
use super::claims::{user_claims, RequestedClaims};
use super::clients::{self, Client, ClientCredentials, GrantType};
use super::{Error, ErrorCode, Scope};
use crate::accounts;
use crate::secrets;
use crate::store::authorization::{self as codes, CodeRow};
use crate::store::refresh_tokens::{self as rt, RefreshTokenRow};
use crate::store::users::{self, UserRow};
use crate::store::{self, sessions, DbConnection, StoreError};
use crate::Services;

/// The longest value any token-request parameter may have.
pub const MAX_PARAM_LEN: usize = 4096;

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant: Grant,
    pub client: ClientCredentials,
    /// The client's network address, for brute-force accounting.
    pub address: Option<String>,
}

impl TokenRequest {
    /// Builds a request from decoded form parameters and the Authorization
    /// header. A repeated parameter is refused (RFC 6749 §3.2).
    pub fn parse(params: &[(String, String)], authorization: Option<&str>) -> Result<Self, Error> {
        super::form::check_params(params, MAX_PARAM_LEN)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| {
            get(name)
                .map(str::to_owned)
                .ok_or_else(|| Error::invalid_request(format!("missing parameter `{name}`")))
        };
        let scope = get("scope").map(str::to_owned);
        let client =
            ClientCredentials::from_parts(authorization, get("client_id"), get("client_secret"))?;
        let grant = match get("grant_type") {
            None => return Err(Error::invalid_request("missing parameter `grant_type`")),
            Some("authorization_code") => Grant::AuthorizationCode {
                code: required("code")?,
                redirect_uri: get("redirect_uri").map(str::to_owned),
                code_verifier: get("code_verifier").map(str::to_owned),
            },
            Some("password") => Grant::Password {
                username: required("username")?,
                password: required("password")?,
                scope,
            },
            Some("refresh_token") => Grant::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope,
            },
            Some("client_credentials") => Grant::ClientCredentials { scope },
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::UnsupportedGrantType,
                    "this grant type is not supported",
                ))
            }
        };
        Ok(TokenRequest {
            grant,
            client,
            address: None,
        })
    }
}

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// RFC 9068 §2.2.
#[derive(Debug, Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    /// Claims the `claims` parameter asked the userinfo endpoint for
    /// (OIDC Core §5.5): carried here because userinfo sees only this token.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    userinfo_claims: &'a [String],
}

/// OIDC Core §2, with the user's claims (§5.1) flattened in.
#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(flatten)]
    user: Map<String, Value>,
}

/// Decides a token request and issues the tokens.
pub async fn exchange(services: &Services, request: TokenRequest) -> Result<TokenResponse, Error> {
    let client =
        clients::authenticate(&services.db, &services.client_cache, request.client).await?;
    services.token_limiter.check(&client.client_id)?;
    match request.grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => code_grant(services, client, code, redirect_uri, code_verifier).await,
        Grant::Password {
            username,
            password,
            scope,
        } => password_grant(services, client, username, password, scope, request.address).await,
        Grant::RefreshToken {
            refresh_token,
            scope,
        } => refresh_grant(services, client, refresh_token, scope).await,
        Grant::ClientCredentials { scope } => client_credentials_grant(services, client, scope),
    }
}

fn require_grant(client: &Client, grant: GrantType) -> Result<(), Error> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(Error::unauthorized_client(format!(
            "this client may not use the {grant} grant"
        )))
    }
}

/// The first refresh token of a new family, for a fresh login.
struct NewFamily<'a> {
    client: &'a Client,
    user_id: &'a str,
    scope: &'a Scope,
    auth_time: i64,
    session_id: Option<&'a str>,
    family_id: String,
    ttl: i64,
}

impl NewFamily<'_> {
    fn first_token(self) -> (String, RefreshTokenRow) {
        let token = secrets::random_token(32);
        let now = store::now();
        let row = RefreshTokenRow {
            id: secrets::random_token(16),
            token_hash: secrets::sha256_hex(&token),
            family_id: self.family_id,
            parent_id: None,
            client_id: self.client.client_id.clone(),
            user_id: self.user_id.to_owned(),
            scope: self.scope.to_string(),
            auth_time: self.auth_time,
            issued_at: now,
            expires_at: now + self.ttl,
            used_at: None,
            revoked_at: None,
            session_id: self.session_id.map(str::to_owned),
        };
        (token, row)
    }
}

async fn password_grant(
    services: &Services,
    client: Client,
    username: String,
    password: String,
    scope: Option<String>,
    address: Option<String>,
) -> Result<TokenResponse, Error> {
    require_grant(&client, GrantType::Password)?;
    let scope = Scope::grant(scope.as_deref(), &client.scope)?;
    let attempt = accounts::Attempt {
        username,
        password,
        via: format!("client:{}", client.client_id),
        address,
    };
    let user =
        match accounts::authenticate(&services.db, &services.settings.login_policy(), attempt)
            .await?
        {
            accounts::LoginOutcome::Success(user) => user,
            accounts::LoginOutcome::Failure => {
                services.metrics.login_failed("password_grant");
                return Err(Error::invalid_grant("invalid username or password"));
            }
            accounts::LoginOutcome::Throttled { retry_after } => {
                return Err(Error::too_many_requests(
                    "too many failed attempts; try again later",
                    retry_after,
                ))
            }
        };
    let now = store::now();
    let refresh_token = if client.allows(GrantType::RefreshToken) {
        let (token, row) = NewFamily {
            client: &client,
            user_id: &user.id,
            scope: &scope,
            auth_time: now,
            session_id: None,
            family_id: secrets::random_token(16),
            ttl: services.settings.refresh_token_ttl,
        }
        .first_token();
        services
            .db
            .write(move |conn| rt::insert(conn, &row))
            .await?;
        Some(token)
    } else {
        None
    };
    issue(
        services,
        Issue {
            grant: "password",
            client: &client,
            user: Some((&user, now)),
            scope: &scope,
            refresh_token,
            nonce: None,
            requested: None,
        },
    )
}

/// What happened to a presented authorization code.
enum Redeemed {
    Ok {
        user: Box<UserRow>,
        code: Box<CodeRow>,
        refresh_token: Option<String>,
    },
    Refused(Error),
}

async fn code_grant(
    services: &Services,
    client: Client,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
) -> Result<TokenResponse, Error> {
    require_grant(&client, GrantType::AuthorizationCode)?;
    let hash = secrets::sha256_hex(&code);
    let ttl = services.settings.refresh_token_ttl;
    let c = client.clone();
    let outcome = services
        .db
        .write(move |conn| {
            redeem_code(
                conn,
                &c,
                &hash,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                ttl,
            )
        })
        .await?;
    match outcome {
        Redeemed::Refused(e) => Err(e),
        Redeemed::Ok {
            user,
            code,
            refresh_token,
        } => {
            let scope = Scope::parse(&code.scope).unwrap_or_default();
            let requested: Option<RequestedClaims> = code
                .claims
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok());
            issue(
                services,
                Issue {
                    grant: "authorization_code",
                    client: &client,
                    user: Some((&user, code.auth_time)),
                    scope: &scope,
                    refresh_token,
                    nonce: code.nonce.as_deref(),
                    requested: requested.as_ref(),
                },
            )
        }
    }
}

/// Checks and spends a code (RFC 6749 §4.1.3, RFC 7636 §4.6). Runs on a
/// blocking thread.
fn redeem_code(
    conn: &mut DbConnection,
    client: &Client,
    hash: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    refresh_ttl: i64,
) -> Result<Redeemed, StoreError> {
    let refused = |d: &'static str| Ok(Redeemed::Refused(Error::invalid_grant(d)));
    let now = store::now();
    let Some(code) = codes::find_code(conn, hash)? else {
        return refused("the authorization code is invalid");
    };
    if code.client_id != client.client_id {
        return refused("the authorization code is invalid");
    }
    if code.used_at.is_some() {
        return code_replayed(conn, &code, now);
    }
    if code.expires_at <= now {
        return refused("the authorization code has expired");
    }
    if redirect_uri != Some(code.redirect_uri.as_str()) {
        return refused("redirect_uri does not match the authorization request");
    }
    if let Err(e) = verify_pkce(code.code_challenge.as_deref(), verifier) {
        return Ok(Redeemed::Refused(e));
    }
    if sessions::find_live(conn, &code.session_id, now)?.is_none() {
        return refused("the login session of this code has ended");
    }
    let user = match users::find_by_id(conn, &code.user_id)? {
        Some(u) if !u.disabled => u,
        _ => return refused("the authorization code is invalid"),
    };
    let family_id = secrets::random_token(16);
    let scope = Scope::parse(&code.scope).unwrap_or_default();
    let fresh = client.allows(GrantType::RefreshToken).then(|| {
        NewFamily {
            client,
            user_id: &user.id,
            scope: &scope,
            auth_time: code.auth_time,
            session_id: Some(&code.session_id),
            family_id: family_id.clone(),
            ttl: refresh_ttl,
        }
        .first_token()
    });
    if !codes::redeem(
        conn,
        hash,
        &family_id,
        fresh.as_ref().map(|(_, row)| row),
        now,
    )? {
        // Redeemed by a concurrent request between our read and our write.
        let code = codes::find_code(conn, hash)?.unwrap_or(code);
        return code_replayed(conn, &code, now);
    }
    Ok(Redeemed::Ok {
        user: Box::new(user),
        code: Box::new(code),
        refresh_token: fresh.map(|(t, _)| t),
    })
}

/// RFC 6749 §4.1.2: a code used twice revokes what it was first exchanged for.
fn code_replayed(
    conn: &mut DbConnection,
    code: &CodeRow,
    now: i64,
) -> Result<Redeemed, StoreError> {
    let revoked = match &code.family_id {
        Some(family) => rt::revoke_family(conn, family, now)?,
        None => 0,
    };
    tracing::warn!(
        client_id = %code.client_id,
        user = %code.user_id,
        revoked,
        "authorization code replayed; the tokens issued for it were revoked"
    );
    Ok(Redeemed::Refused(Error::invalid_grant(
        "the authorization code has already been used",
    )))
}

/// What happened to a presented refresh token.
enum Refreshed {
    /// A spent token came back: the family was revoked.
    Reused(Error),
    Rotated {
        user: Box<UserRow>,
        auth_time: i64,
        new_token: String,
        scope: Scope,
    },
    Refused(Error),
}

async fn refresh_grant(
    services: &Services,
    client: Client,
    presented: String,
    requested_scope: Option<String>,
) -> Result<TokenResponse, Error> {
    require_grant(&client, GrantType::RefreshToken)?;
    let client_id = client.client_id.clone();
    let hash = secrets::sha256_hex(&presented);
    let reuse_grace = services.settings.refresh_reuse_grace;
    let outcome = services
        .db
        .write(move |conn| {
            rotate_refresh_token(
                conn,
                &client_id,
                &hash,
                requested_scope.as_deref(),
                reuse_grace,
            )
        })
        .await?;
    match outcome {
        Refreshed::Refused(e) => Err(e),
        Refreshed::Reused(e) => {
            services.metrics.refresh_reuse_detected();
            Err(e)
        }
        Refreshed::Rotated {
            user,
            auth_time,
            new_token,
            scope,
        } => issue(
            services,
            Issue {
                grant: "refresh_token",
                client: &client,
                user: Some((&user, auth_time)),
                scope: &scope,
                refresh_token: Some(new_token),
                nonce: None,
                requested: None,
            },
        ),
    }
}

/// Spends `hash` and stores its successor, or says why not. Runs on a
/// blocking thread.
fn rotate_refresh_token(
    conn: &mut DbConnection,
    client_id: &str,
    hash: &str,
    requested_scope: Option<&str>,
    reuse_grace: i64,
) -> Result<Refreshed, StoreError> {
    let invalid = || {
        Ok(Refreshed::Refused(Error::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        )))
    };
    let now = store::now();
    let Some((row, user)) = rt::find_with_user(conn, hash)? else {
        return invalid();
    };
    // A token is bound to the client it was issued to (RFC 6749 §6); saying
    // more would tell a stranger the token exists.
    if row.client_id != client_id || row.revoked_at.is_some() || row.expires_at <= now {
        return invalid();
    }
    // The optional grace window: a client replaying the token it spent a
    // moment ago (two tabs, a retry after a lost response) gets a fresh pair.
    let within_grace = |used_at: i64| reuse_grace > 0 && now - used_at <= reuse_grace;
    if row.used_at.is_some_and(|t| !within_grace(t)) {
        return reuse_detected(conn, &row, now);
    }
    if user.disabled {
        rt::revoke_family(conn, &row.family_id, now)?;
        return invalid();
    }
    let granted = Scope::parse(&row.scope).unwrap_or_default();
    let scope = match Scope::grant(requested_scope, &granted) {
        Ok(s) => s,
        Err(e) => return Ok(Refreshed::Refused(e)),
    };
    let new_token = secrets::random_token(32);
    let successor = RefreshTokenRow {
        id: secrets::random_token(16),
        token_hash: secrets::sha256_hex(&new_token),
        family_id: row.family_id.clone(),
        parent_id: Some(row.id.clone()),
        client_id: row.client_id.clone(),
        user_id: row.user_id.clone(),
        // RFC 6749 §6: the new refresh token keeps the original scope even
        // when this access token is narrowed.
        scope: row.scope.clone(),
        auth_time: row.auth_time,
        issued_at: now,
        // The family's lifetime runs from the login: rotation never extends it.
        expires_at: row.expires_at,
        used_at: None,
        revoked_at: None,
        session_id: row.session_id.clone(),
    };
    if !rt::rotate(conn, &row.id, &successor, now)? {
        // Spent (or revoked) between our read and our write: a concurrent
        // request won. Within the grace window the loser gets its own pair.
        let current = rt::find_by_hash(conn, hash)?;
        let graced = current
            .as_ref()
            .is_some_and(|r| r.revoked_at.is_none() && r.used_at.is_some_and(within_grace));
        if !graced {
            return reuse_detected(conn, &row, now);
        }
        rt::insert(conn, &successor)?;
        tracing::info!(family = %row.family_id, "refresh token replayed within the grace window");
    }
    Ok(Refreshed::Rotated {
        user: Box::new(user),
        auth_time: row.auth_time,
        new_token,
        scope,
    })
}

/// A spent refresh token came back: either an attacker or a client replaying
/// a stolen token. RFC 9700 §4.14.2: revoke the whole family.
fn reuse_detected(
    conn: &mut DbConnection,
    row: &RefreshTokenRow,
    now: i64,
) -> Result<Refreshed, StoreError> {
    let revoked = rt::revoke_family(conn, &row.family_id, now)?;
    crate::audit::record_or_log(
        conn,
        &format!("client:{}", row.client_id),
        "refresh.reuse_detected",
        &row.user_id,
        &format!("family {} revoked ({revoked} tokens)", row.family_id),
    );
    tracing::warn!(
        family = %row.family_id,
        client_id = %row.client_id,
        user = %row.user_id,
        revoked,
        "refresh token reuse detected; token family revoked"
    );
    Ok(Refreshed::Reused(Error::invalid_grant(
        "the refresh token is invalid, expired or revoked",
    )))
}

fn client_credentials_grant(
    services: &Services,
    client: Client,
    scope: Option<String>,
) -> Result<TokenResponse, Error> {
    require_grant(&client, GrantType::ClientCredentials)?;
    if client.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let allowed = client.scope.without_user_scopes();
    let scope = Scope::grant(scope.as_deref(), &allowed)?;
    issue(
        services,
        Issue {
            grant: "client_credentials",
            client: &client,
            user: None,
            scope: &scope,
            refresh_token: None,
            nonce: None,
            requested: None,
        },
    )
}

/// What to put in the tokens of one response.
struct Issue<'a> {
    /// The grant type, for the metrics.
    grant: &'static str,
    client: &'a Client,
    /// The user and when they logged in; `None` for client credentials.
    user: Option<(&'a UserRow, i64)>,
    scope: &'a Scope,
    refresh_token: Option<String>,
    nonce: Option<&'a str>,
    requested: Option<&'a RequestedClaims>,
}

/// Signs the access token (and the ID token when `openid` was granted to a user).
fn issue(services: &Services, what: Issue<'_>) -> Result<TokenResponse, Error> {
    let settings = &services.settings;
    let client = what.client;
    let now = store::now();
    let signer = services.keys.signer(client.signing_alg)?;
    let scope_str = what.scope.to_string();
    let no_claims = RequestedClaims::default();
    let requested = what.requested.unwrap_or(&no_claims);
    let access_claims = AccessTokenClaims {
        iss: &settings.issuer,
        sub: what
            .user
            .map(|(u, _)| u.id.as_str())
            .unwrap_or(&client.client_id),
        aud: client.audience.as_deref().unwrap_or(&settings.issuer),
        client_id: &client.client_id,
        scope: &scope_str,
        iat: now,
        exp: now + settings.access_token_ttl,
        jti: secrets::random_token(16),
        auth_time: what.user.map(|(_, t)| t),
        userinfo_claims: &requested.userinfo,
    };
    let access_token = signer.sign("at+jwt", &access_claims)?;
    services
        .metrics
        .token_issued(what.grant, client.signing_alg.as_str());
    let id_token = match what.user {
        Some((user, auth_time)) if what.scope.contains("openid") => {
            let claims = IdTokenClaims {
                iss: &settings.issuer,
                sub: &user.id,
                aud: &client.client_id,
                azp: &client.client_id,
                iat: now,
                exp: now + settings.access_token_ttl,
                auth_time,
                at_hash: client.signing_alg.half_hash(&access_token),
                nonce: what.nonce,
                user: user_claims(user, what.scope, &requested.id_token),
            };
            Some(signer.sign("JWT", &claims)?)
        }
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: settings.access_token_ttl,
        refresh_token: what.refresh_token,
        scope: scope_str,
        id_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
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
        assert!(
            matches!(req.client, ClientCredentials::PublicId { ref client_id } if client_id == "c")
        );
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
