//! Portcullis: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! Layers, each calling only those below it: `http` (actix-web) → `oauth`
//! (protocol rules) → `keys` / `accounts` → `store` (diesel).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod config;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod workers;

use std::sync::Arc;

/// What every request handler and service needs, built once at start.
pub struct Services {
    pub settings: Arc<config::Settings>,
    pub db: store::Db,
    pub keys: Arc<keys::KeyManager>,
    pub token_limiter: oauth::limiter::RateLimiter,
    pub metrics: metrics::Metrics,
    pub client_cache: oauth::clients::ClientCache,
    /// The discovery document, serialised once: it only depends on settings.
    pub discovery: std::sync::OnceLock<actix_web::web::Bytes>,
}
