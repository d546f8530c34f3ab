//! `registration_tokens` rows: initial access tokens (RFC 7591 §3), minted
//! by an operator, stored only as a SHA-256 hash, optionally expiring and
//! optionally limited to a number of registrations.

use diesel::prelude::*;

use super::schema::registration_tokens as tokens;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tokens)]
pub struct RegistrationTokenRow {
    pub id: String,
    pub token_hash: String,
    pub created_by: String,
    pub created_at: i64,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
    /// `None`: any number of registrations.
    pub uses_left: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &RegistrationTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(tokens::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "registration token"))
}

/// Spends one use of the token whose hash is `token_hash`, if it is still
/// valid at `now`; returns its id. The decrement is one conditional UPDATE
/// (`uses_left > 0`), so of two registrations racing for a token's last use
/// exactly one gets it, on either backend.
pub fn spend(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let Some(row) = tokens::table
        .filter(tokens::token_hash.eq(token_hash))
        .select(RegistrationTokenRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if row.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    if row.uses_left.is_none() {
        return Ok(Some(row.id));
    }
    let spent = diesel::update(
        tokens::table
            .filter(tokens::id.eq(&row.id))
            .filter(tokens::uses_left.gt(0)),
    )
    .set(tokens::uses_left.eq(tokens::uses_left - 1))
    .execute(conn)?;
    Ok((spent == 1).then_some(row.id))
}

/// Expired and used-up tokens can never be spent again.
pub fn delete_spent(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(
            tokens::table.filter(tokens::expires_at.le(now).or(tokens::uses_left.le(0))),
        )
        .execute(conn)?,
    )
}
