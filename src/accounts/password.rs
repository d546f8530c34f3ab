//! Argon2id password hashing (OWASP minimum: m = 19 MiB, t = 2, p = 1).

use std::sync::OnceLock;

use crate::workers::CpuPool;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    verify_in_thread_memory(password.as_bytes(), &parsed).unwrap_or(false) && real
}

/// The most Argon2 memory a thread keeps between verifications (64 MiB);
/// a hash asking for more gets it for that verification only.
const MAX_KEPT_BLOCKS: usize = 64 * 1024;

thread_local! {
    /// Argon2's working memory, kept by each hashing thread. Allocating it
    /// per verification costs more than the memory it saves: 19 MiB of page
    /// faults and, on free, unmaps that flush the other core's TLB. With two
    /// threads hashing at once that made each hash 30–60 % slower (12–15 ms
    /// → 21 ms on a 2-core EPYC).
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What `PasswordVerifier::verify_password` does (the parameters, salt and
/// output length come from the stored hash; the outputs are compared in
/// constant time), with this thread's kept memory instead of a fresh
/// allocation.
fn verify_in_thread_memory(
    password: &[u8],
    hash: &PasswordHash<'_>,
) -> argon2::password_hash::Result<bool> {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Ok(false);
    };
    let version = hash.version.map(Version::try_from).transpose()?;
    let params = Params::try_from(hash)?;
    let blocks = params.block_count();
    let argon = Argon2::new(
        Algorithm::try_from(hash.algorithm)?,
        version.unwrap_or_default(),
        params,
    );
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let mut computed = vec![0u8; expected.len()];
    let mut hash_into = |memory: &mut [Block]| {
        argon.hash_password_into_with_memory(password, salt, &mut computed, memory)
    };
    if blocks > MAX_KEPT_BLOCKS {
        hash_into(&mut vec![Block::default(); blocks])?;
    } else {
        MEMORY.with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            hash_into(&mut memory[..blocks])
        })?;
    }
    // `Output`'s equality is constant-time.
    Ok(Output::new(&computed)? == expected)
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

    /// The kept-memory verification agrees with the argon2 crate's own on
    /// hashes with other parameters, variants, versions and output lengths,
    /// one thread verifying them in turn (so its memory is reused, grown and
    /// used in part), and refuses tampered hashes.
    #[test]
    fn kept_memory_verification_agrees_with_the_crate() {
        use argon2::password_hash::PasswordVerifier;
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let make = |alg, version, m, t, p, len| {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            Argon2::new(alg, version, params)
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string()
        };
        let hashes = [
            make(Algorithm::Argon2id, Version::V0x13, 19 * 1024, 2, 1, 32),
            make(Algorithm::Argon2id, Version::V0x13, 8 * 1024, 3, 2, 32),
            make(Algorithm::Argon2i, Version::V0x10, 4 * 1024, 1, 1, 16),
            make(Algorithm::Argon2d, Version::V0x13, 32 * 1024, 1, 1, 64),
            make(Algorithm::Argon2id, Version::V0x13, 19 * 1024, 2, 1, 32),
        ];
        for hash in &hashes {
            let parsed = PasswordHash::new(hash).unwrap();
            for password in ["correct horse", "correct horsf", ""] {
                let crate_says = Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(
                    verify_password(Some(hash), password),
                    crate_says,
                    "{hash} with {password:?}"
                );
                assert_eq!(crate_says, password == "correct horse");
            }
            // One character of the output changed.
            let mut tampered = hash.clone();
            let last = tampered.pop().unwrap();
            tampered.push(if last == 'A' { 'B' } else { 'A' });
            assert!(!verify_password(Some(&tampered), "correct horse"));
            // No output, or no salt: nothing to compare.
            let (head, _) = hash.rsplit_once('$').unwrap();
            assert!(!verify_password(Some(head), "correct horse"));
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }
}
