//! Pending authorization requests, authorization codes and remembered consents.

use diesel::prelude::*;

use super::refresh_tokens::{self, RefreshTokenRow};
use super::schema::{authorization_codes as codes, authorization_requests as pending, consents};
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending)]
pub struct PendingRow {
    pub id: String,
    pub params: String,
    pub csrf_token: String,
    pub browser_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_pending(conn: &mut DbConnection, row: &PendingRow) -> Result<(), StoreError> {
    diesel::insert_into(pending::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_pending(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<Option<PendingRow>, StoreError> {
    Ok(pending::table
        .find(id)
        .filter(pending::expires_at.gt(now))
        .select(PendingRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn delete_pending(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(pending::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub claims: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_id: Option<String>,
    /// The resources (RFC 8707) the authorization request named, space-separated.
    pub resources: String,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// How the session's login was proven (RFC 8176, space-separated).
    pub amr: String,
}

pub fn insert_code(conn: &mut DbConnection, row: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_code(conn: &mut DbConnection, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    Ok(codes::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Spends a code, recording the refresh-token family it is exchanged for,
/// and stores that family's first token, in one transaction. True for
/// exactly one caller, however many race; the conditional UPDATE comes first
/// so SQLite takes its write lock at the start.
pub fn redeem(
    conn: &mut DbConnection,
    code_hash: &str,
    family_id: &str,
    first_refresh_token: Option<&RefreshTokenRow>,
    now: i64,
) -> Result<bool, StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        let n = diesel::update(
            codes::table
                .find(code_hash)
                .filter(codes::used_at.is_null()),
        )
        .set((codes::used_at.eq(now), codes::family_id.eq(family_id)))
        .execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        if let Some(row) = first_refresh_token {
            refresh_tokens::insert(conn, row)?;
        }
        Ok(true)
    })
}

/// Housekeeping: codes and pending requests past their expiry. Spent codes
/// are kept until then so a replay is still recognised.
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    let a = diesel::delete(codes::table.filter(codes::expires_at.le(now))).execute(conn)?;
    let b = diesel::delete(pending::table.filter(pending::expires_at.le(now))).execute(conn)?;
    Ok(a + b)
}

pub fn find_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .get_result(conn)
        .optional()?)
}

/// Remembers the scopes granted (replacing what was remembered before).
pub fn save_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        diesel::delete(consents::table.find((user_id, client_id))).execute(conn)?;
        diesel::insert_into(consents::table)
            .values((
                consents::user_id.eq(user_id),
                consents::client_id.eq(client_id),
                consents::scope.eq(scope),
                consents::granted_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// A remembered consent, as the account page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct ConsentRow {
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

/// Every consent a user gave, oldest first.
pub fn consents_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<ConsentRow>, StoreError> {
    Ok(consents::table
        .filter(consents::user_id.eq(user_id))
        .order(consents::granted_at.asc())
        .select((consents::client_id, consents::scope, consents::granted_at))
        .load(conn)?)
}

/// Forgets a consent; returns whether there was one.
pub fn delete_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(consents::table.find((user_id, client_id))).execute(conn)? == 1)
}
