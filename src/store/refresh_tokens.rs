//! `refresh_tokens` rows and their queries. Only the SHA-256 hash of a token
//! is stored; a database dump cannot be replayed against the token endpoint.

use diesel::prelude::*;

use super::schema::{refresh_tokens as rt, users};
use super::users::UserRow;
use super::{on_backend, DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rt)]
pub struct RefreshTokenRow {
    pub id: String,
    pub token_hash: String,
    pub family_id: String,
    pub parent_id: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The SSO session the family was born in (authorization-code flow);
    /// logging out of it revokes the family.
    pub session_id: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &RefreshTokenRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(rt::table).values(row);
    on_backend!(conn, |c| insert.execute(c))
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "refresh token"))
}

pub fn find_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    // In the macro: `as_select()` is typed by the backend that runs it.
    Ok(on_backend!(conn, |c| {
        rt::table
            .filter(rt::token_hash.eq(token_hash))
            .select(RefreshTokenRow::as_select())
            .get_result(c)
            .optional()
    })?)
}

/// A token and its user in one query (one round trip on PostgreSQL).
pub fn find_with_user(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<(RefreshTokenRow, UserRow)>, StoreError> {
    Ok(on_backend!(conn, |c| {
        rt::table
            .inner_join(users::table)
            .filter(rt::token_hash.eq(token_hash))
            .select((RefreshTokenRow::as_select(), UserRow::as_select()))
            .get_result(c)
            .optional()
    })?)
}

/// Spends a token: succeeds for exactly one caller, however many race.
pub fn mark_used(conn: &mut DbConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let update = diesel::update(
        rt::table
            .find(id)
            .filter(rt::used_at.is_null())
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::used_at.eq(now));
    let n = on_backend!(conn, |c| update.execute(c))?;
    Ok(n == 1)
}

pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

pub fn revoke_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

pub fn revoke_for_session(
    conn: &mut DbConnection,
    session_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        rt::table
            .filter(rt::session_id.eq(session_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)?)
}

/// Housekeeping: rows past their expiry are useless, even for reuse detection
/// (an expired token is refused before reuse is considered).
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(rt::table.filter(rt::expires_at.le(now))).execute(conn)?)
}

/// Spends `old_id` and stores its successor, atomically. Returns false (and
/// stores nothing) when the old token was already spent or revoked: of N
/// concurrent rotations of one token exactly one succeeds.
///
/// PostgreSQL does it in one statement, one round trip instead of four
/// (BEGIN, UPDATE, INSERT, COMMIT): the INSERT takes its row from the
/// UPDATE's `RETURNING`, so it inserts nothing when the UPDATE matched
/// nothing, and a failed INSERT undoes the UPDATE. SQLite has no
/// data-modifying CTE; there the conditional UPDATE comes first in a
/// transaction, so SQLite takes the write lock at the start.
pub fn rotate(
    conn: &mut DbConnection,
    old_id: &str,
    successor: &RefreshTokenRow,
    now: i64,
) -> Result<bool, StoreError> {
    if let DbConnection::Pg(pg) = conn {
        return rotate_in_one_statement(pg, old_id, successor, now);
    }
    conn.transaction::<_, StoreError, _>(|conn| {
        if !mark_used(conn, old_id, now)? {
            return Ok(false);
        }
        insert(conn, successor)?;
        Ok(true)
    })
}

fn rotate_in_one_statement(
    conn: &mut diesel::pg::PgConnection,
    old_id: &str,
    row: &RefreshTokenRow,
    now: i64,
) -> Result<bool, StoreError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    // Every field by name, no `..`: a column added to the row type does not
    // compile here until the statement below stores it too.
    let RefreshTokenRow {
        id,
        token_hash,
        family_id,
        parent_id,
        client_id,
        user_id,
        scope,
        auth_time,
        issued_at,
        expires_at,
        used_at,
        revoked_at,
        session_id,
    } = row;
    let inserted = diesel::sql_query(
        "WITH spent AS (\
             UPDATE refresh_tokens SET used_at = $1 \
             WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL \
             RETURNING id) \
         INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, \
             user_id, scope, auth_time, issued_at, expires_at, used_at, revoked_at, session_id) \
         SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM spent",
    )
    .bind::<BigInt, _>(now)
    .bind::<Text, _>(old_id)
    .bind::<Text, _>(id)
    .bind::<Text, _>(token_hash)
    .bind::<Text, _>(family_id)
    .bind::<Nullable<Text>, _>(parent_id)
    .bind::<Text, _>(client_id)
    .bind::<Text, _>(user_id)
    .bind::<Text, _>(scope)
    .bind::<BigInt, _>(auth_time)
    .bind::<BigInt, _>(issued_at)
    .bind::<BigInt, _>(expires_at)
    .bind::<Nullable<BigInt>, _>(used_at)
    .bind::<Nullable<BigInt>, _>(revoked_at)
    .bind::<Nullable<Text>, _>(session_id)
    .execute(conn)
    .map_err(|e| StoreError::conflict_on_unique(e, "refresh token"))?;
    Ok(inserted == 1)
}
