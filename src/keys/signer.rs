//! Compact JWS signing with key pairs parsed once.
//!
//! `jsonwebtoken::encode` builds a signer from the DER bytes on every call
//! (for RSA, aws-lc-rs parses and checks the private key each time; for
//! P-256 it also recomputes the public point). Here each active key is parsed
//! once, when the key set is loaded, into aws-lc-rs key pairs — the same
//! constant-time backend jsonwebtoken uses — and the encoded headers are
//! built once too. Tokens stay plain RFC 7515 compact JWS: jsonwebtoken and
//! openidconnect verify them in the tests.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaEncoding, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::{KeyError, SigningAlg};

enum KeyPair {
    /// RS256 and PS256 keys alike; the padding is the algorithm's.
    Rsa {
        key: RsaKeyPair,
        padding: &'static dyn RsaEncoding,
    },
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// An unsealed active key, ready to sign.
pub struct Signer {
    pub kid: String,
    pub alg: SigningAlg,
    /// When it started signing (Unix seconds).
    pub activated_at: i64,
    pair: KeyPair,
    rng: SystemRandom,
    /// base64url of `{"typ":"at+jwt","alg":…,"kid":…}`.
    access_header: String,
    /// base64url of `{"typ":"JWT","alg":…,"kid":…}`.
    id_header: String,
}

fn encoded_header(typ: &str, alg: SigningAlg, kid: &str) -> Result<String, KeyError> {
    let header = serde_json::json!({"typ": typ, "alg": alg.as_str(), "kid": kid});
    let bytes = serde_json::to_vec(&header).map_err(|e| KeyError::Sign(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Signer {
    /// Parses the private key stored by `material::generate`: PKCS#1 DER for
    /// RSA, PKCS#8 DER for P-256 and Ed25519.
    pub fn new(
        kid: String,
        alg: SigningAlg,
        activated_at: i64,
        private_der: &[u8],
    ) -> Result<Self, KeyError> {
        let unusable = |e: String| KeyError::Corrupt {
            kid: kid.clone(),
            why: format!("the private key cannot sign: {e}"),
        };
        // One RSA key pair for RS256 and PS256; the padding is the
        // algorithm's: PKCS#1 v1.5, or PSS with SHA-256, MGF1 with SHA-256
        // and a 32-byte salt (RFC 7518 §3.5).
        let rsa = |padding: &'static dyn RsaEncoding| {
            RsaKeyPair::from_der(private_der)
                .map(|key| KeyPair::Rsa { key, padding })
                .map_err(|e| unusable(e.to_string()))
        };
        let pair = match alg {
            SigningAlg::Rs256 => rsa(&RSA_PKCS1_SHA256)?,
            SigningAlg::Ps256 => rsa(&RSA_PSS_SHA256)?,
            SigningAlg::Es256 => KeyPair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private_der)
                    .map_err(|e| unusable(e.to_string()))?,
            ),
            SigningAlg::EdDsa => KeyPair::Ed(
                Ed25519KeyPair::from_pkcs8(private_der).map_err(|e| unusable(e.to_string()))?,
            ),
        };
        Ok(Signer {
            access_header: encoded_header("at+jwt", alg, &kid)?,
            id_header: encoded_header("JWT", alg, &kid)?,
            kid,
            alg,
            activated_at,
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// Signs `claims` as a compact JWS with `typ` in the header (RFC 9068 wants
    /// `at+jwt` for access tokens; ID tokens use `JWT`).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = match typ {
            "at+jwt" => self.access_header.clone(),
            "JWT" => self.id_header.clone(),
            other => encoded_header(other, self.alg, &self.kid)?,
        };
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
        let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = match &self.pair {
            KeyPair::Rsa { key, padding } => {
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(*padding, &self.rng, token.as_bytes(), &mut sig)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                sig
            }
            KeyPair::Ec(key) => key
                .sign(&self.rng, token.as_bytes())
                .map_err(|e| KeyError::Sign(e.to_string()))?
                .as_ref()
                .to_vec(),
            // Deterministic (RFC 8032 §5.1.6): no randomness to draw.
            KeyPair::Ed(key) => key.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::material::generate;

    #[test]
    fn tokens_verify_with_jsonwebtoken_and_the_public_jwk() {
        for alg in SigningAlg::ALL {
            let key = generate(alg).unwrap();
            let signer = Signer::new(key.kid.clone(), alg, 0, &key.private_der).unwrap();
            let token = signer
                .sign(
                    "at+jwt",
                    &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                )
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&key.public_jwk).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut validation = jsonwebtoken::Validation::new(alg.jwt_algorithm());
            validation.validate_aud = false;
            let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
                .unwrap()
                .claims;
            assert_eq!(claims["sub"], "x");
        }
    }

    #[test]
    fn rsa_padding_is_the_algorithms() {
        use aws_lc_rs::signature::{
            RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
        };
        for (alg, scheme, other) in [
            (
                SigningAlg::Rs256,
                &RSA_PKCS1_2048_8192_SHA256,
                &RSA_PSS_2048_8192_SHA256,
            ),
            (
                SigningAlg::Ps256,
                &RSA_PSS_2048_8192_SHA256,
                &RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let key = generate(alg).unwrap();
            let signer = Signer::new(key.kid.clone(), alg, 0, &key.private_der).unwrap();
            let token = signer
                .sign("JWT", &serde_json::json!({"sub": "x"}))
                .unwrap();
            let (input, signature) = token.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
            let part = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
            let public = RsaPublicKeyComponents {
                n: part("n"),
                e: part("e"),
            };
            assert!(public.verify(scheme, input.as_bytes(), &signature).is_ok());
            assert!(
                public.verify(other, input.as_bytes(), &signature).is_err(),
                "{alg} signed with the other padding"
            );
        }
    }
}
