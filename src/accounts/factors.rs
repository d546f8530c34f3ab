//! A person's second factors: TOTP (its secret sealed under the KEK),
//! passkeys (WebAuthn credentials) and recovery codes. Enrolment, checks
//! and removal; the login steps that use them are in `login.rs`.

use diesel::Connection;
use serde::Serialize;

use super::totp;
use crate::audit;
use crate::keys::{KeyError, KeyManager};
use crate::secrets;
use crate::store::second_factors::{self as rows, totp_seal_label, TotpRow};
use crate::store::{Db, DbConnection, StoreError};

/// How many recovery codes a person gets, and their size: 16 base32
/// characters are 80 random bits (the issue asks at least 64).
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_CODE_BYTES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("an authenticator app is already set up; remove it first")]
    AlreadyEnrolled,
    #[error("no authenticator app setup is in progress")]
    NoEnrolment,
    #[error("the code is not right")]
    WrongCode,
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a person has enrolled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Enrolled {
    pub totp: bool,
    pub passkeys: usize,
    pub recovery_codes_left: i64,
}

impl Enrolled {
    /// A second factor to ask for at login. Recovery codes stand in for a
    /// factor that is lost; alone they are not one.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

pub fn enrolled(conn: &mut DbConnection, user_id: &str) -> Result<Enrolled, StoreError> {
    let totp = rows::find_totp(conn, user_id)?.is_some_and(|t| t.confirmed_at.is_some());
    Ok(Enrolled {
        totp,
        passkeys: rows::passkeys_of(conn, user_id)?.len(),
        recovery_codes_left: rows::recovery_codes_left(conn, user_id)?,
    })
}

/// Whether a second factor is to be asked of this person (see [`Enrolled::any`]).
pub async fn has_factor(db: &Db, user_id: &str) -> Result<bool, StoreError> {
    let id = user_id.to_owned();
    db.run(move |conn| rows::has_factor(conn, &id)).await
}

pub async fn enrolled_async(db: &Db, user_id: &str) -> Result<Enrolled, StoreError> {
    let id = user_id.to_owned();
    db.run(move |conn| enrolled(conn, &id)).await
}

/// Every factor of a person, as the CLI, the admin API and the account
/// page show them: never a secret.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// When the authenticator app was set up; `None` without one.
    pub totp_since: Option<i64>,
    pub passkeys: Vec<PasskeySummary>,
    pub recovery_codes_left: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Backup eligible: a synced passkey.
    pub synced: bool,
}

pub fn listing(conn: &mut DbConnection, user_id: &str) -> Result<Listing, StoreError> {
    let totp_since = rows::find_totp(conn, user_id)?.and_then(|t| t.confirmed_at);
    let passkeys = rows::passkeys_of(conn, user_id)?
        .into_iter()
        .map(|p| PasskeySummary {
            id: p.credential_id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            synced: p.backup_eligible,
        })
        .collect();
    Ok(Listing {
        totp_since,
        passkeys,
        recovery_codes_left: rows::recovery_codes_left(conn, user_id)?,
    })
}

/// A TOTP enrolment in progress: what the account page shows.
pub struct TotpSetup {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    pub uri: String,
    /// The URI as an inline SVG QR code.
    pub qr_svg: Option<String>,
}

/// Starts (or restarts) a TOTP enrolment: a new secret, sealed and stored
/// unconfirmed until [`confirm_totp`] sees a right code.
pub async fn begin_totp(
    db: &Db,
    keys: &KeyManager,
    user_id: &str,
    account: &str,
    issuer_name: &str,
    now: i64,
) -> Result<TotpSetup, FactorError> {
    let secret = totp::new_secret();
    let row = TotpRow {
        user_id: user_id.to_owned(),
        sealed_secret: keys.seal_secret(&totp_seal_label(user_id), &secret)?,
        created_at: now,
        confirmed_at: None,
        last_step: 0,
    };
    if !db
        .write(move |conn| rows::put_unconfirmed_totp(conn, &row))
        .await?
    {
        return Err(FactorError::AlreadyEnrolled);
    }
    let uri = totp::otpauth_uri(issuer_name, account, &secret);
    Ok(TotpSetup {
        secret: totp::base32(&secret),
        qr_svg: totp::qr_svg(&uri),
        uri,
    })
}

/// The TOTP enrolment in progress, shown again (a reloaded page).
pub async fn pending_totp(
    db: &Db,
    keys: &KeyManager,
    user_id: &str,
    account: &str,
    issuer_name: &str,
) -> Result<Option<TotpSetup>, FactorError> {
    let id = user_id.to_owned();
    let Some(row) = db.run(move |conn| rows::find_totp(conn, &id)).await? else {
        return Ok(None);
    };
    if row.confirmed_at.is_some() {
        return Ok(None);
    }
    let secret = keys.unseal_secret(&totp_seal_label(user_id), &row.sealed_secret)?;
    let uri = totp::otpauth_uri(issuer_name, account, &secret);
    Ok(Some(TotpSetup {
        secret: totp::base32(&secret),
        qr_svg: totp::qr_svg(&uri),
        uri,
    }))
}

/// Completes a TOTP enrolment with a right code. The first factor a person
/// enrols comes with recovery codes, returned here to be shown once.
pub async fn confirm_totp(
    db: &Db,
    keys: &KeyManager,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<Vec<String>>, FactorError> {
    let id = user_id.to_owned();
    let row = db
        .run(move |conn| rows::find_totp(conn, &id))
        .await?
        .filter(|r| r.confirmed_at.is_none())
        .ok_or(FactorError::NoEnrolment)?;
    let secret = keys.unseal_secret(&totp_seal_label(user_id), &row.sealed_secret)?;
    let step = totp::verify(&secret, code, now, row.last_step).ok_or(FactorError::WrongCode)?;
    let id = user_id.to_owned();
    let fresh = new_recovery_codes();
    let hashes: Vec<String> = fresh.iter().map(|c| recovery_hash(c)).collect();
    let issued = db
        .write(move |conn| {
            if !rows::use_totp_step(conn, &id, step, Some(now))? {
                return Ok::<_, StoreError>(None);
            }
            audit::record_or_log(conn, now, &id, "mfa.enrolled", &id, "totp");
            let first = rows::recovery_codes_left(conn, &id)? == 0;
            if first {
                rows::replace_recovery_codes(conn, &id, &hashes, now)?;
            }
            Ok(Some(first))
        })
        .await?;
    match issued {
        None => Err(FactorError::WrongCode),
        Some(true) => Ok(Some(fresh)),
        Some(false) => Ok(None),
    }
}

/// Checks a TOTP code at login: right, within the skew, and of a step not
/// used before (the step is recorded, so a replay fails, at any replica).
pub async fn check_totp(
    db: &Db,
    keys: &KeyManager,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, FactorError> {
    let id = user_id.to_owned();
    let Some(row) = db
        .run(move |conn| rows::find_totp(conn, &id))
        .await?
        .filter(|r| r.confirmed_at.is_some())
    else {
        return Ok(false);
    };
    let secret = keys.unseal_secret(&totp_seal_label(user_id), &row.sealed_secret)?;
    let Some(step) = totp::verify(&secret, code, now, row.last_step) else {
        return Ok(false);
    };
    let id = user_id.to_owned();
    Ok(db
        .write(move |conn| rows::use_totp_step(conn, &id, step, None))
        .await?)
}

/// Ten new recovery codes, `xxxx-xxxx-xxxx-xxxx` in lowercase base32.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = secrets::random_bytes(RECOVERY_CODE_BYTES);
            let text = totp::base32(&raw).to_lowercase();
            text.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A code as typed, without dashes, spaces or case, hashed. 80 random bits
/// need no salt or slow hash: there is nothing to brute-force.
fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    secrets::sha256_hex(&format!("recovery:{normal}"))
}

/// Replaces a person's recovery codes; the old set stops working. Returns
/// the new codes, to be shown once.
pub async fn regenerate_recovery_codes(
    db: &Db,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let fresh = new_recovery_codes();
    let hashes: Vec<String> = fresh.iter().map(|c| recovery_hash(c)).collect();
    let (id, actor) = (user_id.to_owned(), actor.to_owned());
    db.write(move |conn| {
        rows::replace_recovery_codes(conn, &id, &hashes, now)?;
        audit::record_or_log(conn, now, &actor, "mfa.recovery_codes_regenerated", &id, "");
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(fresh)
}

/// Spends a recovery code: how many remain, or `None` when it is not one
/// of this person's unused codes. Audited.
pub async fn use_recovery_code(
    db: &Db,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let (id, hash) = (user_id.to_owned(), recovery_hash(code));
    db.write(move |conn| {
        let left = rows::use_recovery_code(conn, &id, &hash, now)?;
        if let Some(left) = left {
            let detail = format!("{left} left");
            audit::record_or_log(conn, now, &id, "mfa.recovery_code_used", &id, &detail);
        }
        Ok(left)
    })
    .await
}

/// Removes the TOTP factor. Audited as `actor`.
pub async fn remove_totp(
    db: &Db,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (id, actor) = (user_id.to_owned(), actor.to_owned());
    db.write(move |conn| {
        let removed = rows::delete_totp(conn, &id)?;
        if removed {
            audit::record_or_log(conn, now, &actor, "mfa.removed", &id, "totp");
        }
        Ok(removed)
    })
    .await
}

/// A factor a person removes on their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Factor {
    Totp,
    /// A passkey, by its credential id.
    Passkey(String),
}

/// How a removal on the account page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// The person has no such factor.
    NotFound,
    /// It is their last factor and a factor is required: nothing changed.
    LastFactor,
}

/// Removes one of a person's factors, unless `keep_one` (a policy needs a
/// factor) and it is their last; the check and the removal are one
/// transaction. Audited `mfa.removed` as `actor`.
pub async fn remove_factor(
    db: &Db,
    user_id: &str,
    factor: Factor,
    keep_one: bool,
    actor: &str,
    now: i64,
) -> Result<Removal, StoreError> {
    let (id, actor) = (user_id.to_owned(), actor.to_owned());
    db.write(move |conn| {
        conn.transaction::<_, StoreError, _>(|conn| {
            let before = enrolled(conn, &id)?;
            let (has, detail) = match &factor {
                Factor::Totp => (before.totp, "totp".to_owned()),
                Factor::Passkey(cred) => (
                    rows::passkeys_of(conn, &id)?
                        .iter()
                        .any(|p| &p.credential_id == cred),
                    format!("passkey {cred}"),
                ),
            };
            if !has {
                return Ok(Removal::NotFound);
            }
            let left = usize::from(before.totp) + before.passkeys - 1;
            if keep_one && left == 0 {
                return Ok(Removal::LastFactor);
            }
            let removed = match &factor {
                Factor::Totp => rows::delete_totp(conn, &id)?,
                Factor::Passkey(cred) => rows::delete_passkey(conn, &id, cred)?,
            };
            if !removed {
                return Ok(Removal::NotFound);
            }
            audit::record_or_log(conn, now, &actor, "mfa.removed", &id, &detail);
            Ok(Removal::Removed)
        })
    })
    .await
}

/// Renames one of a person's passkeys; false when it is not theirs.
pub async fn rename_passkey(
    db: &Db,
    user_id: &str,
    credential_id: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let (id, cred, name) = (
        user_id.to_owned(),
        credential_id.to_owned(),
        name.to_owned(),
    );
    db.write(move |conn| rows::rename_passkey(conn, &id, &cred, &name))
        .await
}

/// Removes every factor and recovery code of a person (an operator's
/// reset, for someone who lost them all). Returns what there was.
pub fn reset(
    conn: &mut DbConnection,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<Enrolled, StoreError> {
    conn.transaction::<_, StoreError, _>(|conn| {
        let before = enrolled(conn, user_id)?;
        rows::delete_totp(conn, user_id)?;
        rows::delete_passkeys(conn, user_id)?;
        rows::delete_recovery_codes(conn, user_id)?;
        audit::record_or_log(conn, now, actor, "mfa.reset", user_id, "");
        Ok(before)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_long_distinct_and_forgiving_to_type() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3);
            let typed = code.replace('-', " ").to_uppercase();
            assert_eq!(recovery_hash(&typed), recovery_hash(code));
        }
        assert_ne!(recovery_hash(&codes[0]), recovery_hash(&codes[1]));
    }
}
