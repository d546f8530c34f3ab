//! SSO sessions: one login serves every client until it expires or the user
//! logs out. The browser holds a random id; the database only its SHA-256.

use crate::secrets;
use crate::store::sessions::{self as rows, SessionRow};
use crate::store::users::{self, UserRow};
use crate::store::{refresh_tokens, DbConnection, StoreError};

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id_hash: String,
    pub user: UserRow,
    pub auth_time: i64,
}

/// Starts a session for `user_id`; returns the cookie value.
pub fn create(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let value = secrets::random_token(32);
    rows::insert(
        conn,
        &SessionRow {
            id_hash: secrets::sha256_hex(&value),
            user_id: user_id.to_owned(),
            auth_time: now,
            created_at: now,
            expires_at: now + ttl,
            ended_at: None,
        },
    )?;
    Ok(value)
}

/// The live session a cookie value names, if its user is still enabled.
pub fn find(
    conn: &mut DbConnection,
    cookie_value: &str,
    now: i64,
) -> Result<Option<LiveSession>, StoreError> {
    let id_hash = secrets::sha256_hex(cookie_value);
    let Some(row) = rows::find_live(conn, &id_hash, now)? else {
        return Ok(None);
    };
    match users::find_by_id(conn, &row.user_id)? {
        Some(user) if !user.disabled => Ok(Some(LiveSession {
            id_hash,
            user,
            auth_time: row.auth_time,
        })),
        _ => Ok(None),
    }
}

/// Ends a session and revokes the refresh tokens born in it. Returns how
/// many tokens were revoked.
pub fn end(conn: &mut DbConnection, id_hash: &str, now: i64) -> Result<usize, StoreError> {
    rows::end(conn, id_hash, now)?;
    refresh_tokens::revoke_for_session(conn, id_hash, now)
}
