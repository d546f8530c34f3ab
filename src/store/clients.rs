//! `clients` rows and their queries. List-valued columns hold
//! space-separated values (grant types, redirect URIs), which keeps the
//! schema identical on both backends; rows carry them parsed, as
//! [`SpaceList`]s of typed values.

use std::fmt;
use std::str::FromStr;

use diesel::prelude::*;
use serde::Serialize;

use super::schema::clients;
use super::{DbConnection, SigningAlg, StoreError};

/// The OAuth grant types (RFC 6749 §4, §6; RFC 8628; RFC 8693).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    Password,
    RefreshToken,
    ClientCredentials,
    DeviceCode,
    TokenExchange,
}

impl GrantType {
    /// Every grant type, in the order discovery lists them; the token
    /// endpoint serves each.
    pub const ALL: [GrantType; 6] = [
        GrantType::AuthorizationCode,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
    ];

    /// The `grant_type` value of the token request, as discovery lists it
    /// and the database stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    /// The short name the CLI accepts and metrics and JSON summaries use:
    /// the URN's last segment, with `_`.
    pub fn short_name(self) -> &'static str {
        match self {
            GrantType::DeviceCode => "device_code",
            GrantType::TokenExchange => "token_exchange",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.as_str() == s || g.short_name() == s)
            .ok_or_else(|| format!("unknown grant type `{s}`"))
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2
/// `token_endpoint_auth_method`). A secret client may send its secret
/// either way (Basic or in the form), as RFC 6749 §2.3.1 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client.
    None,
    /// A JWT signed with the client's private key (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
        AuthMethod::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Authenticates with a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AuthMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unknown client authentication method `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

impl TryFrom<String> for AuthMethod {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        text.parse().map_err(StoreError::Corrupt)
    }
}

impl From<AuthMethod> for String {
    fn from(m: AuthMethod) -> String {
        m.as_str().to_owned()
    }
}

/// A security profile a client is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// FAPI 2.0 Security Profile (private key + DPoP).
    Fapi2,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Fapi2 => "fapi2",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "fapi2" | "fapi2-security" | "fapi-2.0" => Ok(Profile::Fapi2),
            _ => Err(format!("unknown profile `{s}` (expected fapi2)")),
        }
    }
}

/// A list stored as one space-separated text column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpaceList<T>(pub Vec<T>);

impl<T> TryFrom<String> for SpaceList<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        text.split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<T>, T::Err>>()
            .map(SpaceList)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

impl<T: fmt::Display> From<SpaceList<T>> for String {
    fn from(list: SpaceList<T>) -> String {
        list.0
            .iter()
            .map(T::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub grant_types: SpaceList<GrantType>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub redirect_uris: SpaceList<String>,
    pub scope: String,
    pub audience: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub signing_alg: SigningAlg,
    pub created_at: i64,
    pub consent: bool,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub post_logout_redirect_uris: SpaceList<String>,
    /// Resource URIs (RFC 8707) the client may ask tokens for.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub resources: SpaceList<String>,
    /// Audiences token exchange (RFC 8693) may issue tokens for.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub exchange_audiences: SpaceList<String>,
    /// Token exchange without an actor token (impersonation) is allowed.
    pub exchange_impersonation: bool,
    /// Made through dynamic registration (RFC 7591).
    pub dynamic: bool,
    /// SHA-256 of the RFC 7592 registration access token.
    pub registration_token_hash: Option<String>,
    /// Registered metadata without a column of its own, as a JSON object.
    pub metadata: String,
    /// `token_endpoint_auth_method` (RFC 7591 §2).
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub auth_method: AuthMethod,
    /// The client's public keys as a JWK Set (JSON), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where the client publishes its JWK Set, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// Access tokens must be DPoP-bound (RFC 9449 `dpop_bound_access_tokens`).
    pub require_dpop: bool,
    /// The security profile the client was registered under ([`Profile`]
    /// by name; NULL for none).
    pub profile: Option<String>,
    /// Every login for this client needs a second factor.
    pub require_mfa: bool,
}

pub fn insert(conn: &mut DbConnection, row: ClientRow) -> Result<(), StoreError> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "client"))
}

pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
    Ok(clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// A client's display name, if it is registered.
pub fn name_of(conn: &mut DbConnection, client_id: &str) -> Result<Option<String>, StoreError> {
    Ok(clients::table
        .find(client_id)
        .select(clients::name)
        .get_result(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ClientRow>, StoreError> {
    Ok(clients::table
        .order(clients::client_id.asc())
        .select(ClientRow::as_select())
        .load(conn)?)
}

/// What a dynamically registered client may change about itself (RFC 7592
/// §2.2): its metadata, its keys and its registration access token. Its
/// id, secret, kind, signing algorithm, audience and consent stay.
#[derive(Debug, Clone)]
pub struct MetadataUpdate {
    pub name: String,
    pub grant_types: SpaceList<GrantType>,
    pub redirect_uris: SpaceList<String>,
    pub scope: String,
    pub post_logout_redirect_uris: SpaceList<String>,
    pub metadata: String,
    pub registration_token_hash: String,
    /// Between the two secret methods only; the caller sees to that.
    pub auth_method: AuthMethod,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub require_par: bool,
    pub require_dpop: bool,
}

/// Replaces a dynamic client's metadata if its registration access token is
/// still `current_token_hash`: of two updates with the same token, one
/// wins and the other finds the token rotated. Returns whether it matched.
pub fn update_metadata(
    conn: &mut DbConnection,
    client_id: &str,
    current_token_hash: &str,
    update: MetadataUpdate,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        clients::table
            .filter(clients::client_id.eq(client_id))
            .filter(clients::dynamic.eq(true))
            .filter(clients::registration_token_hash.eq(current_token_hash)),
    )
    .set((
        clients::name.eq(update.name),
        clients::grant_types.eq(String::from(update.grant_types)),
        clients::redirect_uris.eq(String::from(update.redirect_uris)),
        clients::scope.eq(update.scope),
        clients::post_logout_redirect_uris.eq(String::from(update.post_logout_redirect_uris)),
        clients::metadata.eq(update.metadata),
        clients::registration_token_hash.eq(update.registration_token_hash),
        clients::auth_method.eq(String::from(update.auth_method)),
        clients::jwks.eq(update.jwks),
        clients::jwks_uri.eq(update.jwks_uri),
        clients::require_par.eq(update.require_par),
        clients::require_dpop.eq(update.require_dpop),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Returns whether the client existed. Its refresh tokens go with it (FK cascade).
pub fn delete(conn: &mut DbConnection, client_id: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(clients::table.find(client_id)).execute(conn)?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_lists_round_trip_and_refuse_unknown_values() {
        let list = SpaceList::<GrantType>::try_from("password refresh_token".to_owned()).unwrap();
        assert_eq!(list.0, vec![GrantType::Password, GrantType::RefreshToken]);
        assert_eq!(String::from(list), "password refresh_token");
        let urns = "urn:ietf:params:oauth:grant-type:device_code token_exchange";
        let list = SpaceList::<GrantType>::try_from(urns.to_owned()).unwrap();
        assert_eq!(
            list.0,
            vec![GrantType::DeviceCode, GrantType::TokenExchange]
        );
        assert_eq!(
            String::from(list),
            "urn:ietf:params:oauth:grant-type:device_code \
             urn:ietf:params:oauth:grant-type:token-exchange"
        );
        assert!(matches!(
            SpaceList::<GrantType>::try_from("password implicit".to_owned()),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            SpaceList::<String>::try_from(String::new()).unwrap().0,
            Vec::<String>::new()
        );
    }
}
