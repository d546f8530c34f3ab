//! User accounts: creation, disabling, passwords. Each operation records
//! its own audit event with the actor who asked (`cli`, `admin:CLIENT`, the
//! console later), so no caller can forget it.

use super::password::{self, hash_password};
use super::AccountError;
use crate::audit;
use crate::store::refresh_tokens;
use crate::store::users::{self, UserRow};
use crate::store::{Db, DbConnection, StoreError};

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
pub fn create_user(
    conn: &mut DbConnection,
    new: &NewUser<'_>,
    actor: &str,
    now: i64,
) -> Result<UserRow, AccountError> {
    validate_username(new.username)?;
    let hash = hash_password(new.password)?;
    insert_user(conn, user_row(new, hash, now), actor)
}

/// Creates a user from async code: Argon2id on the hashing threads, then
/// only the insert on the database's writer, which nothing slow may hold.
pub async fn create_user_async(
    db: &Db,
    new: &NewUser<'_>,
    actor: String,
    now: i64,
) -> Result<UserRow, AccountError> {
    validate_username(new.username)?;
    let hash = password::hash_password_async(new.password.to_owned()).await?;
    let row = user_row(new, hash, now);
    db.write(move |conn| insert_user(conn, row, &actor)).await
}

fn user_row(new: &NewUser<'_>, password_hash: String, now: i64) -> UserRow {
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

fn insert_user(
    conn: &mut DbConnection,
    row: UserRow,
    actor: &str,
) -> Result<UserRow, AccountError> {
    match users::insert(conn, &row) {
        Ok(()) => {
            let at = row.created_at;
            audit::record_or_log(conn, at, actor, "user.created", &row.username, &row.id);
            Ok(row)
        }
        Err(StoreError::Conflict(_)) => Err(AccountError::Exists(row.username)),
        Err(e) => Err(e.into()),
    }
}

/// Disables a user and revokes every refresh token it holds.
pub fn disable_user(
    conn: &mut DbConnection,
    username: &str,
    actor: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let user = users::find_by_username(conn, username)?
        .ok_or_else(|| AccountError::NotFound(username.to_owned()))?;
    users::set_disabled(conn, username, true, now)?;
    let revoked = refresh_tokens::revoke_for_user(conn, &user.id, now)?;
    audit::record_or_log(conn, now, actor, "user.disabled", username, "");
    Ok(revoked)
}

/// Sets a new password. Existing refresh tokens are revoked: a password change
/// is how a user throws out whoever else was logged in.
pub fn set_password(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
    actor: &str,
    now: i64,
) -> Result<(), AccountError> {
    let hash = hash_password(password)?;
    let user = users::find_by_username(conn, username)?
        .ok_or_else(|| AccountError::NotFound(username.to_owned()))?;
    users::set_password_hash(conn, username, &hash, now)?;
    refresh_tokens::revoke_for_user(conn, &user.id, now)?;
    audit::record_or_log(conn, now, actor, "user.password_set", username, "");
    Ok(())
}

/// [`set_password`] from async code: Argon2id on the hashing threads,
/// then only the writes on the database's writer.
pub async fn set_password_async(
    db: &Db,
    username: &str,
    password: &str,
    actor: &str,
    now: i64,
) -> Result<(), AccountError> {
    let hash = password::hash_password_async(password.to_owned()).await?;
    let (username, actor) = (username.to_owned(), actor.to_owned());
    db.write(move |conn| {
        let user = users::find_by_username(conn, &username)?
            .ok_or_else(|| AccountError::NotFound(username.clone()))?;
        users::set_password_hash(conn, &username, &hash, now)?;
        refresh_tokens::revoke_for_user(conn, &user.id, now)?;
        audit::record_or_log(conn, now, &actor, "user.password_set", &username, "");
        Ok(())
    })
    .await
}

/// A user as the CLI and the admin API show it: never the password hash.
pub fn user_summary(u: &UserRow) -> serde_json::Value {
    serde_json::json!({"sub": u.id, "username": u.username, "email": u.email, "name": u.name,
                       "disabled": u.disabled, "created_at": u.created_at})
}
