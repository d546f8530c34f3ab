//! Registering and removing clients, with the defaults every caller (the
//! CLI, the admin API, the console and dynamic registration later) shares.
//! Each operation records its audit event with the actor who asked.

use super::{find, profile, Client, GrantType};
use crate::audit;
use crate::keys::SigningAlg;
use crate::oauth::client_auth::jwk;
use crate::oauth::{Context, Scope};
use crate::remote::{self, FetchError};
use crate::secrets;
use crate::store::clients::{self as rows, AuthMethod, ClientRow, Profile, SpaceList};
use crate::store::{DbConnection, StoreError};

/// The scope a client may ask for when its registration names none.
pub const DEFAULT_SCOPE: &str = "openid profile email";

/// Shortest secret accepted from an administrator: 32 characters. Secrets are
/// stored as SHA-256 (fast, so client authentication costs nothing), which is
/// only safe for high-entropy secrets.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    pub name: Option<String>,
    pub public: bool,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub scope: String,
    pub audience: Option<String>,
    pub signing_alg: SigningAlg,
    /// `None` for a confidential client: a secret is generated.
    pub secret: Option<String>,
    pub consent: bool,
    pub post_logout_redirect_uris: Vec<String>,
    /// Resource URIs (RFC 8707) its tokens may be for.
    pub resources: Vec<String>,
    /// Audiences token exchange (RFC 8693) may issue tokens for.
    pub exchange_audiences: Vec<String>,
    pub exchange_impersonation: bool,
    /// Made by dynamic registration (RFC 7591), with the SHA-256 of its
    /// registration access token (RFC 7592).
    pub dynamic: bool,
    pub registration_token_hash: Option<String>,
    /// Registered metadata without a field of its own.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `None`: `none` for a public client, else `client_secret_basic`.
    pub auth_method: Option<AuthMethod>,
    /// The client's public keys, for `private_key_jwt`: a JWK Set as given
    /// (JSON), so that [`validate`] sees every member, private ones too.
    pub jwks: Option<serde_json::Value>,
    /// Or where it publishes them.
    pub jwks_uri: Option<String>,
    pub require_par: bool,
    pub require_dpop: bool,
    pub profile: Option<Profile>,
    /// Every login for this client needs a second factor.
    pub require_mfa: bool,
}

impl Default for NewClient {
    fn default() -> Self {
        NewClient {
            client_id: String::new(),
            name: None,
            public: false,
            grant_types: Vec::new(),
            redirect_uris: Vec::new(),
            scope: DEFAULT_SCOPE.to_owned(),
            audience: None,
            signing_alg: NewClient::DEFAULT_SIGNING_ALG,
            secret: None,
            consent: false,
            post_logout_redirect_uris: Vec::new(),
            resources: Vec::new(),
            exchange_audiences: Vec::new(),
            exchange_impersonation: false,
            dynamic: false,
            registration_token_hash: None,
            metadata: serde_json::Map::new(),
            auth_method: None,
            jwks: None,
            jwks_uri: None,
            require_par: false,
            require_dpop: false,
            profile: None,
            require_mfa: false,
        }
    }
}

impl NewClient {
    /// The grant types a registration gets when it names none: the
    /// authorization-code flow for a client with redirect URIs (a web or
    /// native app), else the password grant (a first-party app or script);
    /// both with refresh tokens.
    pub fn default_grant_types(redirect_uris: &[String]) -> Vec<GrantType> {
        if redirect_uris.is_empty() {
            vec![GrantType::Password, GrantType::RefreshToken]
        } else {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        }
    }

    /// The signing algorithm a registration gets when it names none.
    pub const DEFAULT_SIGNING_ALG: SigningAlg = SigningAlg::Rs256;

    /// How the client will authenticate, defaults applied.
    pub fn effective_auth_method(&self) -> AuthMethod {
        match self.auth_method {
            Some(m) => m,
            None if self.public => AuthMethod::None,
            None => AuthMethod::ClientSecretBasic,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("client {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    /// A redirect or post-logout redirect URI breaks the rules (dynamic
    /// registration answers it with its own code, `invalid_redirect_uri`).
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored client and, for a confidential client, its secret in clear:
/// shown once, never stored.
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

/// Checks and stores a new client, and records `client.created` by `actor`.
/// `outbound` is what the server's fetches may reach (a `jwks_uri` must be
/// fetchable under it).
pub fn register(
    conn: &mut DbConnection,
    mut new: NewClient,
    outbound: remote::Policy,
    actor: &str,
    now: i64,
) -> Result<Registered, RegistrationError> {
    profile::apply_defaults(&mut new);
    let scope = validate(&new, outbound)?;
    let auth_method = new.effective_auth_method();
    let secret = if !auth_method.uses_secret() {
        None
    } else {
        Some(
            new.secret
                .clone()
                .unwrap_or_else(|| secrets::random_token(32)),
        )
    };
    let row = ClientRow {
        client_id: new.client_id.clone(),
        name: new.name.clone().unwrap_or_else(|| new.client_id.clone()),
        secret_hash: secret.as_deref().map(secrets::sha256_hex),
        grant_types: SpaceList(new.grant_types.clone()),
        redirect_uris: SpaceList(new.redirect_uris.clone()),
        scope: scope.to_string(),
        audience: new.audience.clone().filter(|a| !a.is_empty()),
        signing_alg: new.signing_alg,
        created_at: now,
        consent: new.consent,
        post_logout_redirect_uris: SpaceList(new.post_logout_redirect_uris.clone()),
        resources: SpaceList(new.resources.clone()),
        exchange_audiences: SpaceList(new.exchange_audiences.clone()),
        exchange_impersonation: new.exchange_impersonation,
        dynamic: new.dynamic,
        registration_token_hash: new.registration_token_hash.clone(),
        metadata: serde_json::Value::Object(new.metadata.clone()).to_string(),
        auth_method,
        jwks: stored_jwks(&new)?,
        jwks_uri: new.jwks_uri.clone(),
        require_par: new.require_par,
        require_dpop: new.require_dpop,
        profile: new.profile.map(|p| p.as_str().to_owned()),
        require_mfa: new.require_mfa,
    };
    match rows::insert(conn, row.clone()) {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(RegistrationError::Exists(new.client_id)),
        Err(e) => return Err(e.into()),
    }
    let client = Client::from_row(row)?;
    audit::record_or_log(conn, now, actor, "client.created", &client.client_id, "");
    Ok(Registered { client, secret })
}

/// The registered JWK Set as stored: the keys as read, so members this
/// server does not use are not kept.
fn stored_jwks(new: &NewClient) -> Result<Option<String>, RegistrationError> {
    let Some(raw) = &new.jwks else {
        return Ok(None);
    };
    let set = jwk::check_set(raw).map_err(RegistrationError::Invalid)?;
    serde_json::to_string(&set)
        .map(Some)
        .map_err(|e| RegistrationError::Invalid(e.to_string()))
}

/// The rules every registration obeys, whoever asks (the CLI, the admin
/// API, dynamic registration): pure, so a caller may check a client before
/// it spends anything on it; `outbound` is the setting a `jwks_uri` is
/// checked under. Returns the parsed scope.
pub fn validate(new: &NewClient, outbound: remote::Policy) -> Result<Scope, RegistrationError> {
    let invalid = |s: String| RegistrationError::Invalid(s);
    let id = &new.client_id;
    if id.is_empty()
        || id.len() > 128
        || !id.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':')
    {
        return Err(invalid(
            "client id must be 1 to 128 printable ASCII characters, without spaces or ':'".into(),
        ));
    }
    // The profile's rules first: its refusal names the rule a FAPI client breaks.
    profile::check(new)?;
    if new.grant_types.is_empty() {
        return Err(invalid("a client needs at least one grant type".into()));
    }
    if new.require_mfa && new.grant_types.contains(&GrantType::Password) {
        return Err(invalid(
            "a client that requires a second factor cannot use the password grant: it carries a password and nothing else".into(),
        ));
    }
    let method = new.effective_auth_method();
    if new.public && method != AuthMethod::None {
        return Err(invalid(format!(
            "a public client authenticates with `none`, not `{method}`"
        )));
    }
    let public = method == AuthMethod::None;
    if public && new.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(invalid(
            "a public client cannot use client_credentials: it has no secret".into(),
        ));
    }
    if public && new.secret.is_some() {
        return Err(invalid("a public client has no secret".into()));
    }
    if !method.uses_secret() && new.secret.is_some() {
        return Err(invalid(format!(
            "a {method} client has no secret: it signs assertions with its private key"
        )));
    }
    check_keys(new, method, outbound).map_err(invalid)?;
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        check_redirect_uri(uri).map_err(RegistrationError::InvalidRedirectUri)?;
    }
    if public && new.grant_types.contains(&GrantType::TokenExchange) {
        return Err(invalid(
            "a public client cannot use token exchange: it must authenticate".into(),
        ));
    }
    if new.exchange_impersonation && !new.grant_types.contains(&GrantType::TokenExchange) {
        return Err(invalid(
            "--exchange-impersonation needs the token_exchange grant".into(),
        ));
    }
    if !new.exchange_audiences.is_empty() && !new.grant_types.contains(&GrantType::TokenExchange) {
        return Err(invalid(
            "--exchange-audience needs the token_exchange grant".into(),
        ));
    }
    for audience in &new.exchange_audiences {
        if audience.is_empty() || audience.chars().any(char::is_whitespace) {
            return Err(invalid(format!(
                "exchange audience `{audience}` must be non-empty, without spaces"
            )));
        }
    }
    for resource in &new.resources {
        check_resource_uri(resource).map_err(invalid)?;
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    let scope =
        Scope::parse(&new.scope).map_err(|_| invalid(format!("invalid scope `{}`", new.scope)))?;
    if let Some(secret) = &new.secret {
        if secret.chars().count() < MIN_SECRET_LEN {
            return Err(invalid(format!(
                "a client secret must be at least {MIN_SECRET_LEN} characters"
            )));
        }
    }
    Ok(scope)
}

/// `private_key_jwt` needs exactly one source of keys, `jwks` (public
/// asymmetric keys only: [`jwk::check_set`]) or `jwks_uri` (a URL the
/// server may fetch); no other method has either.
fn check_keys(new: &NewClient, method: AuthMethod, outbound: remote::Policy) -> Result<(), String> {
    if method != AuthMethod::PrivateKeyJwt {
        if new.jwks.is_some() || new.jwks_uri.is_some() {
            return Err(format!(
                "jwks and jwks_uri are for private_key_jwt clients only, not {method}"
            ));
        }
        return Ok(());
    }
    match (&new.jwks, &new.jwks_uri) {
        (Some(_), Some(_)) => {
            Err("a private_key_jwt client has jwks or jwks_uri, not both (RFC 7591 §2)".into())
        }
        (None, None) => {
            Err("a private_key_jwt client needs its public keys: jwks or jwks_uri".into())
        }
        (Some(raw), None) => jwk::check_set(raw).map(|_| ()),
        (None, Some(uri)) => {
            if uri.len() > 2048 {
                return Err("jwks_uri is longer than 2048 bytes".into());
            }
            remote::check_url(uri, outbound)
                .map(|_| ())
                .map_err(|e| match e {
                    FetchError::Forbidden(why) => format!(
                        "jwks_uri {uri}: the server does not fetch from there ({why}; see outbound_allow_private_addresses)"
                    ),
                    other => format!("jwks_uri {other}"),
                })
        }
    }
}

/// Replaces the metadata of a dynamically registered client (RFC 7592
/// §2.2) with `new`'s, checked by the same rules as a registration, and its
/// registration access token with `new.registration_token_hash` — if its
/// token is still `current_token_hash`. Its id, secret, kind, consent,
/// audience and signing algorithm stay (the caller checks that the
/// authentication method keeps its kind); its keys (`jwks`, `jwks_uri`)
/// may change. Records `client.updated` by `actor`. `None`: no such
/// dynamic client holds that token (any more).
pub fn update_metadata(
    conn: &mut DbConnection,
    new: NewClient,
    outbound: remote::Policy,
    current_token_hash: &str,
    actor: &str,
    now: i64,
) -> Result<Option<Client>, RegistrationError> {
    let scope = validate(&new, outbound)?;
    let Some(token_hash) = new.registration_token_hash.clone() else {
        return Err(RegistrationError::Invalid(
            "an update needs a new registration access token".into(),
        ));
    };
    let update = rows::MetadataUpdate {
        name: new.name.clone().unwrap_or_else(|| new.client_id.clone()),
        grant_types: SpaceList(new.grant_types.clone()),
        redirect_uris: SpaceList(new.redirect_uris.clone()),
        scope: scope.to_string(),
        post_logout_redirect_uris: SpaceList(new.post_logout_redirect_uris.clone()),
        metadata: serde_json::Value::Object(new.metadata.clone()).to_string(),
        registration_token_hash: token_hash,
        auth_method: new.effective_auth_method(),
        jwks: stored_jwks(&new)?,
        jwks_uri: new.jwks_uri.clone(),
        require_par: new.require_par,
        require_dpop: new.require_dpop,
    };
    if !rows::update_metadata(conn, &new.client_id, current_token_hash, update)? {
        return Ok(None);
    }
    audit::record_or_log(conn, now, actor, "client.updated", &new.client_id, "");
    find(conn, &new.client_id).map_err(Into::into)
}

/// Removes a client and every refresh token issued to it (FK cascade), and
/// records `client.removed` by `actor`. Returns whether it existed.
pub fn remove(
    conn: &mut DbConnection,
    client_id: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let removed = rows::delete(conn, client_id)?;
    if removed {
        audit::record_or_log(conn, now, actor, "client.removed", client_id, "");
    }
    Ok(removed)
}

/// Removes a client from a running server: also forgets it in this
/// replica's cache at once (the others' caches expire within seconds).
pub async fn remove_client(
    ctx: &Context,
    client_id: &str,
    actor: String,
) -> Result<bool, StoreError> {
    let (id, now) = (client_id.to_owned(), ctx.now());
    let removed = ctx
        .db
        .write(move |conn| remove(conn, &id, &actor, now))
        .await?;
    ctx.clients.forget(client_id);
    Ok(removed)
}

/// A resource indicator is an absolute URI without a fragment (RFC 8707 §2).
pub fn check_resource_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("resource {uri}: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!(
            "resource {uri} must not have a fragment (RFC 8707 §2)"
        ));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("resource {uri} must be an absolute URI"));
    }
    Ok(())
}

/// A redirect URI must be absolute, without a fragment (RFC 6749 §3.1.2),
/// and use https unless it points at this machine (loopback, RFC 8252 §7.3)
/// or is a native app's private-use scheme (RFC 8252 §7.1).
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("redirect URI {uri}: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!(
            "redirect URI {uri} must not have a fragment (RFC 6749 §3.1.2)"
        ));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "redirect URI {uri} must use https (http only for localhost)"
        )),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(format!(
            "redirect URI {uri}: use https, loopback http, or a reverse-domain private scheme"
        )),
    }
}
