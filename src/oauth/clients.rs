//! Registered clients: registration rules and client authentication
//! (RFC 6749 §2.3: `client_secret_basic`, `client_secret_post`, `none`).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use super::{Error, Scope};
use crate::keys::SigningAlg;
use crate::secrets;
use crate::store::clients::{self as rows, ClientRow};
use crate::store::{self, Db, DbConnection, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    Password,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Grant types the token endpoint serves.
    pub const SUPPORTED: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "authorization_code" => Ok(GrantType::AuthorizationCode),
            "password" => Ok(GrantType::Password),
            "refresh_token" => Ok(GrantType::RefreshToken),
            "client_credentials" => Ok(GrantType::ClientCredentials),
            other => Err(format!("unknown grant type `{other}`")),
        }
    }
}

/// A client as the protocol sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    secret_hash: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub scope: Scope,
    pub audience: Option<String>,
    pub signing_alg: SigningAlg,
    /// A third-party client: users are asked before it gets their data.
    pub consent: bool,
    pub post_logout_redirect_uris: Vec<String>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// The client as the CLI and the admin API show it: never a secret.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "client_id": self.client_id, "name": self.name, "public": self.is_public(),
            "grant_types": self.grant_types, "redirect_uris": self.redirect_uris,
            "scope": self.scope.to_string(), "audience": self.audience,
            "signing_alg": self.signing_alg.as_str(), "consent": self.consent,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
        })
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// A client built in memory, for unit tests of the protocol rules.
    #[doc(hidden)]
    pub fn for_tests(
        client_id: &str,
        public: bool,
        grant_types: Vec<GrantType>,
        redirect_uris: Vec<String>,
        scope: Scope,
        signing_alg: SigningAlg,
        consent: bool,
    ) -> Self {
        Client {
            client_id: client_id.to_owned(),
            name: client_id.to_owned(),
            secret_hash: if public {
                None
            } else {
                Some(secrets::sha256_hex("secret"))
            },
            grant_types,
            redirect_uris,
            scope,
            audience: None,
            signing_alg,
            consent,
            post_logout_redirect_uris: Vec::new(),
        }
    }

    fn from_row(row: ClientRow) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Task(format!("client {}: {what}", row.client_id));
        let grant_types = row
            .grant_types
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<GrantType>, _>>()
            .map_err(corrupt)?;
        let signing_alg = row.signing_alg.parse().map_err(corrupt)?;
        let scope = Scope::parse(&row.scope).map_err(|e| corrupt(e.to_string()))?;
        Ok(Client {
            client_id: row.client_id,
            name: row.name,
            secret_hash: row.secret_hash,
            grant_types,
            redirect_uris: row
                .redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            scope,
            audience: row.audience,
            signing_alg,
            consent: row.consent,
            post_logout_redirect_uris: row
                .post_logout_redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}

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
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("client {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored client and, for a confidential client, its secret in clear:
/// shown once, never stored.
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

pub fn register(conn: &mut DbConnection, new: NewClient) -> Result<Registered, RegistrationError> {
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
    if new.grant_types.is_empty() {
        return Err(invalid("a client needs at least one grant type".into()));
    }
    if let Some(g) = new
        .grant_types
        .iter()
        .find(|g| !GrantType::SUPPORTED.contains(g))
    {
        return Err(invalid(format!(
            "grant type {g} is not supported by this version of Portcullis"
        )));
    }
    if new.public && new.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(invalid(
            "a public client cannot use client_credentials: it has no secret".into(),
        ));
    }
    if new.public && new.secret.is_some() {
        return Err(invalid("a public client has no secret".into()));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        check_redirect_uri(uri).map_err(invalid)?;
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(invalid(
            "the authorization_code grant needs at least one --redirect-uri".into(),
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
    let secret = if new.public {
        None
    } else {
        Some(
            new.secret
                .clone()
                .unwrap_or_else(|| secrets::random_token(32)),
        )
    };
    let grant_types: Vec<&str> = new.grant_types.iter().map(|g| g.as_str()).collect();
    let row = ClientRow {
        client_id: new.client_id.clone(),
        name: new.name.clone().unwrap_or_else(|| new.client_id.clone()),
        secret_hash: secret.as_deref().map(secrets::sha256_hex),
        grant_types: grant_types.join(" "),
        redirect_uris: new.redirect_uris.join(" "),
        scope: scope.to_string(),
        audience: new.audience.clone().filter(|a| !a.is_empty()),
        signing_alg: new.signing_alg.as_str().to_owned(),
        created_at: store::now(),
        consent: new.consent,
        post_logout_redirect_uris: new.post_logout_redirect_uris.join(" "),
    };
    match rows::insert(conn, &row) {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(RegistrationError::Exists(new.client_id)),
        Err(e) => return Err(e.into()),
    }
    Ok(Registered {
        client: Client::from_row(row)?,
        secret,
    })
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

pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<Client>, StoreError> {
    rows::find(conn, client_id)?
        .map(Client::from_row)
        .transpose()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, StoreError> {
    rows::list(conn)?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

/// How the client presented itself on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic {
        client_id: String,
        secret: String,
    },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post {
        client_id: String,
        secret: String,
    },
    /// `client_id` alone: a public client (`none`).
    PublicId {
        client_id: String,
    },
    None,
}

impl ClientCredentials {
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
            return Ok(ClientCredentials::Basic { client_id, secret });
        }
        match (form_client_id, form_secret) {
            (Some(id), Some(secret)) => Ok(ClientCredentials::Post {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(id), None) => Ok(ClientCredentials::PublicId {
                client_id: id.to_owned(),
            }),
            (None, Some(_)) => Err(Error::invalid_request("client_secret without client_id")),
            (None, None) => Ok(ClientCredentials::None),
        }
    }

    fn is_basic(&self) -> bool {
        matches!(self, ClientCredentials::Basic { .. })
    }
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn parse_basic(header: &str) -> Result<(String, String), Error> {
    let malformed =
        || Error::invalid_client("malformed Basic credentials").with_basic_challenge(true);
    let (scheme, value) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(
            Error::invalid_client("unsupported authentication scheme").with_basic_challenge(true)
        );
    }
    let decoded = STANDARD.decode(value.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> Result<String, Error> {
        let with_spaces = s.replace('+', " ");
        let bytes: Vec<u8> = percent_decode(&with_spaces).ok_or_else(malformed)?;
        String::from_utf8(bytes).map_err(|_| malformed())
    };
    let id = unescape(id)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, unescape(secret)?))
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Registered clients, kept in memory for a few seconds: every token request
/// authenticates its client, and clients change rarely. A removed client, or
/// a changed one, takes effect within `CLIENT_CACHE_TTL` on every replica.
pub struct ClientCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, (std::time::Instant, Client)>>,
}

pub const CLIENT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            entries: std::sync::RwLock::new(std::collections::HashMap::new()),
        }
    }
}

impl ClientCache {
    fn get(&self, client_id: &str) -> Option<Client> {
        let entries = self.entries.read().ok()?;
        entries
            .get(client_id)
            .filter(|(at, _)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, client: Client) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() > 10_000 {
                entries.retain(|_, (at, _)| at.elapsed() < CLIENT_CACHE_TTL);
            }
            entries.insert(
                client.client_id.clone(),
                (std::time::Instant::now(), client),
            );
        }
    }

    /// Forgets a client at once (this replica), after a change made here.
    pub fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(client_id);
        }
    }
}

/// Authenticates the client of a token request. Every failure is the same
/// `invalid_client`, whatever went wrong, so nothing tells which clients exist.
pub async fn authenticate(
    db: &Db,
    cache: &ClientCache,
    credentials: ClientCredentials,
) -> Result<Client, Error> {
    let basic = credentials.is_basic();
    let fail = || Error::invalid_client("client authentication failed").with_basic_challenge(basic);
    let (client_id, secret) = match credentials {
        ClientCredentials::Basic { client_id, secret }
        | ClientCredentials::Post { client_id, secret } => (client_id, Some(secret)),
        ClientCredentials::PublicId { client_id } => (client_id, None),
        ClientCredentials::None => {
            return Err(Error::invalid_client("client authentication is required")
                .with_basic_challenge(true))
        }
    };
    let client = match cache.get(&client_id) {
        Some(client) => client,
        None => {
            let lookup_id = client_id.clone();
            let found = db
                .run(move |conn| find(conn, &lookup_id))
                .await?
                .ok_or_else(fail)?;
            cache.put(found.clone());
            found
        }
    };
    match (&client.secret_hash, secret) {
        (Some(stored), Some(given))
            if secrets::constant_time_eq(stored, &secrets::sha256_hex(&given)) =>
        {
            Ok(client)
        }
        (None, None) => Ok(client),
        _ => Err(fail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            parse_basic(&header).unwrap(),
            ("my app".to_owned(), "s:cret x".to_owned())
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for header in [
            "Basic !!!",
            "Bearer abc",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let err = parse_basic(header).unwrap_err();
            assert_eq!(err.code, super::super::ErrorCode::InvalidClient, "{header}");
            assert!(err.basic_challenge);
        }
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("a%zz:b"))).is_err());
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = ClientCredentials::from_parts(Some(&header), Some("a"), Some("b")).unwrap_err();
        assert_eq!(err.code, super::super::ErrorCode::InvalidRequest);
        assert!(matches!(
            ClientCredentials::from_parts(Some(&header), Some("a"), None),
            Ok(ClientCredentials::Basic { .. })
        ));
        assert!(matches!(
            ClientCredentials::from_parts(None, Some("a"), None),
            Ok(ClientCredentials::PublicId { .. })
        ));
    }
}
