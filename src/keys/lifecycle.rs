//! The key lifecycle on the database, shared by the CLI, the admin API and
//! the scheduler: `next` (published, not signing) → `active` (signing) →
//! `retired` (published until its tokens expire) → gone; `revoked` at once.
//!
//! Every step is a conditional write or a transaction guarded by the unique
//! indexes "one active key per algorithm" and "one next key per algorithm",
//! so replicas racing through the same step leave one consistent key set,
//! and a process killed mid-step leaves the set as before the step.

use serde::Serialize;

use super::material::{self, GeneratedKey, SigningAlg};
use super::{KeyError, Keyring};
use crate::audit;
use crate::store::keys::{self as rows, SigningKeyRow};
use crate::store::{self, DbConnection, StoreError};

/// When scheduled rotation happens.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How long a key signs before its successor takes over (0: never).
    pub period: i64,
    /// How long the successor is published before it signs: at least one
    /// JWKS cache lifetime plus the replicas' reload interval, so that no
    /// relying party meets a `kid` its cached JWKS lacks.
    pub prepublish: i64,
    /// How long a retired key stays published.
    pub grace: i64,
}

fn sealed_row(
    keyring: &Keyring,
    key: GeneratedKey,
    state: &str,
    now: i64,
) -> Result<SigningKeyRow, KeyError> {
    let sealed = keyring.seal(&key.kid, &key.private_der)?;
    Ok(SigningKeyRow {
        kid: key.kid,
        alg: key.alg.as_str().to_owned(),
        state: state.to_owned(),
        public_jwk: key.public_jwk,
        sealed_private: sealed,
        created_at: now,
        activated_at: (state == rows::STATE_ACTIVE).then_some(now),
        retired_at: None,
        publish_until: None,
    })
}

/// Creates a new active key for `alg` now, retiring the current one, which
/// stays published for `grace` seconds. For an operator's rotation: relying
/// parties meet the new `kid` before their cached JWKS has it, and refetch.
pub fn rotate(
    conn: &mut DbConnection,
    keyring: &Keyring,
    alg: SigningAlg,
    grace: i64,
    actor: &str,
) -> Result<String, KeyError> {
    // Generated before the transaction: RSA generation must not hold the
    // database's write lock.
    let key = material::generate(alg)?;
    let now = store::now();
    let row = sealed_row(keyring, key, rows::STATE_ACTIVE, now)?;
    let retired = rows::activate(conn, &row, now + grace)?;
    for kid in &retired {
        audit::record_or_log(conn, actor, "key.retired", kid, alg.as_str());
    }
    audit::record_or_log(conn, actor, "key.activated", &row.kid, alg.as_str());
    tracing::info!(kid = %row.kid, alg = %alg, "signing key activated");
    Ok(row.kid)
}

/// Makes sure `alg` has an active key; returns the kid it generated, if any.
pub fn ensure_active(
    conn: &mut DbConnection,
    keyring: &Keyring,
    alg: SigningAlg,
    actor: &str,
) -> Result<Option<String>, KeyError> {
    let has_active = rows::list(conn)?
        .iter()
        .any(|k| k.alg == alg.as_str() && k.state == rows::STATE_ACTIVE);
    if has_active {
        return Ok(None);
    }
    match rotate(conn, keyring, alg, 0, actor) {
        Ok(kid) => Ok(Some(kid)),
        // Another process created one at the same moment: the unique index
        // kept the set consistent, and theirs is as good as ours.
        Err(KeyError::Store(StoreError::Conflict(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    pub kid: String,
    pub alg: String,
    /// The key made active in place of the revoked one, if it was signing.
    pub replaced_by: Option<String>,
}

/// Removes a key from the JWKS at once. If it was the active key of its
/// algorithm, a new one takes its place so signing never stops.
pub fn revoke(
    conn: &mut DbConnection,
    keyring: &Keyring,
    kid: &str,
    actor: &str,
) -> Result<Revoked, KeyError> {
    let row = rows::find(conn, kid)?.ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
    if !rows::revoke(conn, kid, store::now())? {
        return Err(KeyError::UnknownKid(format!("{kid} (already revoked)")));
    }
    audit::record_or_log(conn, actor, "key.revoked", kid, &row.alg);
    tracing::warn!(kid, alg = %row.alg, "signing key revoked");
    let replaced_by = if row.state == rows::STATE_ACTIVE {
        let alg: SigningAlg = row.alg.parse().map_err(KeyError::Generate)?;
        ensure_active(conn, keyring, alg, actor)?
    } else {
        None
    };
    Ok(Revoked {
        kid: kid.to_owned(),
        alg: row.alg,
        replaced_by,
    })
}

/// One step of scheduled rotation for `alg`, run by every replica on every
/// tick; at most one of them changes anything. Returns what it did.
pub fn scheduled_step(
    conn: &mut DbConnection,
    keyring: &Keyring,
    alg: SigningAlg,
    schedule: Schedule,
    now: i64,
) -> Result<Option<&'static str>, KeyError> {
    let keys: Vec<SigningKeyRow> = rows::list(conn)?
        .into_iter()
        .filter(|k| k.alg == alg.as_str())
        .collect();
    let active = keys.iter().find(|k| k.state == rows::STATE_ACTIVE);
    let next = keys.iter().find(|k| k.state == rows::STATE_NEXT);
    let Some(active) = active else {
        // No signing key at all (first start, or all revoked): one now.
        return Ok(ensure_active(conn, keyring, alg, "scheduler")?.map(|_| "activated"));
    };
    if schedule.period <= 0 {
        return Ok(None);
    }
    let age = now - active.activated_at.unwrap_or(active.created_at);
    match next {
        None if age >= schedule.period - schedule.prepublish => {
            let key = material::generate(alg)?;
            let row = sealed_row(keyring, key, rows::STATE_NEXT, store::now())?;
            match rows::insert(conn, &row) {
                Ok(()) => {
                    audit::record_or_log(conn, "scheduler", "key.created", &row.kid, alg.as_str());
                    tracing::info!(kid = %row.kid, alg = %alg, "next signing key published");
                    Ok(Some("published"))
                }
                // Another replica published one first.
                Err(StoreError::Conflict(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        Some(next) if age >= schedule.period && now - next.created_at >= schedule.prepublish => {
            if rows::promote(conn, &active.kid, &next.kid, now, now + schedule.grace)? {
                audit::record_or_log(conn, "scheduler", "key.retired", &active.kid, alg.as_str());
                audit::record_or_log(conn, "scheduler", "key.activated", &next.kid, alg.as_str());
                tracing::info!(kid = %next.kid, retired = %active.kid, alg = %alg, "signing key rotated");
                Ok(Some("rotated"))
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

/// Re-seals every private key under `new`, in one transaction; no `kid`
/// changes. Keys are unsealed with whichever KEK of `old` sealed them.
pub fn rewrap(conn: &mut DbConnection, old: &Keyring, new: &Keyring) -> Result<usize, KeyError> {
    let keys = rows::list(conn)?;
    let mut resealed = Vec::with_capacity(keys.len());
    for key in keys.iter().filter(|k| k.state != rows::STATE_REVOKED) {
        let der = old.unseal(&key.kid, &key.sealed_private)?;
        resealed.push((key.kid.clone(), new.seal(&key.kid, &der)?));
    }
    rows::replace_sealed(conn, &resealed)?;
    audit::record_or_log(
        conn,
        "cli",
        "kek.rewrapped",
        &format!("{} keys", resealed.len()),
        "",
    );
    Ok(resealed.len())
}

/// Whether relying parties see this key in the JWKS now.
pub fn is_published(k: &SigningKeyRow, now: i64) -> bool {
    match k.state.as_str() {
        rows::STATE_NEXT | rows::STATE_ACTIVE => true,
        rows::STATE_RETIRED => k.publish_until.is_some_and(|t| t > now),
        _ => false,
    }
}

/// A key as the CLI and the admin API show it: never the private part.
pub fn key_summary(k: &SigningKeyRow, now: i64) -> serde_json::Value {
    serde_json::json!({"kid": k.kid, "alg": k.alg, "state": k.state, "published": is_published(k, now),
                       "created_at": k.created_at, "activated_at": k.activated_at,
                       "retired_at": k.retired_at, "publish_until": k.publish_until})
}
