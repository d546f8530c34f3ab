//! actix-web only: extract the request, call the protocol layer, render
//! the response. No decision is made here that a CLI, the admin API or the
//! console would have to make again.
//!
//! - `oauth/`: the OAuth and OpenID endpoints (JSON);
//! - `pages/`: the browser's pages (login, consent);
//! - `admin/`: the admin API;
//! - `extract.rs`, `errors.rs`: reading requests, rendering failures.

pub mod access_log;
pub mod admin;
pub mod errors;
pub mod extract;
pub mod oauth;
pub mod ops;
pub mod pages;

use std::sync::{Arc, OnceLock};

use actix_web::web;

pub use access_log::access_log;

/// What the handlers share: the protocol layer's context, and what only
/// HTTP needs (cookie and cache settings, the serialised discovery document).
pub struct State {
    pub ctx: Arc<crate::oauth::Context>,
    /// Cookies get `Secure` whenever the issuer is served over https.
    pub secure_cookies: bool,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: i64,
    /// The discovery document, serialised once: it only depends on settings.
    discovery: OnceLock<web::Bytes>,
}

impl State {
    pub fn new(ctx: Arc<crate::oauth::Context>, secure_cookies: bool, jwks_max_age: i64) -> Self {
        State {
            ctx,
            secure_cookies,
            jwks_max_age,
            discovery: OnceLock::new(),
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(pages::index)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .configure(oauth::routes)
        .configure(pages::routes)
        .configure(admin::routes)
        .default_service(web::to(pages::not_found));
}
