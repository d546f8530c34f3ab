//! The request parked while a login or consent page is open, bound to the
//! browser that started it, and the single-use code issued at the end.

use super::AuthorizeRequest;
use crate::accounts::sessions::LiveSession;
use crate::secrets;
use crate::store::authorization::{self as rows, CodeRow, PendingRow};
use crate::store::{DbConnection, StoreError};

/// How long a login or consent page may stay open.
pub const PENDING_TTL: i64 = 600;

/// Stores a request that waits for a login or consent; returns its id and
/// CSRF token. `browser` is the value of the flow cookie it is bound to.
pub fn save_pending(
    conn: &mut DbConnection,
    request: &AuthorizeRequest,
    browser: &str,
    now: i64,
) -> Result<PendingRow, StoreError> {
    let params = serde_json::to_string(request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = PendingRow {
        id: secrets::random_token(24),
        params,
        csrf_token: secrets::random_token(24),
        browser_hash: secrets::sha256_hex(browser),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    rows::insert_pending(conn, &row)?;
    Ok(row)
}

/// A pending request, if it is alive and bound to `browser`.
pub fn load_pending(
    conn: &mut DbConnection,
    id: &str,
    browser: Option<&str>,
    now: i64,
) -> Result<Option<(AuthorizeRequest, PendingRow)>, StoreError> {
    let Some(row) = rows::find_pending(conn, id, now)? else {
        return Ok(None);
    };
    let bound = browser
        .is_some_and(|b| secrets::constant_time_eq(&secrets::sha256_hex(b), &row.browser_hash));
    if !bound {
        return Ok(None);
    }
    let request: AuthorizeRequest = serde_json::from_str(&row.params)
        .map_err(|e| StoreError::Corrupt(format!("pending request: {e}")))?;
    Ok(Some((request, row)))
}

/// Issues a single-use code (256 random bits; only its hash is stored) bound
/// to the client, redirect URI, PKCE challenge, nonce, scope and session.
pub fn issue_code(
    conn: &mut DbConnection,
    request: &AuthorizeRequest,
    session: &LiveSession,
    now: i64,
    ttl: i64,
) -> Result<String, StoreError> {
    let code = secrets::random_token(32);
    let claims = match &request.claims {
        Some(c) => Some(serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    rows::insert_code(
        conn,
        &CodeRow {
            code_hash: secrets::sha256_hex(&code),
            client_id: request.client_id.clone(),
            user_id: session.user.id.clone(),
            session_id: session.id_hash.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            claims,
            auth_time: session.auth_time,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            family_id: None,
            resources: request.resources.join(" "),
            dpop_jkt: request.dpop_jkt.clone(),
            amr: session.amr.to_string(),
        },
    )?;
    Ok(code)
}
