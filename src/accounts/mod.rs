//! Users and their passwords.

pub mod password;
pub mod sessions;
pub mod throttle;

use crate::store::refresh_tokens;
use crate::store::users::{self, UserRow};
use crate::store::{self, Db, DbConnection, StoreError};

pub use password::{hash_password, verify_password, PasswordError, MIN_PASSWORD_LEN};

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

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub password: &'a str,
}

fn validate_username(username: &str) -> Result<(), AccountError> {
    if username.is_empty() || username.len() > 128 {
        return Err(AccountError::InvalidUsername("must be 1 to 128 bytes"));
    }
    if username
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AccountError::InvalidUsername(
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// Creates a user. Blocking (Argon2id and the database): not for async code.
pub fn create_user(conn: &mut DbConnection, new: &NewUser<'_>) -> Result<UserRow, AccountError> {
    validate_username(new.username)?;
    let hash = hash_password(new.password)?;
    insert_user(conn, user_row(new, hash))
}

/// Creates a user from async code: Argon2id on the hashing threads, then
/// only the insert on the database's writer, which nothing slow may hold.
pub async fn create_user_async(db: &Db, new: &NewUser<'_>) -> Result<UserRow, AccountError> {
    validate_username(new.username)?;
    let hash = password::hash_password_async(new.password.to_owned()).await?;
    let row = user_row(new, hash);
    db.write(move |conn| insert_user(conn, row)).await
}

fn user_row(new: &NewUser<'_>, password_hash: String) -> UserRow {
    let now = store::now();
    UserRow {
        id: crate::secrets::random_uuid(),
        username: new.username.to_owned(),
        email: new.email.map(str::to_owned),
        name: new.name.map(str::to_owned),
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    }
}

fn insert_user(conn: &mut DbConnection, row: UserRow) -> Result<UserRow, AccountError> {
    match users::insert(conn, &row) {
        Ok(()) => Ok(row),
        Err(StoreError::Conflict(_)) => Err(AccountError::Exists(row.username)),
        Err(e) => Err(e.into()),
    }
}

/// Disables a user and revokes every refresh token it holds.
pub fn disable_user(conn: &mut DbConnection, username: &str) -> Result<usize, AccountError> {
    let now = store::now();
    let user = users::find_by_username(conn, username)?
        .ok_or_else(|| AccountError::NotFound(username.to_owned()))?;
    users::set_disabled(conn, username, true, now)?;
    Ok(refresh_tokens::revoke_for_user(conn, &user.id, now)?)
}

/// Sets a new password. Existing refresh tokens are revoked: a password change
/// is how a user throws out whoever else was logged in.
pub fn set_password(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
) -> Result<(), AccountError> {
    let hash = hash_password(password)?;
    let now = store::now();
    let user = users::find_by_username(conn, username)?
        .ok_or_else(|| AccountError::NotFound(username.to_owned()))?;
    users::set_password_hash(conn, username, &hash, now)?;
    refresh_tokens::revoke_for_user(conn, &user.id, now)?;
    Ok(())
}

/// A login attempt: on the login page or through the password grant.
pub struct Attempt {
    pub username: String,
    pub password: String,
    /// Who relays it, for the audit trail: `client:ID` or `login-page:ID`.
    pub via: String,
    /// The client's network address, when known.
    pub address: Option<String>,
}

#[derive(Debug)]
pub enum LoginOutcome {
    Success(Box<UserRow>),
    /// Unknown user, wrong password or disabled account: one answer for all.
    Failure,
    /// Too many recent failures for this username or address.
    Throttled {
        retry_after: i64,
    },
}

/// Checks a username and password, within the brute-force policy. An
/// unknown user costs one Argon2id verification too, so timing tells nothing
/// about who exists; throttling counts usernames whether they exist or not.
/// Every attempt goes to the audit trail.
pub async fn authenticate(
    db: &Db,
    policy: &throttle::Policy,
    attempt: Attempt,
) -> Result<LoginOutcome, StoreError> {
    let keys = throttle::keys(&attempt.username, attempt.address.as_deref());
    match throttle::check(db, policy, &keys).await? {
        throttle::Verdict::Refuse { retry_after } => {
            let (via, username) = (attempt.via.clone(), attempt.username.clone());
            crate::audit::record_async(db, via, "login.throttled", username, String::new()).await;
            return Ok(LoginOutcome::Throttled { retry_after });
        }
        throttle::Verdict::Slow(delay) => tokio::time::sleep(delay).await,
        throttle::Verdict::Allow => {}
    }
    let name = attempt.username.clone();
    let user = db
        .run(move |conn| users::find_by_username(conn, &name))
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = attempt.password;
    // Argon2id takes tens of milliseconds of CPU: on the low-priority
    // hashing threads, never on an HTTP worker or holding a connection.
    let ok = password::verify_password_async(stored, password).await;
    let user = user.filter(|u| ok && !u.disabled);
    let success = user.is_some();
    let detail = user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let (via, username) = (attempt.via, attempt.username);
    let policy = *policy;
    db.write(move |conn| {
        let action = if success {
            "login.success"
        } else {
            "login.failure"
        };
        crate::audit::record_or_log(conn, &via, action, &username, &detail);
        throttle::record(conn, &policy, &keys, success)
    })
    .await?;
    Ok(match user {
        Some(u) => LoginOutcome::Success(Box::new(u)),
        None => LoginOutcome::Failure,
    })
}

/// A user as the CLI and the admin API show it: never the password hash.
pub fn user_summary(u: &UserRow) -> serde_json::Value {
    serde_json::json!({"sub": u.id, "username": u.username, "email": u.email, "name": u.name,
                       "disabled": u.disabled, "created_at": u.created_at})
}
