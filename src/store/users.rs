//! `users` rows and their queries.

use diesel::prelude::*;

use super::schema::users;
use super::{on_backend, DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "user"))
}

pub fn find_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(on_backend!(conn, |c| {
        users::table
            .find(id)
            .select(UserRow::as_select())
            .get_result(c)
            .optional()
    })?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<UserRow>, StoreError> {
    Ok(users::table
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(conn)?)
}

/// Returns whether a user with that name existed.
pub fn set_disabled(
    conn: &mut DbConnection,
    username: &str,
    disabled: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(users::table.filter(users::username.eq(username)))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Returns whether a user with that name existed.
pub fn set_password_hash(
    conn: &mut DbConnection,
    username: &str,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(users::table.filter(users::username.eq(username)))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// The user's WebAuthn user handle (base64url), if they have one.
pub fn webauthn_handle(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(users::table
        .find(id)
        .select(users::webauthn_handle)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Gives the user `handle` unless they have one already; returns the one
/// they have now.
pub fn ensure_webauthn_handle(
    conn: &mut DbConnection,
    id: &str,
    handle: &str,
) -> Result<Option<String>, StoreError> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::webauthn_handle.is_null()),
    )
    .set(users::webauthn_handle.eq(handle))
    .execute(conn)?;
    webauthn_handle(conn, id)
}

/// The name and email a person gives on their account page. Returns
/// whether the user existed.
pub fn update_profile(
    conn: &mut DbConnection,
    id: &str,
    name: Option<&str>,
    email: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::email.eq(email),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}
