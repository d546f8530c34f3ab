//! `sessions` rows: SSO sessions, found by the SHA-256 of the cookie value.

use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// How the login was proven (RFC 8176, space-separated).
    pub amr: String,
    pub last_seen_at: Option<i64>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A session that has neither ended nor expired.
pub fn find_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .find(id_hash)
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Returns whether a live session was ended.
pub fn end(conn: &mut DbConnection, id_hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        sessions::table
            .find(id_hash)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// A step-up on a live session: its new proof and `auth_time`.
pub fn raise(
    conn: &mut DbConnection,
    id_hash: &str,
    user_id: &str,
    amr: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        sessions::table
            .find(id_hash)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now)),
    )
    .set((
        sessions::amr.eq(amr),
        sessions::auth_time.eq(now),
        sessions::last_seen_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The live sessions of a user, newest first (the account page).
pub fn live_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?)
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}
