//! Tokens whose signature this server has already verified, by their
//! SHA-256: the same bytes carry the same signature, so verifying them
//! again can only give the same answer. A service that exchanges (RFC 8693)
//! or introspects the same user token on every call then pays for the
//! signature verification once per token instead of once per call.
//!
//! Only the signature check is skipped. The key must still be published
//! (a revoked key leaves the verifier set, and with it every token it
//! signed), the header's `typ` and `alg` are checked as before, and expiry
//! against the clock; revocation and the user are the caller's, every time.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// At most this many fingerprints; when full, expired ones go first, and
/// if none has expired, all of them (a cache, not a record).
const CAPACITY: usize = 65_536;

pub(super) struct VerifiedTokens {
    /// Fingerprint → the token's `exp`.
    seen: Mutex<HashMap<[u8; 32], i64>>,
}

/// The fingerprint of a token as verified for one issuer.
pub(super) fn fingerprint(issuer: &str, token: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(issuer.as_bytes());
    hash.update([0]);
    hash.update(token.as_bytes());
    hash.finalize().into()
}

impl VerifiedTokens {
    pub(super) fn new() -> Self {
        VerifiedTokens {
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], i64>> {
        match self.seen.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(super) fn contains(&self, fingerprint: &[u8; 32]) -> bool {
        self.map().contains_key(fingerprint)
    }

    /// Remembers a verified token until `exp`.
    pub(super) fn insert(&self, fingerprint: [u8; 32], exp: i64, now: i64) {
        let mut map = self.map();
        if map.len() >= CAPACITY {
            map.retain(|_, e| *e >= now);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(fingerprint, exp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_names_one_token_for_one_issuer() {
        let a = fingerprint("https://a", "x.y.z");
        assert_eq!(a, fingerprint("https://a", "x.y.z"));
        assert_ne!(a, fingerprint("https://b", "x.y.z"));
        assert_ne!(a, fingerprint("https://a", "x.y.w"));
        // The separator keeps issuer and token apart.
        assert_ne!(fingerprint("ab", "c"), fingerprint("a", "bc"));
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first() {
        let cache = VerifiedTokens::new();
        for i in 0..CAPACITY {
            let mut f = [0u8; 32];
            f[..8].copy_from_slice(&(i as u64).to_le_bytes());
            // Half expired by t = 100.
            cache.insert(f, if i % 2 == 0 { 50 } else { 200 }, 0);
        }
        let kept = {
            let mut f = [0u8; 32];
            f[..8].copy_from_slice(&1u64.to_le_bytes());
            f
        };
        cache.insert([0xff; 32], 300, 100);
        assert!(cache.contains(&kept) && cache.contains(&[0xff; 32]));
        assert_eq!(cache.map().len(), CAPACITY / 2 + 1);
    }
}
