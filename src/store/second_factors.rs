//! Second factors: `totp_factors` (one per user, its secret sealed by the
//! caller), `recovery_codes` (hashes, single use) and `passkeys` (WebAuthn
//! credentials).

use diesel::prelude::*;

use super::schema::{passkeys, recovery_codes, totp_factors};
use super::{DbConnection, StoreError};

/// The associated data a TOTP secret is sealed with: a sealed secret
/// cannot be moved to another user's row.
pub fn totp_seal_label(user_id: &str) -> String {
    format!("totp:{user_id}")
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_factors)]
pub struct TotpRow {
    pub user_id: String,
    pub sealed_secret: Vec<u8>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

/// Starts (or restarts) an enrolment: an unconfirmed secret replaces any
/// earlier unconfirmed one; a confirmed factor is never replaced here.
/// Returns whether the secret was stored.
pub fn put_unconfirmed_totp(conn: &mut DbConnection, row: &TotpRow) -> Result<bool, StoreError> {
    diesel::delete(
        totp_factors::table
            .find(&row.user_id)
            .filter(totp_factors::confirmed_at.is_null()),
    )
    .execute(conn)?;
    if find_totp(conn, &row.user_id)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(totp_factors::table)
        .values(row)
        .execute(conn)
        .map_err(|e| StoreError::conflict_on_unique(e, "second factor"))?;
    Ok(true)
}

pub fn find_totp(conn: &mut DbConnection, user_id: &str) -> Result<Option<TotpRow>, StoreError> {
    Ok(totp_factors::table
        .find(user_id)
        .select(TotpRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Records `step` as used, only if it is later than the last one: of two
/// requests with the same code (two replicas), one wins. `confirm` also
/// marks an enrolment complete.
pub fn use_totp_step(
    conn: &mut DbConnection,
    user_id: &str,
    step: i64,
    confirm_at: Option<i64>,
) -> Result<bool, StoreError> {
    let target = totp_factors::table
        .find(user_id)
        .filter(totp_factors::last_step.lt(step));
    let n = match confirm_at {
        Some(at) => diesel::update(target)
            .set((
                totp_factors::last_step.eq(step),
                totp_factors::confirmed_at.eq(at),
            ))
            .execute(conn)?,
        None => diesel::update(target.filter(totp_factors::confirmed_at.is_not_null()))
            .set(totp_factors::last_step.eq(step))
            .execute(conn)?,
    };
    Ok(n == 1)
}

pub fn delete_totp(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(totp_factors::table.find(user_id)).execute(conn)? == 1)
}

/// Whether the user has a second factor (a confirmed TOTP or a passkey):
/// one query, for every password login and password grant.
pub fn has_factor(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    let totp = diesel::select(diesel::dsl::exists(
        totp_factors::table
            .filter(totp_factors::user_id.eq(user_id))
            .filter(totp_factors::confirmed_at.is_not_null()),
    ));
    let passkey = diesel::select(diesel::dsl::exists(
        passkeys::table.filter(passkeys::user_id.eq(user_id)),
    ));
    Ok(totp.get_result::<bool>(conn)? || passkey.get_result::<bool>(conn)?)
}

/// Every sealed secret, for `keys rewrap`.
pub fn all_totp(conn: &mut DbConnection) -> Result<Vec<TotpRow>, StoreError> {
    Ok(totp_factors::table
        .select(TotpRow::as_select())
        .load(conn)?)
}

pub fn replace_totp_secret(
    conn: &mut DbConnection,
    user_id: &str,
    sealed: &[u8],
) -> Result<(), StoreError> {
    diesel::update(totp_factors::table.find(user_id))
        .set(totp_factors::sealed_secret.eq(sealed))
        .execute(conn)?;
    Ok(())
}

/// Replaces a user's recovery codes with new ones (their hashes).
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(hash),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends a recovery code of `user_id`; returns how many remain unused, or
/// `None` when the code is not one of theirs or was used already.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    user_id: &str,
    code_hash: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let n = diesel::update(
        recovery_codes::table
            .find(code_hash)
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    if n != 1 {
        return Ok(None);
    }
    Ok(Some(recovery_codes_left(conn, user_id)?))
}

pub fn recovery_codes_left(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

pub fn delete_recovery_codes(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    /// base64url of the credential id.
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    /// What the WebAuthn library needs to verify an assertion later.
    pub public_key: Vec<u8>,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub fn insert_passkey(conn: &mut DbConnection, row: &PasskeyRow) -> Result<(), StoreError> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "passkey"))
}

pub fn passkeys_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

pub fn find_passkey(
    conn: &mut DbConnection,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .find(credential_id)
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Records a use: the new counter only if it moved forward (or both are
/// zero: authenticators without counters), so two replicas finishing the
/// same assertion cannot both succeed with a stale count.
pub fn record_passkey_use(
    conn: &mut DbConnection,
    credential_id: &str,
    previous_count: i64,
    new_count: i64,
    backup_state: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::sign_count.eq(previous_count)),
    )
    .set((
        passkeys::sign_count.eq(new_count),
        passkeys::backup_state.eq(backup_state),
        passkeys::last_used_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn rename_passkey(
    conn: &mut DbConnection,
    user_id: &str,
    credential_id: &str,
    name: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)?
        == 1)
}

pub fn delete_passkey(
    conn: &mut DbConnection,
    user_id: &str,
    credential_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .execute(conn)?
        == 1)
}

pub fn delete_passkeys(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?)
}
