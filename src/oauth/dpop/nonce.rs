//! Server-provided DPoP nonces (RFC 9449 §8), without storage: a nonce is
//! its time step and an HMAC of it under a key every replica derives from
//! the KEK, so a nonce one replica hands out is good at all of them. A
//! nonce is accepted during its own step and the next.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// How long one nonce is handed out, in seconds.
pub const STEP: i64 = 60;

const TAG_LEN: usize = 16;

pub struct Nonces {
    key: hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    pub fn new(secret: &[u8; 32]) -> Self {
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn make(&self, step: i64) -> String {
        let step_bytes = step.to_be_bytes();
        let tag = hmac::sign(&self.key, &step_bytes);
        let mut raw = step_bytes.to_vec();
        raw.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The nonce to hand out now.
    pub fn current(&self, now: i64) -> String {
        self.make(now.div_euclid(STEP))
    }

    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if raw.len() != 8 + TAG_LEN {
            return false;
        }
        let mut step_bytes = [0u8; 8];
        step_bytes.copy_from_slice(&raw[..8]);
        let step = i64::from_be_bytes(step_bytes);
        let current = now.div_euclid(STEP);
        if step != current && step != current - 1 {
            return false;
        }
        let tag = hmac::sign(&self.key, &step_bytes);
        aws_lc_rs::constant_time::verify_slices_are_equal(&tag.as_ref()[..TAG_LEN], &raw[8..])
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_two_steps_and_only_under_its_key() {
        let nonces = Nonces::new(&[7; 32]);
        let n = nonces.current(1_000);
        assert!(nonces.accepts(&n, 1_000));
        assert!(nonces.accepts(&n, 1_000 + STEP));
        assert!(!nonces.accepts(&n, 1_000 + 2 * STEP));
        assert!(!nonces.accepts(&n, 1_000 - STEP));
        assert!(!Nonces::new(&[8; 32]).accepts(&n, 1_000));
        assert!(!nonces.accepts("garbage", 1_000));
        let mut forged = URL_SAFE_NO_PAD.decode(&n).unwrap();
        forged[3] ^= 1;
        assert!(!nonces.accepts(&URL_SAFE_NO_PAD.encode(forged), 1_000));
    }
}
