//! `login_challenges` rows: a login between its password and its second
//! factor, a step-up, a factor's enrolment or a WebAuthn ceremony, found by
//! the SHA-256 of the browser's cookie so that any replica can finish it.

use diesel::prelude::*;

use super::schema::login_challenges as challenges;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = challenges)]
pub struct ChallengeRow {
    pub id_hash: String,
    /// `login`, `step_up`, `passkey_login`, `passkey_register`.
    pub purpose: String,
    pub user_id: Option<String>,
    /// Where the browser goes once it is done: a path on this server
    /// (the authorization request it continues, the account page).
    pub continue_to: Option<String>,
    /// What was proven so far (RFC 8176 values).
    pub amr: String,
    /// The level the login must reach (`pwd`, `mfa`, `phr`).
    pub required_acr: String,
    /// The session a step-up raises, or the one a new login replaces.
    pub session_hash: Option<String>,
    /// A WebAuthn ceremony's server state.
    pub ceremony_state: Option<Vec<u8>>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &ChallengeRow) -> Result<(), StoreError> {
    diesel::insert_into(challenges::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(challenges::table
        .find(id_hash)
        .filter(challenges::expires_at.gt(now))
        .select(ChallengeRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Stores the state of a WebAuthn ceremony begun within this challenge.
pub fn set_ceremony(
    conn: &mut DbConnection,
    id_hash: &str,
    state: &[u8],
) -> Result<bool, StoreError> {
    Ok(diesel::update(challenges::table.find(id_hash))
        .set(challenges::ceremony_state.eq(state))
        .execute(conn)?
        == 1)
}

/// Takes a live challenge: its row, for one of any number of requests
/// finishing it (the row is read, then deleted only if it is still there).
pub fn take_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<ChallengeRow>, StoreError> {
    let Some(row) = find_live(conn, id_hash, now)? else {
        return Ok(None);
    };
    let taken = diesel::delete(challenges::table.find(id_hash)).execute(conn)? == 1;
    Ok(taken.then_some(row))
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(challenges::table.filter(challenges::expires_at.le(now))).execute(conn)?)
}
