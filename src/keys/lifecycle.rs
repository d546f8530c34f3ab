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
use crate::store::keys::{self as rows, KeyState, SigningKeyRow};
use crate::store::{second_factors, DbConnection, StoreError};
use diesel::Connection;

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
    state: KeyState,
    now: i64,
) -> Result<SigningKeyRow, KeyError> {
    let sealed = keyring.seal(&key.kid, &key.private_der)?;
    Ok(SigningKeyRow {
        kid: key.kid,
        alg: key.alg,
        state,
        public_jwk: key.public_jwk,
        sealed_private: sealed,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        publish_until: None,
    })
}

/// The key a step uses when it needs a new one: `spare`, made beforehand off
/// the write path (the server makes it on a blocking thread, because RSA
/// generation takes up to a second and SQLite's writer thread would hold
/// every queued write meanwhile), or one made here (the CLI, or a spare for
/// the wrong algorithm).
fn fresh_key(alg: SigningAlg, spare: &mut Option<GeneratedKey>) -> Result<GeneratedKey, KeyError> {
    match spare.take() {
        Some(key) if key.alg == alg => Ok(key),
        _ => material::generate(alg),
    }
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
    now: i64,
    spare: &mut Option<GeneratedKey>,
) -> Result<String, KeyError> {
    // Generated before the transaction: RSA generation must not hold the
    // database's write lock.
    let key = fresh_key(alg, spare)?;
    let row = sealed_row(keyring, key, KeyState::Active, now)?;
    let retired = rows::activate(conn, &row, now + grace)?;
    for kid in &retired {
        audit::record_or_log(conn, now, actor, "key.retired", kid, alg.as_str());
    }
    audit::record_or_log(conn, now, actor, "key.activated", &row.kid, alg.as_str());
    tracing::info!(kid = %row.kid, alg = %alg, "signing key activated");
    Ok(row.kid)
}

/// The key that signs for `alg` among `keys`, if any.
pub fn active_key(keys: &[SigningKeyRow], alg: SigningAlg) -> Option<&SigningKeyRow> {
    key_in_state(keys, alg, KeyState::Active)
}

/// The key of `alg` in `state` (at most one: unique indexes say so for
/// `active` and `next`).
fn key_in_state(
    keys: &[SigningKeyRow],
    alg: SigningAlg,
    state: KeyState,
) -> Option<&SigningKeyRow> {
    keys.iter().find(|k| k.alg == alg && k.state == state)
}

/// Makes sure `alg` has an active key; returns the kid it generated, if any.
pub fn ensure_active(
    conn: &mut DbConnection,
    keyring: &Keyring,
    alg: SigningAlg,
    actor: &str,
    now: i64,
    spare: &mut Option<GeneratedKey>,
) -> Result<Option<String>, KeyError> {
    if active_key(&rows::list(conn)?, alg).is_some() {
        return Ok(None);
    }
    match rotate(conn, keyring, alg, 0, actor, now, spare) {
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
    pub alg: &'static str,
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
    now: i64,
    spare: &mut Option<GeneratedKey>,
) -> Result<Revoked, KeyError> {
    let row = rows::find(conn, kid)?.ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
    if !rows::revoke(conn, kid, now)? {
        return Err(KeyError::UnknownKid(format!("{kid} (already revoked)")));
    }
    audit::record_or_log(conn, now, actor, "key.revoked", kid, row.alg.as_str());
    tracing::warn!(kid, alg = %row.alg, "signing key revoked");
    let replaced_by = if row.state == KeyState::Active {
        ensure_active(conn, keyring, row.alg, actor, now, spare)?
    } else {
        None
    };
    Ok(Revoked {
        kid: kid.to_owned(),
        alg: row.alg.as_str(),
        replaced_by,
    })
}

/// What the schedule asks of `alg`'s keys at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No signing key at all (first start, or all revoked): one now.
    Activate,
    /// The active key is near the end of its period: publish its successor.
    PublishNext,
    /// The active key's period is over and its successor has been published
    /// long enough: swap them.
    Promote {
        active: String,
        next: String,
    },
    Nothing,
}

impl Step {
    /// Whether the step makes a key pair.
    pub fn needs_key(&self) -> bool {
        matches!(self, Step::Activate | Step::PublishNext)
    }
}

/// Decides the scheduled step for `alg` from every stored key.
pub fn plan(keys: &[SigningKeyRow], alg: SigningAlg, schedule: Schedule, now: i64) -> Step {
    let Some(active) = active_key(keys, alg) else {
        return Step::Activate;
    };
    if schedule.period <= 0 {
        return Step::Nothing;
    }
    let age = now - active.activated_at.unwrap_or(active.created_at);
    match key_in_state(keys, alg, KeyState::Next) {
        None if age >= schedule.period - schedule.prepublish => Step::PublishNext,
        // Timestamps are whole seconds: a difference of n may be n − 1 s and
        // a bit, so the successor waits for a difference above `prepublish`.
        Some(next) if age >= schedule.period && now - next.created_at > schedule.prepublish => {
            Step::Promote {
                active: active.kid.clone(),
                next: next.kid.clone(),
            }
        }
        _ => Step::Nothing,
    }
}

/// One step of scheduled rotation for `alg`, run by every replica on every
/// tick; at most one of them changes anything. Returns what it did.
pub fn scheduled_step(
    conn: &mut DbConnection,
    keyring: &Keyring,
    alg: SigningAlg,
    schedule: Schedule,
    now: i64,
    spare: &mut Option<GeneratedKey>,
) -> Result<Option<&'static str>, KeyError> {
    let keys = rows::list(conn)?;
    match plan(&keys, alg, schedule, now) {
        Step::Activate => {
            Ok(ensure_active(conn, keyring, alg, "scheduler", now, spare)?.map(|_| "activated"))
        }
        Step::PublishNext => {
            let key = fresh_key(alg, spare)?;
            let row = sealed_row(keyring, key, KeyState::Next, now)?;
            match rows::insert(conn, &row) {
                Ok(()) => {
                    let (kid, alg_name) = (&row.kid, alg.as_str());
                    audit::record_or_log(conn, now, "scheduler", "key.created", kid, alg_name);
                    tracing::info!(kid = %row.kid, alg = %alg, "next signing key published");
                    Ok(Some("published"))
                }
                // Another replica published one first.
                Err(StoreError::Conflict(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        Step::Promote { active, next } => {
            if rows::promote(conn, &active, &next, now, now + schedule.grace)? {
                let alg_name = alg.as_str();
                audit::record_or_log(conn, now, "scheduler", "key.retired", &active, alg_name);
                audit::record_or_log(conn, now, "scheduler", "key.activated", &next, alg_name);
                tracing::info!(kid = %next, retired = %active, alg = %alg, "signing key rotated");
                Ok(Some("rotated"))
            } else {
                Ok(None)
            }
        }
        Step::Nothing => Ok(None),
    }
}

/// Re-seals every private key and every TOTP secret under `new`, in one
/// transaction; no `kid` changes. Each is unsealed with whichever KEK of
/// `old` sealed it.
pub fn rewrap(
    conn: &mut DbConnection,
    old: &Keyring,
    new: &Keyring,
    actor: &str,
    now: i64,
) -> Result<usize, KeyError> {
    let keys = rows::list(conn)?;
    let mut resealed = Vec::with_capacity(keys.len());
    for key in keys.iter().filter(|k| k.state != KeyState::Revoked) {
        let der = old.unseal(&key.kid, &key.sealed_private)?;
        resealed.push((key.kid.clone(), new.seal(&key.kid, &der)?));
    }
    let mut secrets = Vec::new();
    for factor in second_factors::all_totp(conn)? {
        let label = second_factors::totp_seal_label(&factor.user_id);
        let secret = old.unseal(&label, &factor.sealed_secret)?;
        secrets.push((factor.user_id, new.seal(&label, &secret)?));
    }
    conn.transaction::<_, StoreError, _>(|conn| {
        rows::replace_sealed(conn, &resealed)?;
        for (user_id, sealed) in &secrets {
            second_factors::replace_totp_secret(conn, user_id, sealed)?;
        }
        Ok(())
    })?;
    audit::record_or_log(
        conn,
        now,
        actor,
        "kek.rewrapped",
        &format!("{} keys, {} TOTP secrets", resealed.len(), secrets.len()),
        "",
    );
    Ok(resealed.len())
}

/// Whether relying parties see this key in the JWKS now.
pub fn is_published(k: &SigningKeyRow, now: i64) -> bool {
    match k.state {
        KeyState::Next | KeyState::Active => true,
        KeyState::Retired => k.publish_until.is_some_and(|t| t > now),
        KeyState::Revoked => false,
    }
}

/// A key as the CLI and the admin API show it: never the private part.
pub fn key_summary(k: &SigningKeyRow, now: i64) -> serde_json::Value {
    serde_json::json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "published": is_published(k, now),
                       "created_at": k.created_at, "activated_at": k.activated_at,
                       "retired_at": k.retired_at, "publish_until": k.publish_until})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, alg: SigningAlg, state: KeyState, created_at: i64) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.to_owned(),
            alg,
            state,
            public_jwk: String::new(),
            sealed_private: Vec::new(),
            created_at,
            activated_at: (state == KeyState::Active).then_some(created_at),
            retired_at: None,
            publish_until: None,
        }
    }

    /// The decision the server makes on a reader before it generates a key
    /// pair off the writer, walked through a whole period.
    #[test]
    fn the_plan_follows_a_keys_period() {
        let schedule = Schedule {
            period: 1_000,
            prepublish: 100,
            grace: 50,
        };
        let (rs, es) = (SigningAlg::Rs256, SigningAlg::Es256);
        let active = key("a", rs, KeyState::Active, 0);
        let other_alg = key("e", es, KeyState::Active, 0);
        let plan = |keys: &[SigningKeyRow], now| plan(keys, rs, schedule, now);

        assert_eq!(plan(&[], 0), Step::Activate);
        // Another algorithm's key does not count.
        assert_eq!(plan(std::slice::from_ref(&other_alg), 0), Step::Activate);
        assert_eq!(plan(&[active.clone(), other_alg], 899), Step::Nothing);
        assert_eq!(plan(std::slice::from_ref(&active), 900), Step::PublishNext);
        let next = key("n", rs, KeyState::Next, 900);
        let both = [active.clone(), next];
        assert_eq!(plan(&both, 999), Step::Nothing);
        // Published at 900.999 and now 1000.0: not yet 100 s.
        assert_eq!(plan(&both, 1_000), Step::Nothing);
        assert_eq!(
            plan(&both, 1_001),
            Step::Promote {
                active: "a".into(),
                next: "n".into()
            }
        );
        // A successor published late waits its full pre-publication time.
        let late = [active.clone(), key("n", rs, KeyState::Next, 1_000)];
        assert_eq!(plan(&late, 1_050), Step::Nothing);
        assert_eq!(plan(&late, 1_100), Step::Nothing);
        assert!(matches!(plan(&late, 1_101), Step::Promote { .. }));
        // Without a period, nothing is scheduled, but a missing key still is.
        let never = Schedule {
            period: 0,
            ..schedule
        };
        assert_eq!(super::plan(&[active], rs, never, 10_000), Step::Nothing);
        assert_eq!(super::plan(&[], rs, never, 0), Step::Activate);
        assert!(Step::Activate.needs_key() && Step::PublishNext.needs_key());
        assert!(!Step::Nothing.needs_key());
    }

    #[test]
    fn a_spare_is_used_only_for_its_own_algorithm() {
        let spare = material::generate(SigningAlg::Es256).unwrap();
        let kid = spare.kid.clone();
        let mut slot = Some(spare);
        let made = fresh_key(SigningAlg::Es256, &mut slot).unwrap();
        assert_eq!(made.kid, kid);
        assert!(slot.is_none(), "the spare is taken");
        let mut wrong = Some(material::generate(SigningAlg::Es256).unwrap());
        let made = fresh_key(SigningAlg::Rs256, &mut wrong).unwrap();
        assert_eq!(made.alg, SigningAlg::Rs256);
    }
}
