//! SSO sessions: one login serves every client until it expires or the user
//! logs out. The browser holds a random id; the database only its SHA-256.
//! Every way a session ends goes through [`end_session`], which tells the
//! `SessionEnded` event once the end is committed.

use super::amr::Amr;
use crate::events::{Event, Events, SessionEndReason};
use crate::secrets;
use crate::store::sessions::{self as rows, SessionRow};
use crate::store::users::{self, UserRow};
use crate::store::{refresh_tokens, Db, DbConnection, StoreError};

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id_hash: String,
    pub user: UserRow,
    pub auth_time: i64,
    /// How its login was proven.
    pub amr: Amr,
}

/// A browser's sign-in, as a session records it.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub user_id: String,
    pub amr: Amr,
    /// The browser's address and user agent, for the account page.
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A session that was live until now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id_hash: String,
    pub user_id: String,
    /// Refresh tokens born in it, revoked with it.
    pub revoked: usize,
}

/// Starts a session; returns the cookie value.
pub fn create(
    conn: &mut DbConnection,
    sign_in: &SignIn,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let value = secrets::random_token(32);
    rows::insert(
        conn,
        &SessionRow {
            id_hash: secrets::sha256_hex(&value),
            user_id: sign_in.user_id.clone(),
            auth_time: now,
            created_at: now,
            expires_at: now + ttl,
            ended_at: None,
            amr: sign_in.amr.to_string(),
            last_seen_at: Some(now),
            address: sign_in.address.clone(),
            user_agent: sign_in.user_agent.as_deref().map(truncate_agent),
        },
    )?;
    Ok(value)
}

/// User agents can be long; the account page needs a line of one.
fn truncate_agent(agent: &str) -> String {
    agent.chars().take(200).collect()
}

/// A step-up: the live session `id_hash` of `user_id` is now proven by
/// `amr`, as of `now` (its new `auth_time`). False when it is no longer live.
pub fn raise(
    conn: &mut DbConnection,
    id_hash: &str,
    user_id: &str,
    amr: &Amr,
    now: i64,
) -> Result<bool, StoreError> {
    rows::raise(conn, id_hash, user_id, &amr.to_string(), now)
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
            amr: Amr::from_stored(&row.amr),
        })),
        _ => Ok(None),
    }
}

/// Ends a session and revokes the refresh tokens born in it. `None` when
/// it was not live (already ended, expired or unknown).
pub fn end(conn: &mut DbConnection, id_hash: &str, now: i64) -> Result<Option<Ended>, StoreError> {
    let live = rows::find_live(conn, id_hash, now)?;
    let ended = rows::end(conn, id_hash, now)?;
    let revoked = refresh_tokens::revoke_for_session(conn, id_hash, now)?;
    Ok(live.filter(|_| ended).map(|row| Ended {
        id_hash: row.id_hash,
        user_id: row.user_id,
        revoked,
    }))
}

/// Ends a session from async code and tells who listens.
pub async fn end_session(
    db: &Db,
    events: &Events,
    id_hash: String,
    now: i64,
    reason: SessionEndReason,
) -> Result<Option<Ended>, StoreError> {
    let ended = db.write(move |conn| end(conn, &id_hash, now)).await?;
    if let Some(e) = &ended {
        announce(events, e, reason);
    }
    Ok(ended)
}

/// Starts a session in a browser, ending the one it had (`previous`: that
/// session's cookie value), so a login never inherits a session it did not
/// make (no fixation). Returns the new cookie value.
pub async fn start(
    db: &Db,
    events: &Events,
    sign_in: SignIn,
    previous: Option<String>,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let previous = previous.as_deref().map(secrets::sha256_hex);
    start_replacing(db, events, sign_in, previous, now, ttl).await
}

/// [`start`], with the previous session named by its hash (a login that
/// waited for its second factor kept only that).
pub async fn start_replacing(
    db: &Db,
    events: &Events,
    sign_in: SignIn,
    previous_hash: Option<String>,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let (value, replaced) = db
        .write(move |conn| {
            let replaced = match previous_hash {
                Some(hash) => end(conn, &hash, now)?,
                None => None,
            };
            Ok::<_, StoreError>((create(conn, &sign_in, now, ttl)?, replaced))
        })
        .await?;
    if let Some(e) = &replaced {
        announce(events, e, SessionEndReason::Replaced);
    }
    Ok(value)
}

fn announce(events: &Events, ended: &Ended, reason: SessionEndReason) {
    events.emit(Event::SessionEnded {
        session: ended.id_hash.clone(),
        user_id: ended.user_id.clone(),
        reason,
    });
}
