//! Portcullis: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! Layers, each calling only those below it: `http` (actix-web) → `oauth`
//! (protocol rules) → `keys` / `accounts` / `remote` (outbound HTTP) →
//! `store` (diesel). Beside them:
//! `config`, `clock`, `events`, `audit`, `metrics`, `secrets`, `workers`
//! (leaves every layer may use), `startup` (wires them) and `cli`.
//! ARCHITECTURE.md at the top of the repository is the map.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::dbg_macro
    )
)]
// A std lock held across an .await blocks the worker thread for others.
#![deny(clippy::await_holding_lock)]

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod events;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod remote;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod workers;
