//! Initial access tokens (RFC 7591 §3): minted by an operator (the CLI or
//! the admin API), shown once, stored as a SHA-256 hash, optionally
//! expiring and optionally good for a number of registrations.

use serde::Serialize;

use crate::audit;
use crate::oauth::clients::RegistrationError;
use crate::secrets;
use crate::store::registration_tokens::{self as rows, RegistrationTokenRow};
use crate::store::{DbConnection, StoreError};

/// A token just minted: the only moment its value is known.
#[derive(Debug, Serialize)]
pub struct Minted {
    pub id: String,
    pub token: String,
    pub expires_at: Option<i64>,
    pub uses: Option<i64>,
}

/// Mints a token valid for `expires_in` seconds (`None`: until deleted)
/// and `uses` registrations (`None`: any number), recording
/// `registration_token.created` by `actor`.
pub fn create(
    conn: &mut DbConnection,
    expires_in: Option<i64>,
    uses: Option<i64>,
    actor: &str,
    now: i64,
) -> Result<Minted, RegistrationError> {
    if expires_in.is_some_and(|s| s <= 0) {
        return Err(RegistrationError::Invalid(
            "an initial access token must live at least one second".into(),
        ));
    }
    if uses.is_some_and(|n| n <= 0) {
        return Err(RegistrationError::Invalid(
            "an initial access token needs at least one use".into(),
        ));
    }
    let token = secrets::random_token(32);
    let row = RegistrationTokenRow {
        id: secrets::random_hex(8),
        token_hash: secrets::sha256_hex(&token),
        created_by: actor.to_owned(),
        created_at: now,
        expires_at: expires_in.map(|s| now.saturating_add(s)),
        uses_left: uses,
    };
    rows::insert(conn, &row)?;
    let detail = format!(
        "expires_at={} uses={}",
        row.expires_at.map_or("never".into(), |t| t.to_string()),
        uses.map_or("unlimited".into(), |n| n.to_string())
    );
    audit::record_or_log(
        conn,
        now,
        actor,
        "registration_token.created",
        &row.id,
        &detail,
    );
    Ok(Minted {
        id: row.id,
        token,
        expires_at: row.expires_at,
        uses,
    })
}

/// Spends one use of `token` if it is valid at `now`; its id, or `None`
/// for a token that is unknown, expired or used up.
pub(super) fn spend(
    conn: &mut DbConnection,
    token: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    rows::spend(conn, &secrets::sha256_hex(token), now)
}
