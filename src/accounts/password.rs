//! Argon2id password hashing (OWASP minimum: m = 19 MiB, t = 2, p = 1).

use std::sync::OnceLock;

use crate::workers::CpuPool;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_PASSWORD_LEN: usize = 8;
const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's limits, so `new` cannot fail
    // on them; the default is the same OWASP-grade setting should it ever.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A hash of a random password, verified when the user does not exist so that
/// the answer takes as long as for a real user.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::secrets::random_token(24)).unwrap_or_default())
}

/// Computes the dummy hash ahead of the first request, so the first unknown
/// username costs no more than the ones after it.
pub fn warm_up() {
    dummy_hash();
}

/// Verifies `password` against `stored` (or against the dummy hash when
/// `None`). CPU-heavy: call from a blocking thread.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// Argon2id verifications run on their own threads, one per core, at a
/// lower scheduling priority (nice 10): when the machine is idle they use all
/// of it, and when other requests arrive the kernel runs those first, so a
/// burst of logins cannot starve the JWKS, refreshes or the event loop.
fn hash_pool() -> &'static CpuPool {
    static POOL: OnceLock<CpuPool> = OnceLock::new();
    POOL.get_or_init(|| CpuPool::start("argon2", 10))
}

/// `hash_password` on the hashing threads; never blocks the caller's thread.
pub async fn hash_password_async(password: String) -> Result<String, PasswordError> {
    hash_pool()
        .run(move || hash_password(&password))
        .await
        .unwrap_or_else(|| Err(PasswordError::Hash("the hashing thread was lost".into())))
}

/// `verify_password` on the hashing threads; never blocks the caller's thread.
pub async fn verify_password_async(stored: Option<String>, password: String) -> bool {
    // A lost job or thread answers "no": a login fails closed.
    hash_pool()
        .run(move || verify_password(stored.as_deref(), &password))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_owasp_parameters() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(Some(&hash), "correct horse"));
        assert!(!verify_password(Some(&hash), "wrong horse"));
        assert!(!verify_password(None, "correct horse"));
    }

    #[tokio::test]
    async fn the_hashing_threads_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password_async(Some(hash.clone()), "correct horse".into()).await);
        assert!(!verify_password_async(Some(hash), "wrong horse".into()).await);
        assert!(!verify_password_async(None, "correct horse".into()).await);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }
}
