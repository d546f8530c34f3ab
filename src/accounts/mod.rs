//! People: users and their passwords, logins (a state machine from the
//! first credential to a session), SSO sessions and brute-force defence.

pub mod amr;
pub mod factors;
pub mod login;
pub mod passkeys;
pub mod password;
pub mod profile;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod users;
pub mod webauthn;

use crate::store::StoreError;

pub use login::{authenticate, Attempt, LoginOutcome};
pub use password::{hash_password, verify_password, PasswordError, MIN_PASSWORD_LEN};
pub use users::{
    create_user, create_user_async, disable_user, set_password, set_password_async, user_summary,
    NewUser,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user {0} already exists")]
    Exists(String),
    #[error("no user named {0}")]
    NotFound(String),
    #[error("invalid username: {0}")]
    InvalidUsername(&'static str),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}
