//! Which client keys and algorithms `private_key_jwt` accepts: the rules a
//! registered JWK Set must pass (`clients::validate`) and the key an
//! assertion is checked with (`assertion.rs`), in one place.
//!
//! These are the *clients'* algorithms, independent of the algorithms the
//! server signs its own tokens with (`keys::SigningAlg`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::oauth::clients::Client;
use crate::remote::jwks::PRIVATE_MEMBERS;

/// Asymmetric algorithms a client may sign its assertions with. `none`
/// and the HMAC family never: a shared-key JWT is `client_secret_jwt`,
/// which is not offered.
pub const ALGS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Under the FAPI 2.0 Security Profile (§5.4.1): no RSASSA-PKCS1-v1_5.
pub const FAPI2_ALGS: [Algorithm; 3] = [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// [`ALGS`] by name, as discovery lists them.
pub const ALG_NAMES: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Most keys in a registered set: enough for a rotation or two.
pub const MAX_KEYS: usize = 20;

pub const MIN_RSA_BITS: usize = 2048;
/// Verifying with a larger modulus costs more than any client needs.
pub const MAX_RSA_BITS: usize = 8192;

/// The algorithms `client` may use.
pub fn allowed_algs(client: &Client) -> &'static [Algorithm] {
    if client.is_fapi2() {
        &FAPI2_ALGS
    } else {
        &ALGS
    }
}

/// An algorithm by its JWS name, if it is one of [`ALGS`].
pub fn alg_by_name(name: &str) -> Option<Algorithm> {
    ALG_NAMES.iter().position(|n| *n == name).map(|i| ALGS[i])
}

/// The JWS name of one of [`ALGS`].
pub fn alg_name(alg: Algorithm) -> &'static str {
    ALGS.iter()
        .position(|a| *a == alg)
        .map_or("?", |i| ALG_NAMES[i])
}

/// Whether `jwk` is a public key of a kind this server verifies with:
/// RSA of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`], EC on P-256, OKP on Ed25519.
pub fn check_key(jwk: &Jwk) -> Result<(), String> {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map(|n| significant_bits(&n))
                .map_err(|_| "an RSA key's `n` must be base64url".to_owned())?;
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(format!(
                    "RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, this one has {bits}"
                ));
            }
            if URL_SAFE_NO_PAD
                .decode(&rsa.e)
                .map_or(true, |e| e.is_empty())
            {
                return Err("an RSA key's `e` must be base64url".into());
            }
            Ok(())
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            if ec.curve != EllipticCurve::P256 {
                return Err("EC keys must be on P-256 (ES256)".into());
            }
            let point = [&ec.x, &ec.y]
                .iter()
                .map(|c| URL_SAFE_NO_PAD.decode(c).ok().filter(|c| c.len() == 32))
                .collect::<Option<Vec<_>>>()
                .ok_or("an EC key's `x` and `y` must be 32 bytes each, base64url")?;
            let mut sec1 = vec![4u8];
            sec1.extend(point.concat());
            p256::PublicKey::from_sec1_bytes(&sec1)
                .map(|_| ())
                .map_err(|_| "the EC key is not a point on P-256".into())
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err("OKP keys must be Ed25519 (EdDSA)".into());
            }
            match URL_SAFE_NO_PAD.decode(&okp.x) {
                Ok(x) if x.len() == 32 => Ok(()),
                _ => Err("an Ed25519 key's `x` must be 32 bytes, base64url".into()),
            }
        }
        AlgorithmParameters::OctetKey(_) => Err(
            "symmetric (kty oct) keys are not accepted: private_key_jwt needs public keys".into(),
        ),
    }
}

/// Whether a published key (fetched from a `jwks_uri`) may ever verify an
/// assertion: it passes [`check_key`] and is not for encryption. Checked
/// once per fetch, as a registered set is once at registration, so that
/// [`fits`] need not be on every request.
pub fn usable(jwk: &Jwk) -> bool {
    matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    ) && check_key(jwk).is_ok()
}

/// Whether `jwk` (a key [`check_set`] or [`usable`] accepted) may verify a
/// JWS signed with `alg`: its type fits the algorithm, and its own `alg`
/// and `use`, if it names them, agree.
pub fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let kind_fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(alg, Algorithm::RS256 | Algorithm::PS256),
        AlgorithmParameters::EllipticCurve(ec) => {
            alg == Algorithm::ES256 && ec.curve == EllipticCurve::P256
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            alg == Algorithm::EdDSA && okp.curve == EllipticCurve::Ed25519
        }
        AlgorithmParameters::OctetKey(_) => false,
    };
    let alg_fits = match jwk.common.key_algorithm {
        None => true,
        Some(named) => named.to_string() == alg_name(alg),
    };
    let use_fits = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    kind_fits && alg_fits && use_fits
}

/// The key to verify an assertion with: the one named by `kid`, or,
/// without a `kid`, the only key that fits `alg`.
pub fn select<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let mut fitting = set.keys.iter().filter(|k| fits(k, alg));
    match kid {
        Some(kid) => fitting.find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let only = fitting.next()?;
            fitting.next().is_none().then_some(only)
        }
    }
}

/// Checks a JWK Set given at registration (RFC 7591 §2 `jwks`) and reads
/// it: 1 to [`MAX_KEYS`] public keys that pass [`check_key`], no private
/// or symmetric members, no `kid` twice, `use` (if given) `sig`, `alg` (if
/// given) one of [`ALGS`].
pub fn check_set(raw: &Value) -> Result<JwkSet, String> {
    let keys = raw
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JSON Web Key Set: an object with a `keys` array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!(
            "jwks must hold 1 to {MAX_KEYS} keys, not {}",
            keys.len()
        ));
    }
    let mut set = JwkSet { keys: Vec::new() };
    for (i, key) in keys.iter().enumerate() {
        let Some(members) = key.as_object() else {
            return Err(format!("jwks key {i} is not a JSON object"));
        };
        if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| members.contains_key(**m)) {
            return Err(format!(
                "jwks key {i} has the private or symmetric member `{private}`: register public keys only"
            ));
        }
        if members.get("kty").and_then(Value::as_str) == Some("oct") {
            return Err(format!(
                "jwks key {i} is symmetric (kty oct): register public keys only"
            ));
        }
        let jwk: Jwk = serde_json::from_value(key.clone()).map_err(|e| {
            format!("jwks key {i} is not an RSA, EC (P-256) or OKP (Ed25519) public key: {e}")
        })?;
        check_key(&jwk).map_err(|e| format!("jwks key {i}: {e}"))?;
        if let Some(usage) = &jwk.common.public_key_use {
            if *usage != PublicKeyUse::Signature {
                return Err(format!("jwks key {i}: `use` must be `sig`"));
            }
        }
        if let Some(alg) = jwk.common.key_algorithm {
            let named = alg_by_name(&alg.to_string());
            if named.is_none_or(|a| !fits(&jwk, a)) {
                return Err(format!(
                    "jwks key {i}: `alg` must be one of {} and fit the key",
                    ALG_NAMES.join(", ")
                ));
            }
        }
        if let Some(kid) = &jwk.common.key_id {
            if set
                .keys
                .iter()
                .any(|k| k.common.key_id.as_ref() == Some(kid))
            {
                return Err(format!("jwks has the kid `{kid}` twice"));
            }
        }
        set.keys.push(jwk);
    }
    Ok(set)
}

/// Bits in a big-endian unsigned integer, leading zeros not counted.
pub fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A point on P-256 (the public key of the scalar 7), base64url.
    fn point() -> (String, String) {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        (
            URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        )
    }

    fn ec(kid: &str) -> Value {
        let (x, y) = point();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": x, "y": y})
    }

    fn rsa(bits: usize) -> Value {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc1;
        json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"})
    }

    #[test]
    fn a_registered_set_holds_public_asymmetric_keys_only() {
        assert!(check_set(&json!({"keys": [ec("a"), rsa(2048)]})).is_ok());
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([7u8; 32])});
        assert!(check_set(&json!({"keys": [ed]})).is_ok());
        let (x, y) = point();
        let mut private = ec("a");
        private["d"] = json!("c2VjcmV0");
        let cases = [
            (json!({"keys": []}), "1 to 20"),
            (json!({"keys": "none"}), "`keys` array"),
            (
                json!({"keys": [private]}),
                "private or symmetric member `d`",
            ),
            (
                json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
                "member `k`",
            ),
            (json!({"keys": [{"kty": "oct"}]}), "symmetric"),
            (json!({"keys": [rsa(1024)]}), "2048 to 8192 bits"),
            (json!({"keys": [ec("a"), ec("a")]}), "twice"),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-384", "x": x, "y": y}]}),
                "P-256",
            ),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": x}]}),
                "not a point",
            ),
            (
                json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}),
                "32 bytes",
            ),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "enc"}]}),
                "`use`",
            ),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "RS256"}]}),
                "`alg`",
            ),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "HS256"}]}),
                "`alg`",
            ),
        ];
        for (set, expected) in cases {
            let err = check_set(&set).unwrap_err();
            assert!(err.contains(expected), "{set}: {err}");
        }
        let many: Vec<Value> = (0..21).map(|i| ec(&i.to_string())).collect();
        assert!(check_set(&json!({ "keys": many })).is_err());
    }

    #[test]
    fn a_key_is_selected_by_kid_or_as_the_only_one_that_fits() {
        let set = check_set(&json!({"keys": [ec("e1"), rsa(2048)]})).unwrap();
        let kid = |k: Option<&Jwk>| k.and_then(|k| k.common.key_id.clone());
        assert_eq!(
            kid(select(&set, Some("e1"), Algorithm::ES256)),
            Some("e1".into())
        );
        assert_eq!(kid(select(&set, None, Algorithm::ES256)), Some("e1".into()));
        assert_eq!(kid(select(&set, None, Algorithm::PS256)), Some("r".into()));
        assert!(
            select(&set, Some("e1"), Algorithm::RS256).is_none(),
            "kty must fit"
        );
        assert!(select(&set, Some("nope"), Algorithm::ES256).is_none());
        assert!(select(&set, None, Algorithm::EdDSA).is_none());
        let two = check_set(&json!({"keys": [ec("e1"), ec("e2")]})).unwrap();
        assert!(select(&two, None, Algorithm::ES256).is_none(), "ambiguous");
        let mut pinned = ec("p");
        pinned["alg"] = json!("ES256");
        let set = check_set(&json!({ "keys": [pinned] })).unwrap();
        assert!(select(&set, Some("p"), Algorithm::ES256).is_some());
    }

    #[test]
    fn fapi2_clients_lose_rs256() {
        assert!(ALGS.contains(&Algorithm::RS256) && !FAPI2_ALGS.contains(&Algorithm::RS256));
        for alg in [
            Algorithm::HS256,
            Algorithm::HS512,
            Algorithm::ES384,
            Algorithm::RS512,
        ] {
            assert!(!ALGS.contains(&alg), "{alg:?}");
        }
        assert_eq!(alg_by_name("EdDSA"), Some(Algorithm::EdDSA));
        assert_eq!(alg_by_name("none"), None);
    }
}
