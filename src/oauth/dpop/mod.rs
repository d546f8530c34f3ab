//! DPoP (RFC 9449): proofs of possession of a client's key, checked at the
//! token endpoint (§5), at PAR (§10.1) and at the resources this server is
//! (userinfo, the admin API: §7). A proof binds tokens to the key's RFC 7638
//! thumbprint (`jkt`), which access tokens carry as `cnf.jkt`.
//!
//! Checks, in the order of §4.3: one well-formed JWT → `typ` `dpop+jwt` →
//! an asymmetric `alg` → a public `jwk` only → the signature by that key →
//! `htm` and `htu` → `iat` in the window → `nonce` (when the server asks
//! for them) → `ath` (at a resource) → `jti` never seen before, at any
//! replica (stored until the window has passed).

pub mod nonce;
mod proof;

pub use nonce::Nonces;
pub use proof::{thumbprint, ALGS};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{Context, Error};
use crate::secrets;
use crate::store::seen_jtis;

/// How far a proof's `iat` may be from the server's clock (RFC 9449 §11.1):
/// this far ahead (clock skew), and [`MAX_AGE`] behind.
pub const MAX_SKEW: i64 = 60;
pub const MAX_AGE: i64 = 300;

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// `htm`: the HTTP method.
    pub method: &'a str,
    /// The endpoint's path on this server; `htu` must be the issuer's URL
    /// with this path (query and fragment ignored, §4.3 step 9).
    pub path: &'a str,
    /// At a resource: the access token presented with the proof (`ath`).
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
}

/// Checks the `DPoP` header values of a request (`headers`: every value the
/// request carried; more than one is refused, §4.3 step 1) for `target`.
/// `Ok(None)` when there was no proof at all.
pub async fn check(
    ctx: &Context,
    headers: &[&str],
    target: Target<'_>,
) -> Result<Option<Proven>, Error> {
    let proof = match headers {
        [] => return Ok(None),
        [one] => *one,
        _ => {
            return Err(Error::invalid_dpop_proof(
                "send one DPoP proof, not several",
            ))
        }
    };
    let now = ctx.now();
    let claims = proof::verify(proof)?;
    if claims.htm != target.method {
        return Err(Error::invalid_dpop_proof(
            "the proof's htm is not this request's method",
        ));
    }
    if !proof::same_uri(&claims.htu, &format!("{}{}", ctx.issuer(), target.path)) {
        return Err(Error::invalid_dpop_proof(
            "the proof's htu is not this endpoint's URL",
        ));
    }
    if claims.iat > now + MAX_SKEW || claims.iat < now - MAX_AGE {
        return Err(Error::invalid_dpop_proof(
            "the proof's iat is outside the accepted window",
        ));
    }
    if let Some(nonces) = ctx.dpop_nonces.as_ref() {
        let fresh = claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, now));
        if !fresh {
            return Err(Error::use_dpop_nonce(nonces.current(now)));
        }
    }
    if let Some(token) = target.access_token {
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        let matches = claims
            .ath
            .as_deref()
            .is_some_and(|ath| secrets::constant_time_eq(ath, &expected));
        if !matches {
            return Err(Error::invalid_dpop_proof(
                "the proof's ath is not the hash of the access token",
            ));
        }
    }
    let jti_hash = secrets::sha256_hex(&format!("dpop\0{}\0{}", claims.jkt, claims.jti));
    // Kept until no proof with this iat could be accepted any more.
    let keep_until = claims.iat.max(now) + MAX_AGE + MAX_SKEW;
    let first = ctx
        .db
        .write(move |conn| seen_jtis::first_use(conn, &jti_hash, keep_until))
        .await?;
    if !first {
        return Err(Error::invalid_dpop_proof("this DPoP proof was used before"));
    }
    Ok(Some(Proven { jkt: claims.jkt }))
}

/// The fresh nonce to send along with a successful answer, when nonces are on.
pub fn next_nonce(ctx: &Context) -> Option<String> {
    ctx.dpop_nonces.as_ref().map(|n| n.current(ctx.now()))
}
