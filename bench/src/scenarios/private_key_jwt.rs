//! The `private_key_jwt` scenario (RFC 7523 §2.2): a client-credentials
//! request authenticated by an ES256 assertion instead of a secret, each
//! with a fresh `jti`, so the server verifies a signature and records the
//! `jti` (a write) before it signs the token. The client's key is made at
//! provisioning; the load generator signs with aws-lc-rs, prepared once,
//! so each assertion costs it one P-256 signature.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hyper::Method;
use serde_json::{json, Value};

use crate::fixture::Fixture;
use crate::http::{expect, json, Conn};
use crate::server::Server;

/// `--auth-method private_key_jwt --jwks FILE --signing-alg ES256`; the
/// fixture holds its private key (PKCS#8, base64url) where other clients
/// have their secret: it is what this client authenticates with.
pub const CLIENT: &str = "cc-es256-pkjwt";

const KID: &str = "bench-1";

const ASSERTION_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

/// A fresh P-256 key pair (its PKCS#8 document beside it) and its public
/// JWK (`kty`, `crv`, `x`, `y`): what this scenario's client and the DPoP
/// scenario's prover sign with.
pub fn p256_key() -> Result<(Vec<u8>, EcdsaKeyPair, Value), String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| "cannot make a P-256 key")?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| "cannot read the P-256 key just made")?;
    // The uncompressed point: 0x04 || x || y.
    let point = pair.public_key().as_ref();
    if point.len() != 65 {
        return Err("unexpected P-256 public key encoding".into());
    }
    let jwk = json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
    Ok((pkcs8.as_ref().to_vec(), pair, jwk))
}

/// Makes the client's key pair and registers the client with its public
/// key through the CLI; returns the private key for the fixture.
pub fn provision(server: &Server) -> Result<(&'static str, String), String> {
    let (pkcs8, _, mut jwk) = p256_key()?;
    jwk["kid"] = json!(KID);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!("ES256");
    let jwks = json!({ "keys": [jwk] });
    let path = server.dir().join("pkjwt-jwks.json");
    std::fs::write(&path, jwks.to_string()).map_err(|e| e.to_string())?;
    let path = path.to_str().ok_or("the JWKS path is not UTF-8")?;
    let out: Value = serde_json::from_str(&server.cli(
        &[
            "client",
            "add",
            CLIENT,
            "--json",
            "--grant-types",
            "client_credentials",
            "--scope",
            "api",
            "--signing-alg",
            "ES256",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            path,
        ],
        None,
    )?)
    .map_err(|e| e.to_string())?;
    if out["token_endpoint_auth_method"] != "private_key_jwt" {
        return Err(format!("{CLIENT} was not registered for private_key_jwt"));
    }
    Ok((CLIENT, URL_SAFE_NO_PAD.encode(&pkcs8)))
}

/// What every virtual user signs with, and the parts of each assertion
/// that never change.
pub struct Signer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// base64url of the JWS header.
    header: String,
    audience: String,
    /// This run's prefix of every `jti`, and the counter after it.
    run: String,
    next: AtomicU64,
}

impl Signer {
    pub fn prepare(f: &Fixture) -> Result<Signer, String> {
        let pkcs8 = URL_SAFE_NO_PAD
            .decode(f.secret(CLIENT))
            .map_err(|_| format!("no private key for {CLIENT}"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| format!("{CLIENT}'s private key does not read"))?;
        let header = json!({"alg": "ES256", "kid": KID, "typ": "JWT"}).to_string();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_nanos();
        Ok(Signer {
            pair,
            rng: SystemRandom::new(),
            header: URL_SAFE_NO_PAD.encode(header),
            audience: f.issuer.clone(),
            run: format!("{}-{nanos:x}", std::process::id()),
            next: AtomicU64::new(0),
        })
    }

    /// A fresh assertion: valid for a minute, with a `jti` never used before.
    pub fn assertion(&self) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let claims = format!(
            r#"{{"iss":"{CLIENT}","sub":"{CLIENT}","aud":"{}","iat":{now},"exp":{},"jti":"{}-{n}"}}"#,
            self.audience,
            now + 60,
            self.run
        );
        let input = format!("{}.{}", self.header, URL_SAFE_NO_PAD.encode(claims));
        let signature = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| "signing failed")?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

/// One client-credentials request with a fresh assertion: 200 with an
/// access token.
pub async fn client_credentials(conn: &mut Conn, signer: &Signer) -> Result<(), String> {
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={ASSERTION_TYPE}&client_assertion={}",
        signer.assertion()?
    );
    let r = conn.send(Method::POST, "/token", &[], Some(body)).await?;
    expect(&r, 200)?;
    if json(&r)?["access_token"].as_str().is_none() {
        return Err("no access token".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_verify_with_the_public_key_and_never_repeat_a_jti() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let signer = Signer {
            pair,
            rng,
            header: URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
            audience: "http://127.0.0.1:1".into(),
            run: "r".into(),
            next: AtomicU64::new(0),
        };
        let (a, b) = (signer.assertion().unwrap(), signer.assertion().unwrap());
        let claims = |jwt: &str| -> Value {
            serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jwt.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_ne!(claims(&a)["jti"], claims(&b)["jti"]);
        assert_eq!(claims(&a)["iss"], CLIENT);
        assert_eq!(claims(&a)["aud"], "http://127.0.0.1:1");
        let (input, sig) = a.rsplit_once('.').unwrap();
        let key = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            public,
        );
        key.verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
    }
}
