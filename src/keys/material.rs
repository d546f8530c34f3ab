//! Key generation and public JWKs (RFC 7517/7518), `kid` = RFC 7638 thumbprint.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::KeyError;

pub use crate::store::keys::SigningAlg;

/// What each algorithm needs of the key material and the hashes.
impl SigningAlg {
    pub fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
            SigningAlg::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }

    /// Builds the jsonwebtoken key from the private DER this module stores:
    /// PKCS#1 for RSA, PKCS#8 for P-256 (what the aws-lc-rs backend expects).
    pub fn encoding_key(self, private_der: &[u8]) -> jsonwebtoken::EncodingKey {
        match self {
            SigningAlg::Rs256 => jsonwebtoken::EncodingKey::from_rsa_der(private_der),
            SigningAlg::Es256 => jsonwebtoken::EncodingKey::from_ec_der(private_der),
        }
    }

    /// The left half of SHA-256, base64url: `at_hash` (OIDC Core §3.1.3.6);
    /// both algorithms hash with SHA-256.
    pub fn half_hash(self, value: &str) -> String {
        let digest = Sha256::digest(value.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..16])
    }
}

/// A freshly generated key pair, before sealing.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: SigningAlg,
    /// The public JWK as JSON, `kid`, `use` and `alg` included.
    pub public_jwk: String,
    /// Wiped from memory when dropped, sealed or not.
    pub private_der: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

const RSA_BITS: usize = 2048;

/// Generates a key pair. CPU-heavy for RSA (up to a second): call it off the
/// async executor.
pub fn generate(alg: SigningAlg) -> Result<GeneratedKey, KeyError> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match alg {
        SigningAlg::Rs256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let n = b64(&key.n().to_bytes_be());
            let e = b64(&key.e().to_bytes_be());
            // RFC 7638 §3.2: required members only, lexicographic order, no spaces.
            let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
            let private_der = Zeroizing::new(
                key.to_pkcs1_der()
                    .map_err(|e| KeyError::Generate(e.to_string()))?
                    .as_bytes()
                    .to_vec(),
            );
            let public_jwk =
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e});
            Ok(GeneratedKey {
                kid,
                alg,
                public_jwk: public_jwk.to_string(),
                private_der,
            })
        }
        SigningAlg::Es256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            let point = key.public_key().to_encoded_point(false);
            let (x, y) = match (point.x(), point.y()) {
                (Some(x), Some(y)) => (b64(x), b64(y)),
                _ => return Err(KeyError::Generate("P-256 point has no coordinates".into())),
            };
            let kid = thumbprint(&format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
            ));
            let private_der = Zeroizing::new(
                key.to_pkcs8_der()
                    .map_err(|e| KeyError::Generate(e.to_string()))?
                    .as_bytes()
                    .to_vec(),
            );
            let public_jwk = json!({"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256",
                                    "crv": "P-256", "x": x, "y": y});
            Ok(GeneratedKey {
                kid,
                alg,
                public_jwk: public_jwk.to_string(),
                private_der,
            })
        }
    }
}

fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1's example key and its published thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        assert_eq!(
            thumbprint(&canonical),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn es256_key_signs_and_publishes_no_private_part() {
        let key = generate(SigningAlg::Es256).unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
        assert_eq!(jwk["kid"], key.kid);
        assert_eq!(jwk["crv"], "P-256");
        assert!(jwk.get("d").is_none());
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        let token = jsonwebtoken::encode(
            &header,
            &json!({"a": 1}),
            &key.alg.encoding_key(&key.private_der),
        );
        assert!(token.is_ok(), "{token:?}");
    }

    #[test]
    fn rs256_key_has_2048_bits_and_signs() {
        let key = generate(SigningAlg::Rs256).unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len() * 8, 2048);
        assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let token = jsonwebtoken::encode(
            &header,
            &json!({"a": 1}),
            &key.alg.encoding_key(&key.private_der),
        );
        assert!(token.is_ok(), "{token:?}");
    }

    #[test]
    fn algs_parse_case_insensitively() {
        assert_eq!("es256".parse::<SigningAlg>().unwrap(), SigningAlg::Es256);
        assert!("HS256".parse::<SigningAlg>().is_err());
    }
}
