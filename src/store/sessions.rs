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

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}
