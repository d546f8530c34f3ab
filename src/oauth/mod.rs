//! Protocol rules in plain Rust: grants, scopes, claims, client
//! authentication and the RFC 6749 error codes. No HTTP here: the HTTP
//! layer hands each rule a [`Context`] and the parsed request.

pub mod access_token;
pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod clients;
pub mod device;
pub mod dpop;
pub mod error;
pub mod form;
pub mod introspection;
pub mod limiter;
pub mod logout;
pub mod par;
pub mod pkce;
pub mod registration;
pub mod resource;
pub mod revocation;
pub mod scope;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

pub use error::{Error, ErrorCode};
pub use scope::Scope;

use crate::accounts::throttle::Policy as LoginPolicy;
use crate::clock::Clock;
use crate::events::Events;
use crate::keys::KeyManager;
use crate::metrics::Metrics;
use crate::remote::jwks::JwksCache;
use crate::remote::Outbound;
use crate::store::Db;

/// The protocol's settings, taken from the configuration once at start.
#[derive(Debug, Clone)]
pub struct Protocol {
    /// The `iss` of every token and the base of every endpoint URL.
    pub issuer: String,
    pub access_token_ttl: i64,
    /// A refresh family's lifetime, from the login.
    pub refresh_token_ttl: i64,
    /// Seconds in which replaying the refresh token just spent is forgiven.
    pub refresh_reuse_grace: i64,
    pub code_ttl: i64,
    /// RFC 8628 §3.2: a device code's lifetime and the polling interval.
    pub device_code_ttl: i64,
    pub device_poll_interval: i64,
    pub session_ttl: i64,
    /// Every client must push its authorization requests (RFC 9126 §5).
    pub require_par: bool,
    /// Every browser login needs a second factor.
    pub mfa_required: bool,
    pub login: LoginPolicy,
    /// Dynamic client registration (RFC 7591).
    pub registration: registration::Policy,
}

/// What the protocol rules need, built once at start: settings, storage,
/// keys, caches, the clock, and where metrics and events go.
pub struct Context {
    pub protocol: Protocol,
    pub db: Db,
    pub keys: Arc<KeyManager>,
    pub clients: clients::ClientCache,
    pub limiter: limiter::RateLimiter,
    /// Registrations per client address (RFC 7591's endpoint is open to anyone).
    pub registration_limiter: limiter::RateLimiter,
    pub metrics: Metrics,
    pub clock: Clock,
    pub events: Events,
    /// Server-provided DPoP nonces (RFC 9449 §8), when the setting asks.
    pub dpop_nonces: Option<dpop::Nonces>,
    /// Outbound HTTP and the addresses it may reach (`crate::remote`).
    pub outbound: Arc<Outbound>,
    /// Clients' JWK Sets fetched from their `jwks_uri` (`private_key_jwt`).
    pub client_jwks: JwksCache,
    /// The WebAuthn relying party (the issuer's host and origin), or why
    /// passkeys are unavailable (an IP address as issuer host).
    pub passkeys:
        Result<crate::accounts::webauthn::RelyingParty, crate::accounts::webauthn::Unavailable>,
}

impl Context {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn issuer(&self) -> &str {
        &self.protocol.issuer
    }
}

impl Protocol {
    /// The level every browser login must reach, by the server's policy.
    pub fn mfa_floor(&self) -> crate::accounts::amr::Acr {
        if self.mfa_required {
            crate::accounts::amr::Acr::Mfa
        } else {
            crate::accounts::amr::Acr::Pwd
        }
    }
}
