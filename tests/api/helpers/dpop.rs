//! A client's DPoP key and the proofs it makes (RFC 9449 §4), built the
//! way a client library does: a fresh P-256 key, its public JWK in the
//! header, signed with jsonwebtoken.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct DpopKey {
    encoding: EncodingKey,
    /// The public JWK, as the proof header carries it.
    pub jwk: Value,
    /// Its RFC 7638 thumbprint (`cnf.jkt`, `dpop_jkt`).
    pub jkt: String,
}

impl DpopKey {
    pub fn es256() -> Self {
        let key = p256::SecretKey::random(&mut rand_core::OsRng);
        let point = key.public_key().to_encoded_point(false);
        let x = URL_SAFE_NO_PAD.encode(point.x().unwrap());
        let y = URL_SAFE_NO_PAD.encode(point.y().unwrap());
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let der = key.to_pkcs8_der().unwrap();
        DpopKey {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            jkt,
        }
    }

    /// The claims of a fresh proof for `htm` `htu` at `iat`.
    pub fn claims(htm: &str, htu: &str, iat: i64) -> Value {
        json!({
            "jti": portcullis::secrets::random_token(16),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        })
    }

    /// A proof with these claims, the header's `jwk` being `jwk` (normally
    /// this key's own) and `typ` `dpop+jwt`.
    pub fn sign(&self, claims: &Value, jwk: &Value, typ: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.jwk = Some(serde_json::from_value(jwk.clone()).unwrap());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A good proof for `htm` `htu`, with `ath` for `access_token` and the
    /// server's `nonce` when given.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = Self::claims(htm, htu, iat);
        if let Some(token) = access_token {
            claims["ath"] = json!(ath(token));
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        self.sign(&claims, &self.jwk, "dpop+jwt")
    }
}

/// RFC 9449 §4.2: base64url(SHA-256(access token)).
pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A compact JWS with `header` and `claims` as JSON and no signature
/// (`alg: none`).
pub fn unsigned(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", part(header), part(claims))
}
