//! Registered clients as the protocol sees them: their grant types, redirect
//! URIs, scope and signing algorithm. Registration rules are in
//! `registration.rs`, the in-memory cache in `cache.rs`; how a client proves
//! who it is lives in `oauth::client_auth`.

mod cache;
pub mod profile;
mod registration;

pub use cache::{ClientCache, CLIENT_CACHE_TTL};
pub use registration::{
    check_resource_uri, register, remove, remove_client, update_metadata, validate, NewClient,
    Registered, RegistrationError, DEFAULT_SCOPE, MIN_SECRET_LEN,
};

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;

use super::Scope;
use crate::keys::SigningAlg;
use crate::secrets;
use crate::store::clients::{self as rows, ClientRow};
use crate::store::{DbConnection, StoreError};

pub use crate::store::clients::{AuthMethod, GrantType, Profile};

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
    /// Resource URIs (RFC 8707) its tokens may be for.
    pub resources: Vec<String>,
    /// Audiences token exchange (RFC 8693) may issue tokens for.
    pub exchange_audiences: Vec<String>,
    /// May exchange a token without an actor token (impersonation).
    pub exchange_impersonation: bool,
    /// Made through dynamic registration (RFC 7591).
    pub dynamic: bool,
    registration_token_hash: Option<String>,
    /// Registered metadata without a field of its own (RFC 7591 §2).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Unix seconds (RFC 7591's `client_id_issued_at`).
    pub created_at: i64,
    /// How it authenticates (`token_endpoint_auth_method`).
    pub auth_method: AuthMethod,
    /// Its public keys, registered as a JWK Set (`private_key_jwt`).
    pub jwks: Option<Arc<JwkSet>>,
    /// Where it publishes its JWK Set (`private_key_jwt`).
    pub jwks_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126 §5).
    pub require_par: bool,
    /// Access tokens must be DPoP-bound (RFC 9449 §5.2).
    pub require_dpop: bool,
    pub profile: Option<Profile>,
    /// Every login for it needs a second factor.
    pub require_mfa: bool,
}

/// The client as the CLI and the admin API show it: never a secret.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    client_id: &'a str,
    name: &'a str,
    public: bool,
    grant_types: &'a [GrantType],
    redirect_uris: &'a [String],
    scope: String,
    audience: Option<&'a str>,
    signing_alg: &'static str,
    consent: bool,
    post_logout_redirect_uris: &'a [String],
    resources: &'a [String],
    exchange_audiences: &'a [String],
    exchange_impersonation: bool,
    dynamic: bool,
    token_endpoint_auth_method: &'static str,
    jwks: Option<&'a JwkSet>,
    jwks_uri: Option<&'a str>,
    require_par: bool,
    require_dpop: bool,
    profile: Option<&'static str>,
    require_mfa: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// Held to the FAPI 2.0 Security Profile.
    pub fn is_fapi2(&self) -> bool {
        self.profile == Some(Profile::Fapi2)
    }

    /// SHA-256 of the secret, for `client_auth`; `None` for a public client.
    pub(crate) fn secret_hash(&self) -> Option<&str> {
        self.secret_hash.as_deref()
    }

    /// SHA-256 of the RFC 7592 registration access token, for a client
    /// made by dynamic registration.
    pub(crate) fn registration_token_hash(&self) -> Option<&str> {
        self.registration_token_hash.as_deref()
    }

    /// The client as the CLI and the admin API show it: never a secret.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::to_value(Summary {
            client_id: &self.client_id,
            name: &self.name,
            public: self.is_public(),
            grant_types: &self.grant_types,
            redirect_uris: &self.redirect_uris,
            scope: self.scope.to_string(),
            audience: self.audience.as_deref(),
            signing_alg: self.signing_alg.as_str(),
            consent: self.consent,
            post_logout_redirect_uris: &self.post_logout_redirect_uris,
            resources: &self.resources,
            exchange_audiences: &self.exchange_audiences,
            exchange_impersonation: self.exchange_impersonation,
            dynamic: self.dynamic,
            token_endpoint_auth_method: self.auth_method.as_str(),
            jwks: self.jwks.as_deref(),
            jwks_uri: self.jwks_uri.as_deref(),
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            profile: self.profile.map(Profile::as_str),
            require_mfa: self.require_mfa,
        })
        .unwrap_or_default()
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// A client built in memory, for unit tests, property tests and fuzz
    /// targets of the protocol rules (they live outside the crate, so this
    /// cannot be `cfg(test)`).
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
            resources: Vec::new(),
            exchange_audiences: Vec::new(),
            exchange_impersonation: false,
            dynamic: false,
            registration_token_hash: None,
            metadata: serde_json::Map::new(),
            created_at: 0,
            auth_method: if public {
                AuthMethod::None
            } else {
                AuthMethod::ClientSecretBasic
            },
            jwks: None,
            jwks_uri: None,
            require_par: false,
            require_dpop: false,
            profile: None,
            require_mfa: false,
        }
    }

    fn from_row(row: ClientRow) -> Result<Self, StoreError> {
        let corrupt = |e: String| StoreError::Corrupt(format!("client {}: {e}", row.client_id));
        let scope = Scope::from_stored(&row.scope).map_err(|e| corrupt(e.to_string()))?;
        let metadata = match serde_json::from_str(&row.metadata) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(corrupt("metadata is not a JSON object".into())),
            Err(e) => return Err(corrupt(format!("metadata: {e}"))),
        };
        let jwks = match &row.jwks {
            Some(text) => Some(Arc::new(
                serde_json::from_str::<JwkSet>(text).map_err(|e| corrupt(format!("jwks: {e}")))?,
            )),
            None => None,
        };
        let profile = row
            .profile
            .as_deref()
            .map(str::parse::<Profile>)
            .transpose()
            .map_err(corrupt)?;
        Ok(Client {
            client_id: row.client_id,
            name: row.name,
            secret_hash: row.secret_hash,
            grant_types: row.grant_types.0,
            redirect_uris: row.redirect_uris.0,
            scope,
            audience: row.audience,
            signing_alg: row.signing_alg,
            consent: row.consent,
            post_logout_redirect_uris: row.post_logout_redirect_uris.0,
            resources: row.resources.0,
            exchange_audiences: row.exchange_audiences.0,
            exchange_impersonation: row.exchange_impersonation,
            dynamic: row.dynamic,
            registration_token_hash: row.registration_token_hash,
            metadata,
            created_at: row.created_at,
            auth_method: row.auth_method,
            jwks,
            jwks_uri: row.jwks_uri,
            require_par: row.require_par,
            require_dpop: row.require_dpop,
            profile,
            require_mfa: row.require_mfa,
        })
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
