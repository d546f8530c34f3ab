//! RFC 7636 (PKCE, S256 only): the authorization endpoint checks the
//! challenge's form, the code grant checks the verifier against it.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::Error;
use crate::secrets;

/// RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
pub fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks a `code_verifier` against the stored S256 challenge.
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), Error> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier)) if is_pkce_value(verifier) => {
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if secrets::constant_time_eq(&computed, challenge) {
                Ok(())
            } else {
                Err(Error::invalid_grant(
                    "the code_verifier does not match the code_challenge",
                ))
            }
        }
        (Some(_), Some(_)) => Err(Error::invalid_request("code_verifier is malformed")),
        (Some(_), None) => Err(Error::invalid_grant(
            "code_verifier is required for this code",
        )),
        // A verifier for a code issued without a challenge: a downgrade attempt.
        (None, Some(_)) => Err(Error::invalid_grant(
            "this code was issued without a code_challenge",
        )),
    }
}
