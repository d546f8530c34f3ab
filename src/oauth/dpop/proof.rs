//! One DPoP proof JWT, read and verified by the key it carries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::oauth::client_auth::jwk;
use crate::oauth::Error;
use crate::remote::jwks::PRIVATE_MEMBERS;

/// The proof algorithms accepted, as discovery lists them
/// (`dpop_signing_alg_values_supported`): asymmetric only (§4.3 step 5).
pub const ALGS: [&str; 4] = ["ES256", "PS256", "RS256", "EdDSA"];

/// A proof is small; anything much larger is not one.
const MAX_PROOF_LEN: usize = 8192;

#[derive(Debug, Deserialize)]
pub(super) struct Claims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(default)]
    pub ath: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    /// Not a claim: the thumbprint of the header's key, filled in here.
    #[serde(skip)]
    pub jkt: String,
}

fn bad(why: &'static str) -> Error {
    Error::invalid_dpop_proof(why)
}

/// Reads the header, checks its key and signature, and returns the claims
/// with the key's thumbprint. Nothing here trusts the proof before its
/// signature is checked, except to find the key that checks it.
pub(super) fn verify(proof: &str) -> Result<Claims, Error> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(bad("the DPoP proof is too long"));
    }
    let header_b64 = proof
        .split('.')
        .next()
        .filter(|_| proof.split('.').count() == 3)
        .ok_or_else(|| bad("the DPoP proof is not a compact JWS"))?;
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| bad("the DPoP proof's header is not JSON"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some(name) if ALGS.contains(&name) => name,
        _ => {
            return Err(bad(
                "the DPoP proof's alg is not an accepted asymmetric one",
            ))
        }
    };
    let algorithm: Algorithm = alg
        .parse()
        .map_err(|_| bad("the DPoP proof's alg is not an accepted asymmetric one"))?;
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the DPoP proof's header carries no jwk"))?;
    let jkt = thumbprint(jwk).ok_or_else(|| bad("the DPoP proof's jwk is not a public key"))?;
    let key = decoding_key(jwk, alg)?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let mut claims = jsonwebtoken::decode::<Claims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                bad("the DPoP proof's signature does not verify with its jwk")
            }
            jsonwebtoken::errors::ErrorKind::Json(_) => {
                bad("the DPoP proof lacks jti, htm, htu or iat")
            }
            _ => bad("the DPoP proof cannot be verified"),
        })?
        .claims;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(bad("the DPoP proof's jti is empty or too long"));
    }
    claims.jkt = jkt;
    Ok(claims)
}

/// The key the header's `jwk` stands for, if it suits `alg`.
fn decoding_key(jwk: &Map<String, Value>, alg: &str) -> Result<DecodingKey, Error> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or("");
    let wrong = || bad("the DPoP proof's jwk does not suit its alg");
    let key = match (member("kty"), alg) {
        ("EC", "ES256") if member("crv") == "P-256" => {
            DecodingKey::from_ec_components(member("x"), member("y"))
        }
        ("RSA", "RS256" | "PS256") => {
            let n = URL_SAFE_NO_PAD.decode(member("n")).map_err(|_| wrong())?;
            // The same floor as for registered client keys.
            if jwk::significant_bits(&n) < jwk::MIN_RSA_BITS {
                return Err(bad("the DPoP proof's RSA key is shorter than 2048 bits"));
            }
            DecodingKey::from_rsa_components(member("n"), member("e"))
        }
        ("OKP", "EdDSA") if member("crv") == "Ed25519" => {
            DecodingKey::from_ed_components(member("x"))
        }
        _ => return Err(wrong()),
    };
    key.map_err(|_| wrong())
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: `None` for
/// a private or symmetric key, or one missing a required member.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    if PRIVATE_MEMBERS
        .iter()
        .any(|private| jwk.contains_key(*private))
    {
        return None;
    }
    let member = |name: &str| -> Option<String> {
        let value = jwk.get(name)?.as_str()?;
        // A JSON string: escaped exactly as serde_json writes it (§3.3).
        serde_json::to_string(value).ok()
    };
    let canonical = match jwk.get("kty")?.as_str()? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// RFC 9449 §4.3 step 9: `htu` equals the endpoint's URL, compared after
/// syntax-based normalisation (RFC 3986 §6.2.2: scheme and host case,
/// default port, percent-encoding) and without query or fragment.
pub(super) fn same_uri(htu: &str, expected: &str) -> bool {
    let normal = |text: &str| -> Option<String> {
        let mut url = url::Url::parse(text).ok()?;
        url.set_query(None);
        url.set_fragment(None);
        Some(url.to_string())
    };
    match (normal(htu), normal(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_and_private_keys_refused() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        let jwk = jwk.as_object().unwrap();
        assert_eq!(
            thumbprint(jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        let mut private = jwk.clone();
        private.insert("d".into(), "x".into());
        assert_eq!(thumbprint(&private), None);
        let symmetric = serde_json::json!({"kty": "oct", "k": "c2VjcmV0"});
        assert_eq!(thumbprint(symmetric.as_object().unwrap()), None);
    }

    #[test]
    fn htu_compares_normalised_without_query() {
        assert!(same_uri(
            "HTTPS://Server.Example.com:443/token?x=1#f",
            "https://server.example.com/token"
        ));
        assert!(!same_uri(
            "https://server.example.com/token/",
            "https://server.example.com/token"
        ));
        assert!(!same_uri(
            "https://other.example.com/token",
            "https://server.example.com/token"
        ));
        assert!(!same_uri("not a url", "https://server.example.com/token"));
    }
}
