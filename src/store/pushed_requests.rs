//! `pushed_authorization_requests` rows (RFC 9126): a validated authorization
//! request by the SHA-256 of its `request_uri`, taken once.

use diesel::prelude::*;

use super::schema::pushed_requests as pushed;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pushed)]
pub struct PushedRow {
    pub request_uri_hash: String,
    pub client_id: String,
    /// The validated request, as JSON.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &PushedRow) -> Result<(), StoreError> {
    diesel::insert_into(pushed::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "pushed request"))
}

/// Opens the pushed request of `client_id` for the browser: its params,
/// if it is alive and unspent. Opening again (a reloaded login page) works
/// until a code is issued; an opened request lives as long as a login page
/// may stay open (`keep_until`), not just the push's 60 seconds. `None`
/// when it is unknown, another client's, spent or expired.
pub fn open(
    conn: &mut DbConnection,
    request_uri_hash: &str,
    client_id: &str,
    now: i64,
    keep_until: i64,
) -> Result<Option<String>, StoreError> {
    let opened = diesel::update(
        pushed::table
            .filter(pushed::request_uri_hash.eq(request_uri_hash))
            .filter(pushed::client_id.eq(client_id))
            .filter(pushed::used_at.is_null())
            .filter(pushed::expires_at.gt(now)),
    )
    .set(pushed::expires_at.eq(keep_until))
    .execute(conn)?;
    if opened != 1 {
        return Ok(None);
    }
    Ok(Some(
        pushed::table
            .find(request_uri_hash)
            .select(pushed::params)
            .get_result(conn)?,
    ))
}

/// Spends a pushed request as its code is issued: of two browsers that
/// opened it, one gets a code. Returns whether this call spent it.
pub fn spend(
    conn: &mut DbConnection,
    request_uri_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let spent = diesel::update(
        pushed::table
            .filter(pushed::request_uri_hash.eq(request_uri_hash))
            .filter(pushed::used_at.is_null())
            .filter(pushed::expires_at.gt(now)),
    )
    .set(pushed::used_at.eq(now))
    .execute(conn)?;
    Ok(spent == 1)
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(pushed::table.filter(pushed::expires_at.le(now))).execute(conn)?)
}
