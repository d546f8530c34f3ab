//! Signing-key lifecycle: generate, seal, rotate, revoke, publish (JWKS) and
//! the in-memory signer cache every request signs with.

pub mod kek;
pub mod lifecycle;
pub mod manager;
pub mod material;
pub mod signer;
mod verified;

pub use kek::{Kek, Keyring};
pub use manager::{Expiring, Expiry, JwksDocument, KeyManager, Signer};
pub use material::{GeneratedKey, SigningAlg};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("key-encryption key: {0}")]
    Kek(String),
    #[error("sealing a private key failed")]
    Seal,
    #[error("cannot unseal key {0}: wrong key-encryption key or corrupt row")]
    Unseal(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlg),
    #[error("token rejected: {0}")]
    InvalidToken(String),
    #[error("no signing key with kid {0}")]
    UnknownKid(String),
    /// A stored key that cannot be used as it is: its public JWK or its
    /// unsealed private key does not parse.
    #[error("stored key {kid} is corrupt: {why}")]
    Corrupt { kid: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
