//! The DPoP scenario (RFC 9449): a client-credentials request of the ES256
//! client carrying a fresh proof each time (a new `jti`, the current
//! `iat`), so the server verifies the proof's signature and records its
//! `jti` (a write) before it signs a token bound to the key. The proofs are
//! signed before the clock starts, one per request the window can hold, so
//! the load generator — on the same two cores — spends nothing on them
//! while the server is measured, as for `client_credentials-ES256`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::EcdsaKeyPair;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hyper::Method;
use serde_json::json;

use crate::fixture::Fixture;
use crate::http::{basic, expect, json, Conn};

/// The client whose tokens the scenario binds (the plain ES256 one, so the
/// difference to `client_credentials-ES256` is the proof alone).
pub const CLIENT: &str = "cc-es256";

/// One key and the proofs it signs, shared by the virtual users.
pub struct Prover {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// base64url of `{"typ":"dpop+jwt","alg":"ES256","jwk":{…}}`.
    header: String,
    htu: String,
    /// Makes every `jti` of the run distinct.
    counter: AtomicU64,
    run: String,
}

impl Prover {
    /// A fresh P-256 key; proofs for `POST` to the server's token endpoint.
    pub fn new(issuer: &str) -> Result<Self, String> {
        let (_, pair, jwk) = super::private_key_jwt::p256_key()?;
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_nanos();
        Ok(Prover {
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            htu: format!("{issuer}/token"),
            counter: AtomicU64::new(0),
            run: format!("{run:x}"),
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// A proof for one request, never the same twice.
    pub fn proof(&self) -> Result<String, String> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let claims =
            json!({"jti": format!("{}-{n}", self.run), "htm": "POST", "htu": self.htu, "iat": iat});
        let mut jws = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| "cannot sign a proof")?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }
}

/// Proofs made ahead for a window of `window`: more than the server could
/// answer in it. A proof is good for 300 s after its `iat` (the server's
/// window), so the window must close well before.
pub fn prepare(issuer: &str, window: Duration) -> Result<Vec<String>, String> {
    if window > Duration::from_secs(240) {
        return Err("DPoP proofs made before the clock starts would age past the server's 300 s window: a --duration of at most 240 s".into());
    }
    let prover = Prover::new(issuer)?;
    let wanted = (window.as_secs_f64() * PROOFS_PER_SECOND) as usize + 1_000;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = wanted.div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .map(|_| prover.proof())
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(wanted);
        for worker in workers {
            all.extend(worker.join().map_err(|_| "a proof signer panicked")??);
        }
        Ok(all)
    })
}

/// More proofs a second than the server can check on this machine.
const PROOFS_PER_SECOND: f64 = 25_000.0;

/// One client-credentials request with a proof; the token must come back
/// DPoP-bound.
pub async fn client_credentials(conn: &mut Conn, f: &Fixture, proof: &str) -> Result<(), String> {
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[
                ("authorization", &basic(CLIENT, f.secret(CLIENT))),
                ("dpop", proof),
            ],
            Some("grant_type=client_credentials".into()),
        )
        .await?;
    expect(&r, 200)?;
    let body = json(&r)?;
    if body["token_type"] != "DPoP" || body["access_token"].as_str().is_none() {
        return Err(format!("not a DPoP-bound token: {body}"));
    }
    Ok(())
}
