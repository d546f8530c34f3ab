//! Protocol rules in plain Rust: grants, scopes, claims, client
//! authentication and the RFC 6749 error codes. No HTTP here.

pub mod authorize;
pub mod claims;
pub mod clients;
pub mod error;
pub mod form;
pub mod introspection;
pub mod limiter;
pub mod scope;
pub mod token;
pub mod userinfo;

pub use error::{Error, ErrorCode};
pub use scope::Scope;
