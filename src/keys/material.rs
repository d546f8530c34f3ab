//! Key generation and public JWKs (RFC 7517/7518), `kid` = RFC 7638 thumbprint.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::KeyError;

pub use crate::store::keys::SigningAlg;

/// The kind of key pair an algorithm signs with. RS256 and PS256 both sign
/// with RSA keys (each algorithm has keys of its own, named by the JWK's
/// `alg`) and differ only in the padding the signer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA 2048, stored as PKCS#1 DER; JWK `kty: RSA`.
    Rsa,
    /// P-256, stored as PKCS#8 DER; JWK `kty: EC`.
    Ec,
    /// Ed25519 (RFC 8037), stored as PKCS#8 v2 DER; JWK `kty: OKP`.
    Ed,
}

/// What each algorithm needs of the key material and the hashes.
impl SigningAlg {
    pub fn family(self) -> KeyFamily {
        match self {
            SigningAlg::Rs256 | SigningAlg::Ps256 => KeyFamily::Rsa,
            SigningAlg::Es256 => KeyFamily::Ec,
            SigningAlg::EdDsa => KeyFamily::Ed,
        }
    }

    pub fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
            SigningAlg::Ps256 => jsonwebtoken::Algorithm::PS256,
            SigningAlg::Es256 => jsonwebtoken::Algorithm::ES256,
            SigningAlg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Builds the jsonwebtoken key from the private DER this module stores:
    /// PKCS#1 for RSA, PKCS#8 for P-256 and Ed25519 (what the aws-lc-rs
    /// backend expects).
    pub fn encoding_key(self, private_der: &[u8]) -> jsonwebtoken::EncodingKey {
        match self.family() {
            KeyFamily::Rsa => jsonwebtoken::EncodingKey::from_rsa_der(private_der),
            KeyFamily::Ec => jsonwebtoken::EncodingKey::from_ec_der(private_der),
            KeyFamily::Ed => jsonwebtoken::EncodingKey::from_ed_der(private_der),
        }
    }

    /// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the
    /// hash the algorithm signs with — SHA-256 for RS256, PS256 and ES256.
    pub fn half_hash(self, value: &str) -> String {
        match self {
            SigningAlg::Rs256 | SigningAlg::Ps256 | SigningAlg::Es256 => {
                URL_SAFE_NO_PAD.encode(&Sha256::digest(value.as_bytes())[..16])
            }
            // Ed25519 hashes with SHA-512, so its half is 256 bits, as node
            // oidc-provider computes it (panva/oidc-token-hash: EdDSA with crv
            // Ed25519 → sha512) and openidconnect-rs verifies it.
            SigningAlg::EdDsa => URL_SAFE_NO_PAD.encode(&Sha512::digest(value.as_bytes())[..32]),
        }
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

const RSA_BITS: aws_lc_rs::rsa::KeySize = aws_lc_rs::rsa::KeySize::Rsa2048;

/// Generates a key pair for `alg`. CPU-heavy for RSA (tens to hundreds of
/// milliseconds): call it off the async executor.
pub fn generate(alg: SigningAlg) -> Result<GeneratedKey, KeyError> {
    match alg.family() {
        KeyFamily::Rsa => {
            // aws-lc-rs makes the pair in a third of the time the `rsa` crate
            // takes (about 80 against 250 ms here, and every test server
            // makes two); `rsa` re-encodes it as the PKCS#1 the rows hold.
            let pair = aws_lc_rs::rsa::KeyPair::generate(RSA_BITS)
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let pkcs8 = pair
                .as_der()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8.as_ref())
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let der = key
                .to_pkcs1_der()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            Ok(with_public_members(
                alg,
                &[
                    ("e", b64(&key.e().to_bytes_be())),
                    ("kty", "RSA".into()),
                    ("n", b64(&key.n().to_bytes_be())),
                ],
                Zeroizing::new(der.as_bytes().to_vec()),
            ))
        }
        KeyFamily::Ec => {
            let key = p256::SecretKey::random(&mut OsRng);
            let point = key.public_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(KeyError::Generate("P-256 point has no coordinates".into()));
            };
            let der = key
                .to_pkcs8_der()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            Ok(with_public_members(
                alg,
                &[
                    ("crv", "P-256".into()),
                    ("kty", "EC".into()),
                    ("x", b64(x)),
                    ("y", b64(y)),
                ],
                Zeroizing::new(der.as_bytes().to_vec()),
            ))
        }
        KeyFamily::Ed => {
            let pair = Ed25519KeyPair::generate().map_err(|e| KeyError::Generate(e.to_string()))?;
            ed25519_key(alg, &pair)
        }
    }
}

/// The stored form of an Ed25519 key pair: PKCS#8 v2 (seed and public key)
/// and the RFC 8037 §2 public JWK.
fn ed25519_key(alg: SigningAlg, pair: &Ed25519KeyPair) -> Result<GeneratedKey, KeyError> {
    let der = pair
        .to_pkcs8()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(with_public_members(
        alg,
        &[
            ("crv", "Ed25519".into()),
            ("kty", "OKP".into()),
            ("x", b64(pair.public_key().as_ref())),
        ],
        Zeroizing::new(der.as_ref().to_vec()),
    ))
}

/// Names a key by the RFC 7638 thumbprint of its required public `members`
/// and builds its public JWK: those members with `kid`, `use` and `alg`.
fn with_public_members(
    alg: SigningAlg,
    members: &[(&str, String)],
    private_der: Zeroizing<Vec<u8>>,
) -> GeneratedKey {
    // RFC 7638 §3.2: the required members only, in lexicographic order of
    // their names, no whitespace. Names and values here are ASCII without
    // characters JSON escapes.
    let mut sorted = members.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let canonical: Vec<String> = sorted
        .iter()
        .map(|(name, value)| format!(r#""{name}":"{value}""#))
        .collect();
    let kid = thumbprint(&format!("{{{}}}", canonical.join(",")));
    let mut jwk = serde_json::Map::new();
    jwk.insert("kid".into(), kid.clone().into());
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), alg.as_str().into());
    for (name, value) in members {
        jwk.insert((*name).into(), value.clone().into());
    }
    GeneratedKey {
        kid,
        alg,
        public_jwk: serde_json::Value::Object(jwk).to_string(),
        private_der,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        // The same through the path every generated key takes, members in
        // any order.
        let key = with_public_members(
            SigningAlg::Rs256,
            &[("n", n.into()), ("kty", "RSA".into()), ("e", "AQAB".into())],
            Zeroizing::new(Vec::new()),
        );
        assert_eq!(key.kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn eddsa_kid_is_the_rfc8037_thumbprint() {
        // RFC 8037 Appendix A.1's key (seed `d`, public `x`); Appendix A.3
        // gives the thumbprint of {"crv":"Ed25519","kty":"OKP","x":…}.
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let key = ed25519_key(SigningAlg::EdDsa, &pair).unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
        assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(jwk["kid"], key.kid);
        assert_eq!(
            (&jwk["kty"], &jwk["crv"]),
            (&json!("OKP"), &json!("Ed25519"))
        );
        assert_eq!(jwk["alg"], "EdDSA");
        assert!(jwk.get("d").is_none());
        // The stored PKCS#8 is what jsonwebtoken and the signer read.
        assert!(Ed25519KeyPair::from_pkcs8(&key.private_der).is_ok());
    }

    /// Signs with jsonwebtoken from the stored private DER and verifies
    /// with nothing but the published JWK.
    fn signs_and_verifies_from_the_public_jwk(key: &GeneratedKey) -> serde_json::Value {
        let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
        assert_eq!(jwk["kid"], key.kid);
        assert_eq!(jwk["alg"], key.alg.as_str());
        assert_eq!(jwk["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private} published");
        }
        let header = jsonwebtoken::Header::new(key.alg.jwt_algorithm());
        let token = jsonwebtoken::encode(
            &header,
            &json!({"sub": "x", "exp": 4_000_000_000u64}),
            &key.alg.encoding_key(&key.private_der),
        )
        .unwrap();
        let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&parsed).unwrap();
        let mut validation = jsonwebtoken::Validation::new(key.alg.jwt_algorithm());
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "x");
        jwk
    }

    #[test]
    fn es256_key_signs_and_publishes_no_private_part() {
        let jwk = signs_and_verifies_from_the_public_jwk(&generate(SigningAlg::Es256).unwrap());
        assert_eq!((&jwk["kty"], &jwk["crv"]), (&json!("EC"), &json!("P-256")));
    }

    #[test]
    fn rsa_keys_have_2048_bits_and_sign_with_their_own_alg() {
        for alg in [SigningAlg::Rs256, SigningAlg::Ps256] {
            let jwk = signs_and_verifies_from_the_public_jwk(&generate(alg).unwrap());
            assert_eq!(jwk["kty"], "RSA");
            let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
            assert_eq!(n.len() * 8, 2048, "{alg}");
        }
    }

    #[test]
    fn eddsa_key_signs_and_publishes_no_private_part() {
        let jwk = signs_and_verifies_from_the_public_jwk(&generate(SigningAlg::EdDsa).unwrap());
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
    }

    #[test]
    fn half_hash_uses_the_algorithms_hash() {
        // OIDC Core §3.1.3.6: 128 bits for the SHA-256 algorithms, 256 for
        // Ed25519's SHA-512.
        let sha256 = URL_SAFE_NO_PAD.encode(&Sha256::digest(b"token")[..16]);
        for alg in [SigningAlg::Rs256, SigningAlg::Ps256, SigningAlg::Es256] {
            assert_eq!(alg.half_hash("token"), sha256);
        }
        let eddsa = SigningAlg::EdDsa.half_hash("token");
        assert_eq!(URL_SAFE_NO_PAD.decode(&eddsa).unwrap().len(), 32);
        assert_eq!(
            eddsa,
            URL_SAFE_NO_PAD.encode(&Sha512::digest(b"token")[..32])
        );
    }

    #[test]
    fn algs_parse_case_insensitively() {
        assert_eq!("es256".parse::<SigningAlg>().unwrap(), SigningAlg::Es256);
        assert_eq!("eddsa".parse::<SigningAlg>().unwrap(), SigningAlg::EdDsa);
        assert_eq!("Ps256".parse::<SigningAlg>().unwrap(), SigningAlg::Ps256);
        assert!("HS256".parse::<SigningAlg>().is_err());
        assert!("Ed25519".parse::<SigningAlg>().is_err());
    }
}
