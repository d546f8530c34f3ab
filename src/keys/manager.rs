//! Key operations on the database (used by the CLI and the server alike) and
//! the signer cache the server signs with.
//!
//! The cache is rebuilt from the database every `key_refresh_interval`
//! seconds, so a rotation made by the CLI, or by another replica, reaches
//! every server without a restart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::lifecycle::{self, Schedule};
use super::material::{self, GeneratedKey, SigningAlg};
use super::verified::{self, VerifiedTokens};
use super::{KeyError, Keyring};
use crate::clock::Clock;
use crate::store::keys::{self as rows, KeyState};
use crate::store::{Db, DbConnection};

pub use super::signer::Signer;

/// Whether [`KeyManager::verify`] refuses an expired token. Only hints
/// such as `id_token_hint` ignore expiry: an expired ID token still says
/// who logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Enforce,
    Ignore,
}

/// Claims that carry an expiry (`exp`, RFC 7519 §4.1.4).
pub trait Expiring {
    fn exp(&self) -> i64;
}

/// The JWKS as served: body and strong ETag, computed once per reload.
#[derive(Debug, Clone)]
pub struct JwksDocument {
    pub body: String,
    pub etag: String,
}

/// A published public key, ready to verify.
struct Verifier {
    alg: jsonwebtoken::Algorithm,
    key: jsonwebtoken::DecodingKey,
}

struct KeySet {
    signers: BTreeMap<SigningAlg, Arc<Signer>>,
    verifiers: BTreeMap<String, Arc<Verifier>>,
    jwks: Arc<JwksDocument>,
}

/// The server's view of the keys: what signs, what is published.
pub struct KeyManager {
    db: Db,
    kek_file: PathBuf,
    keyring: RwLock<Keyring>,
    schedule: Schedule,
    clock: Clock,
    current: RwLock<Arc<KeySet>>,
    reloading: tokio::sync::Mutex<()>,
    verified: VerifiedTokens,
}

impl KeyManager {
    /// Makes sure every algorithm has an active key, then loads the cache.
    pub async fn start(
        db: Db,
        kek_file: PathBuf,
        schedule: Schedule,
        clock: Clock,
    ) -> Result<Arc<Self>, KeyError> {
        let path = kek_file.clone();
        let keyring = tokio::task::spawn_blocking(move || Keyring::load_or_create(&path))
            .await
            .map_err(|e| KeyError::Kek(e.to_string()))??;
        let k = keyring.clone();
        let mut spares =
            spares_where(&db, |keys, alg| lifecycle::active_key(keys, alg).is_none()).await?;
        let now = clock.now();
        db.write(move |conn| {
            for alg in SigningAlg::ALL {
                let spare = &mut spares.remove(&alg);
                lifecycle::ensure_active(conn, &k, alg, "startup", now, spare)?;
            }
            Ok::<_, KeyError>(())
        })
        .await?;
        let empty = KeySet {
            signers: BTreeMap::new(),
            verifiers: BTreeMap::new(),
            jwks: Arc::new(JwksDocument {
                body: String::new(),
                etag: String::new(),
            }),
        };
        let manager = Arc::new(KeyManager {
            db,
            kek_file,
            keyring: RwLock::new(keyring),
            schedule,
            clock,
            current: RwLock::new(Arc::new(empty)),
            reloading: tokio::sync::Mutex::new(()),
            verified: VerifiedTokens::new(),
        });
        manager.reload().await?;
        Ok(manager)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            // A panic while holding the lock cannot leave a half-written Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn keyring(&self) -> Keyring {
        match self.keyring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A secret derived from the current KEK for `label` (see `Kek::derive`).
    pub fn derive_secret(&self, label: &str) -> zeroize::Zeroizing<[u8; 32]> {
        self.keyring().current().derive(label)
    }

    /// Seals a shared secret (a TOTP secret) under the current KEK, bound to
    /// `label` (its owner), so the database alone reveals none and
    /// `keys rewrap` re-seals it with the signing keys.
    pub fn seal_secret(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.keyring().seal(label, plaintext)
    }

    pub fn unseal_secret(
        &self,
        label: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
        self.keyring().unseal(label, sealed)
    }

    pub fn signer(&self, alg: SigningAlg) -> Result<Arc<Signer>, KeyError> {
        self.snapshot()
            .signers
            .get(&alg)
            .cloned()
            .ok_or(KeyError::NoActiveKey(alg))
    }

    /// (alg, kid, seconds signing) of each active key.
    pub fn active_key_ages(&self, now: i64) -> Vec<(String, String, i64)> {
        self.snapshot()
            .signers
            .values()
            .map(|s| {
                (
                    s.alg.as_str().to_owned(),
                    s.kid.clone(),
                    now - s.activated_at,
                )
            })
            .collect()
    }

    /// Whether a signing key is loaded for every algorithm.
    pub fn ready(&self) -> bool {
        let set = self.snapshot();
        SigningAlg::ALL
            .iter()
            .all(|alg| set.signers.contains_key(alg))
    }

    pub fn jwks(&self) -> Arc<JwksDocument> {
        self.snapshot().jwks.clone()
    }

    /// Verifies a token this server issued, with the published key its `kid`
    /// names and that key's algorithm (never the one the header claims).
    /// Expiry is checked against this server's clock, not the system's, so
    /// a test that moves the clock sees tokens expire.
    pub fn verify<T: serde::de::DeserializeOwned + Expiring>(
        &self,
        token: &str,
        issuer: &str,
        typ: &str,
        expiry: Expiry,
    ) -> Result<T, KeyError> {
        let invalid = |why: &str| KeyError::InvalidToken(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(invalid("wrong token type"));
        }
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let verifier = self
            .snapshot()
            .verifiers
            .get(&kid)
            .cloned()
            .ok_or_else(|| invalid("unknown key"))?;
        if header.alg != verifier.alg {
            return Err(invalid("algorithm does not match the key"));
        }
        let fingerprint = verified::fingerprint(issuer, token);
        let claims = if self.verified.contains(&fingerprint) {
            // These very bytes passed every check below with this key.
            jsonwebtoken::dangerous::insecure_decode::<T>(token)
                .map(|d| d.claims)
                .map_err(|e| KeyError::InvalidToken(e.to_string()))?
        } else {
            let mut validation = jsonwebtoken::Validation::new(verifier.alg);
            validation.set_issuer(&[issuer]);
            validation.validate_aud = false;
            validation.validate_exp = false;
            validation.leeway = 0;
            validation.set_required_spec_claims(&["iss", "sub", "exp"]);
            let claims = jsonwebtoken::decode::<T>(token, &verifier.key, &validation)
                .map(|d| d.claims)
                .map_err(|e| KeyError::InvalidToken(e.to_string()))?;
            self.verified
                .insert(fingerprint, claims.exp(), self.clock.now());
            claims
        };
        // As jsonwebtoken counted it before the clock was ours: expired once
        // `exp` is in the past.
        if expiry == Expiry::Enforce && claims.exp() < self.clock.now() {
            return Err(invalid("the token has expired"));
        }
        Ok(claims)
    }

    /// Re-reads the KEK files (a `keys rewrap` may have changed them), then
    /// rebuilds the cache from the database. Keys already unsealed are reused.
    pub async fn reload(&self) -> Result<(), KeyError> {
        // One at a time (the timer's, a rotation's): two overlapping reloads
        // could finish out of order and put the older key set back.
        let _one_at_a_time = self.reloading.lock().await;
        let path = self.kek_file.clone();
        match tokio::task::spawn_blocking(move || Keyring::load_or_create(&path)).await {
            Ok(Ok(keyring)) => match self.keyring.write() {
                Ok(mut guard) => *guard = keyring,
                Err(poisoned) => *poisoned.into_inner() = keyring,
            },
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the key-encryption key; keeping the one loaded")
            }
            Err(e) => tracing::error!(error = %e, "reading the key-encryption key failed"),
        }
        let previous = self.snapshot();
        let keyring = self.keyring();
        let now = self.clock.now();
        let next = self
            .db
            .run(move |conn| build_key_set(conn, &keyring, &previous, now))
            .await?;
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    /// Rotates `alg` now and refreshes this server's cache at once.
    pub async fn rotate(&self, alg: SigningAlg, actor: String) -> Result<String, KeyError> {
        let (keyring, grace) = (self.keyring(), self.schedule.grace);
        // An operator's rotation always makes a key: no need to read the
        // keys first, as the scheduled steps do.
        let mut spare = Some(generate_off_thread(alg).await?);
        let now = self.clock.now();
        let kid = self
            .db
            .write(move |conn| {
                lifecycle::rotate(conn, &keyring, alg, grace, &actor, now, &mut spare)
            })
            .await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Revokes `kid` now and refreshes this server's cache at once.
    pub async fn revoke(&self, kid: String, actor: String) -> Result<lifecycle::Revoked, KeyError> {
        let keyring = self.keyring();
        // Revoking the active key puts a new one in its place.
        let target = kid.clone();
        let spares = spares_where(&self.db, move |keys, alg| {
            lifecycle::active_key(keys, alg).is_some_and(|k| k.kid == target)
        })
        .await?;
        let mut spare = spares.into_values().next();
        let now = self.clock.now();
        let revoked = self
            .db
            .write(move |conn| lifecycle::revoke(conn, &keyring, &kid, &actor, now, &mut spare))
            .await?;
        self.reload().await?;
        Ok(revoked)
    }

    /// One step of the schedule: advance rotation where due, and reload at
    /// once if that changed anything, so that this replica signs with the
    /// key it promoted.
    pub async fn tick(&self) -> Result<(), KeyError> {
        let (keyring, schedule) = (self.keyring(), self.schedule);
        let clock = self.clock.clone();
        let planned_at = clock.now();
        let mut spares = spares_where(&self.db, move |keys, alg| {
            lifecycle::plan(keys, alg, schedule, planned_at).needs_key()
        })
        .await?;
        let changed = self
            .db
            .write(move |conn| {
                let mut changed = false;
                for alg in SigningAlg::ALL {
                    let spare = &mut spares.remove(&alg);
                    changed |= lifecycle::scheduled_step(
                        conn,
                        &keyring,
                        alg,
                        schedule,
                        clock.now(),
                        spare,
                    )?
                    .is_some();
                }
                Ok::<_, KeyError>(changed)
            })
            .await?;
        if changed {
            self.reload().await?;
        }
        Ok(())
    }

    /// Reloads and runs the schedule every `interval` for as long as the
    /// server runs. A failed round (the database away, say) keeps the keys
    /// already loaded.
    pub async fn follow_database(self: Arc<Self>, interval: std::time::Duration) {
        // Reloads keep their own timer. The pre-publication lead counts on
        // every replica serving a new `next` key within one interval, and a
        // scheduler tick can take longer than that: making an RSA key pair
        // takes up to a second, more on a busy machine.
        let reloads = self.clone();
        tokio::spawn(every(interval, move || {
            let keys = reloads.clone();
            async move { keys.reload().await }
        }));
        every(interval, move || {
            let keys = self.clone();
            async move { keys.tick().await }
        })
        .await
    }
}

/// Runs `round` every `interval` (the first one interval from now), forever.
async fn every<F, Fut>(interval: std::time::Duration, round: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), KeyError>>,
{
    let mut ticker = tokio::time::interval(interval);
    // A round that overran is not made up for with a burst of rounds.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(e) = round().await {
            tracing::error!(error = %e, "key maintenance failed; keeping the previous key set");
        }
    }
}

/// Makes, from what a reader sees, the key pair of each algorithm that
/// `needs` says a coming step will use. The step itself then runs on the
/// writer without generating anything (RSA takes up to a second, and every
/// queued write would wait); if the keys changed between the two, the step
/// makes what it lacks itself.
async fn spares_where<F>(db: &Db, needs: F) -> Result<BTreeMap<SigningAlg, GeneratedKey>, KeyError>
where
    F: Fn(&[rows::SigningKeyRow], SigningAlg) -> bool,
{
    let keys = db.run(|conn| Ok::<_, KeyError>(rows::list(conn)?)).await?;
    let mut made = BTreeMap::new();
    for alg in SigningAlg::ALL {
        if needs(&keys, alg) {
            made.insert(alg, generate_off_thread(alg).await?);
        }
    }
    Ok(made)
}

/// Makes a key pair on a blocking thread, holding no database connection.
async fn generate_off_thread(alg: SigningAlg) -> Result<GeneratedKey, KeyError> {
    tokio::task::spawn_blocking(move || material::generate(alg))
        .await
        .map_err(|e| KeyError::Generate(e.to_string()))?
}

fn build_key_set(
    conn: &mut DbConnection,
    keyring: &Keyring,
    previous: &KeySet,
    now: i64,
) -> Result<KeySet, KeyError> {
    let published = rows::list_published(conn, now)?;
    let mut signers = BTreeMap::new();
    let mut verifiers = BTreeMap::new();
    let mut jwks = Vec::with_capacity(published.len());
    for row in &published {
        let corrupt = |e: String| KeyError::Corrupt {
            kid: row.kid.clone(),
            why: format!("its public JWK is unusable: {e}"),
        };
        let jwk: serde_json::Value =
            serde_json::from_str(&row.public_jwk).map_err(|e| corrupt(e.to_string()))?;
        let parsed: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk.clone()).map_err(|e| corrupt(e.to_string()))?;
        let key =
            jsonwebtoken::DecodingKey::from_jwk(&parsed).map_err(|e| corrupt(e.to_string()))?;
        let verifier = Verifier {
            alg: row.alg.jwt_algorithm(),
            key,
        };
        verifiers.insert(row.kid.clone(), Arc::new(verifier));
        jwks.push(jwk);
        if row.state != KeyState::Active {
            continue;
        }
        let alg = row.alg;
        let signer = match previous.signers.get(&alg).filter(|s| s.kid == row.kid) {
            Some(existing) => existing.clone(),
            None => {
                let der = keyring.unseal(&row.kid, &row.sealed_private)?;
                let activated_at = row.activated_at.unwrap_or(row.created_at);
                Arc::new(Signer::new(row.kid.clone(), alg, activated_at, &der)?)
            }
        };
        signers.insert(alg, signer);
    }
    let body = serde_json::json!({ "keys": jwks }).to_string();
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..32]
    );
    Ok(KeySet {
        signers,
        verifiers,
        jwks: Arc::new(JwksDocument { body, etag }),
    })
}
