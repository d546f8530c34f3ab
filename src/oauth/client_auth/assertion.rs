//! `private_key_jwt`: the client signs a short-lived JWT with its private
//! key and sends it as `client_assertion` (RFC 7523 §2.2, §3; RFC 7521
//! §4.2; OIDC Core §9). It is checked against the keys the client
//! registered (`jwks`) or publishes (`jwks_uri`, fetched through
//! `remote::jwks`), and its `jti` is accepted once, at every replica.
//!
//! What an assertion must be:
//! - signed with one of [`jwk::ALGS`] (FAPI 2.0 clients: [`jwk::FAPI2_ALGS`]),
//!   by the key its `kid` names (or the client's only key that fits);
//! - `iss` = `sub` = the client's id;
//! - `aud` the issuer identifier, or (except for FAPI 2.0 clients, which
//!   must use the issuer) the token endpoint's URL or the URL of the
//!   endpoint it is sent to;
//! - `exp` in the future and at most [`MAX_LIFETIME`] ahead; `iat` and
//!   `nbf`, if present, not in the future; each with [`SKEW`] allowed;
//! - a `jti` never seen before.
//!
//! Every refusal is the same `invalid_client` to the client; the log says
//! why (never the assertion itself).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::{jwk, Endpoint};
use crate::oauth::clients::{AuthMethod, Client};
use crate::oauth::Context;
use crate::secrets;
use crate::store::{seen_jtis, StoreError};

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Seconds of clock difference allowed between client and server, on
/// every time claim.
pub const SKEW: i64 = 60;

/// The furthest ahead `exp` may be (plus [`SKEW`]): an assertion is made
/// for one request, and its `jti` must be remembered for as long as it
/// could be accepted, so a long-lived one is refused rather than stored.
pub const MAX_LIFETIME: i64 = 600;

/// Longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

/// Why an assertion was refused (for the log only), or the database
/// failing while its `jti` was recorded.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the client is not registered for private_key_jwt")]
    NotPrivateKeyJwt,
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    #[error("the header has `crit`, which is not supported")]
    Critical,
    #[error("algorithm {0} is not accepted for this client")]
    Algorithm(String),
    #[error("the algorithm {0} differs from the registered token_endpoint_auth_signing_alg")]
    NotRegisteredAlgorithm(&'static str),
    #[error("no registered key fits (kid {0:?})")]
    NoKey(Option<String>),
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Fetch(crate::remote::FetchError),
    #[error("the client has neither jwks nor jwks_uri")]
    NoKeys,
    #[error("the signature or claims do not verify: {0}")]
    Signature(jsonwebtoken::errors::Error),
    #[error("iss must be the client id")]
    Issuer,
    #[error("sub must be the client id")]
    Subject,
    #[error("aud does not name this server")]
    Audience,
    #[error("exp is missing")]
    NoExpiry,
    #[error("expired")]
    Expired,
    #[error("exp is more than {MAX_LIFETIME} s ahead")]
    TooLongLived,
    #[error("iat is in the future")]
    IssuedInFuture,
    #[error("nbf is in the future")]
    NotYetValid,
    #[error("jti is missing or longer than {MAX_JTI_LEN} characters")]
    NoJti,
    #[error("the jti was used before (a replay)")]
    Replayed,
}

/// RFC 7519's registered claims, as an assertion carries them. Times are
/// NumericDates: JSON numbers, fractions allowed.
#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn values(&self) -> &[String] {
        match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        }
    }
}

/// The assertion's `sub`, unverified: only to find the client whose keys
/// then verify it, when the request names no `client_id` (RFC 7523 §3).
pub fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The header members that choose the key, read before anything else.
struct Header {
    alg: Algorithm,
    kid: Option<String>,
}

fn header(assertion: &str) -> Result<Header, Refusal> {
    let mut parts = assertion.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed("not three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| Refusal::Malformed("the header is not base64url"))?;
    let header: Value =
        serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed("the header is not JSON"))?;
    // RFC 7515 §4.1.11: extensions the recipient must understand; none is.
    if header.get("crit").is_some() {
        return Err(Refusal::Critical);
    }
    let name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Refusal::Malformed("the header has no alg"))?;
    let alg = jwk::alg_by_name(name).ok_or_else(|| Refusal::Algorithm(name.to_owned()))?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Refusal::Malformed("kid is not a string")),
    };
    Ok(Header { alg, kid })
}

/// Verifies `assertion` as `client`'s authentication at `endpoint`, and
/// records its `jti`.
pub async fn verify(
    ctx: &Context,
    client: &Client,
    assertion: &str,
    endpoint: Endpoint,
) -> Result<(), Refusal> {
    if client.auth_method != AuthMethod::PrivateKeyJwt {
        return Err(Refusal::NotPrivateKeyJwt);
    }
    let header = header(assertion)?;
    if !jwk::allowed_algs(client).contains(&header.alg) {
        return Err(Refusal::Algorithm(jwk::alg_name(header.alg).to_owned()));
    }
    // RFC 7591 §2: a registered token_endpoint_auth_signing_alg is the only one.
    if let Some(registered) = client
        .metadata
        .get("token_endpoint_auth_signing_alg")
        .and_then(Value::as_str)
    {
        if registered != jwk::alg_name(header.alg) {
            return Err(Refusal::NotRegisteredAlgorithm(jwk::alg_name(header.alg)));
        }
    }
    let key = key_for(ctx, client, &header).await?;
    let mut validation = Validation::new(header.alg);
    // The claims are checked below, against the server's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(Refusal::Signature)?
        .claims;
    let now = ctx.now();
    let exp = check_claims(&claims, client, ctx.issuer(), endpoint, now)?;
    let Some(jti) = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
    else {
        return Err(Refusal::NoJti);
    };
    let hash = secrets::sha256_hex(&format!("client_assertion\0{}\0{jti}", client.client_id));
    // Kept as long as the assertion could be accepted: until exp + SKEW.
    let first = ctx
        .db
        .write(move |conn| seen_jtis::first_use(conn, &hash, exp + SKEW))
        .await?;
    if !first {
        return Err(Refusal::Replayed);
    }
    Ok(())
}

/// The key the header asks for, from the registered set or the one
/// published at the client's `jwks_uri`.
async fn key_for(ctx: &Context, client: &Client, header: &Header) -> Result<DecodingKey, Refusal> {
    let kid = header.kid.as_deref();
    let from = |set: &JwkSet| {
        jwk::select(set, kid, header.alg)
            .map(DecodingKey::from_jwk)
            .ok_or_else(|| Refusal::NoKey(header.kid.clone()))?
            .map_err(Refusal::Signature)
    };
    if let Some(set) = &client.jwks {
        return from(set);
    }
    let Some(uri) = &client.jwks_uri else {
        return Err(Refusal::NoKeys);
    };
    let set = ctx
        .client_jwks
        .get(uri, ctx.now(), |set| jwk::select(set, kid, header.alg).is_some())
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.client_id, jwks_uri = %uri, error = %e, "cannot fetch a client's JWK Set");
            Refusal::Fetch(e)
        })?;
    from(&set)
}

/// RFC 7523 §3's claims, at `now`; returns `exp`.
fn check_claims(
    claims: &Claims,
    client: &Client,
    issuer: &str,
    endpoint: Endpoint,
    now: i64,
) -> Result<i64, Refusal> {
    if claims.iss.as_deref() != Some(client.client_id.as_str()) {
        return Err(Refusal::Issuer);
    }
    if claims.sub.as_deref() != Some(client.client_id.as_str()) {
        return Err(Refusal::Subject);
    }
    let fapi2 = client.is_fapi2();
    let names_us = |aud: &String| {
        aud == issuer
            || (!fapi2
                && aud
                    .strip_prefix(issuer)
                    .is_some_and(|path| path == Endpoint::Token.path() || path == endpoint.path()))
    };
    if !claims
        .aud
        .as_ref()
        .is_some_and(|a| a.values().iter().any(names_us))
    {
        return Err(Refusal::Audience);
    }
    let exp = claims.exp.ok_or(Refusal::NoExpiry)?.floor() as i64;
    if now >= exp.saturating_add(SKEW) {
        return Err(Refusal::Expired);
    }
    if exp > now + MAX_LIFETIME + SKEW {
        return Err(Refusal::TooLongLived);
    }
    if claims.iat.is_some_and(|iat| iat > (now + SKEW) as f64) {
        return Err(Refusal::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| nbf > (now + SKEW) as f64) {
        return Err(Refusal::NotYetValid);
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;
    use crate::oauth::clients::{GrantType, Profile};
    use crate::oauth::Scope;
    use serde_json::json;

    const ISSUER: &str = "https://id.example.com";
    const NOW: i64 = 1_800_000_000;

    fn client(fapi2: bool) -> Client {
        let mut c = Client::for_tests(
            "svc",
            false,
            vec![GrantType::ClientCredentials],
            vec![],
            Scope::parse("api").unwrap(),
            SigningAlg::Es256,
            false,
        );
        c.auth_method = AuthMethod::PrivateKeyJwt;
        if fapi2 {
            c.profile = Some(Profile::Fapi2);
        }
        c
    }

    fn claims(extra: Value) -> Claims {
        let mut base =
            json!({"iss": "svc", "sub": "svc", "aud": ISSUER, "exp": NOW + 60, "jti": "j"});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn check(extra: Value, fapi2: bool, endpoint: Endpoint) -> Result<i64, Refusal> {
        check_claims(&claims(extra), &client(fapi2), ISSUER, endpoint, NOW)
    }

    #[test]
    fn the_audience_is_the_issuer_or_for_most_clients_an_endpoint() {
        let token = format!("{ISSUER}/token");
        let introspect = format!("{ISSUER}/introspect");
        assert!(check(json!({}), false, Endpoint::Token).is_ok());
        assert!(check(json!({"aud": token}), false, Endpoint::Token).is_ok());
        assert!(check(json!({"aud": token}), false, Endpoint::Introspection).is_ok());
        assert!(check(json!({"aud": introspect}), false, Endpoint::Introspection).is_ok());
        assert!(check(json!({"aud": ["x", ISSUER]}), false, Endpoint::Token).is_ok());
        assert!(matches!(
            check(json!({"aud": introspect}), false, Endpoint::Revocation),
            Err(Refusal::Audience)
        ));
        assert!(matches!(
            check(json!({"aud": token}), true, Endpoint::Token),
            Err(Refusal::Audience)
        ));
        assert!(check(json!({"aud": [ISSUER]}), true, Endpoint::Token).is_ok());
        for bad in [
            json!("https://id.example.com/"),
            json!("https://id.example.com.evil/token"),
            json!([]),
        ] {
            assert!(matches!(
                check(json!({ "aud": bad }), false, Endpoint::Token),
                Err(Refusal::Audience)
            ));
        }
    }

    #[test]
    fn times_are_checked_with_skew_and_a_lifetime_limit() {
        let t = Endpoint::Token;
        assert_eq!(
            check(json!({"exp": NOW - SKEW + 1}), false, t).unwrap(),
            NOW - SKEW + 1
        );
        assert!(matches!(
            check(json!({"exp": NOW - SKEW}), false, t),
            Err(Refusal::Expired)
        ));
        assert!(check(json!({"exp": NOW + MAX_LIFETIME + SKEW}), false, t).is_ok());
        assert!(matches!(
            check(json!({"exp": NOW + MAX_LIFETIME + SKEW + 1}), false, t),
            Err(Refusal::TooLongLived)
        ));
        assert!(check(json!({"exp": (NOW + 30) as f64 + 0.5}), false, t).is_ok());
        assert!(check(json!({"iat": NOW + SKEW, "nbf": NOW + SKEW}), false, t).is_ok());
        assert!(matches!(
            check(json!({"iat": NOW + SKEW + 1}), false, t),
            Err(Refusal::IssuedInFuture)
        ));
        assert!(matches!(
            check(json!({"nbf": NOW + SKEW + 1}), false, t),
            Err(Refusal::NotYetValid)
        ));
        let mut no_exp = claims(json!({}));
        no_exp.exp = None;
        assert!(matches!(
            check_claims(&no_exp, &client(false), ISSUER, t, NOW),
            Err(Refusal::NoExpiry)
        ));
    }

    #[test]
    fn iss_and_sub_are_the_client() {
        let t = Endpoint::Token;
        assert!(matches!(
            check(json!({"iss": "other"}), false, t),
            Err(Refusal::Issuer)
        ));
        assert!(matches!(
            check(json!({"sub": "other"}), false, t),
            Err(Refusal::Subject)
        ));
    }

    #[test]
    fn the_header_names_an_accepted_algorithm_and_nothing_critical() {
        let jws = |h: Value| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(h.to_string()));
        assert!(header(&jws(json!({"alg": "ES256", "kid": "k"}))).is_ok());
        for (h, why) in [
            (json!({"alg": "none"}), "none"),
            (json!({"alg": "HS256"}), "HS256"),
            (json!({"alg": "ES384"}), "ES384"),
            (json!({"alg": "ES256", "crit": ["b64"]}), "crit"),
            (json!({"alg": "ES256", "kid": 7}), "kid"),
            (json!({"kid": "k"}), "no alg"),
        ] {
            assert!(header(&jws(h)).is_err(), "{why}");
        }
        assert!(header("a.b").is_err() && header("a.b.c.d").is_err());
        assert_eq!(
            unverified_subject(&format!(
                "x.{}.y",
                URL_SAFE_NO_PAD.encode(r#"{"sub":"svc"}"#)
            )),
            Some("svc".into())
        );
        assert_eq!(unverified_subject("x.!!.y"), None);
    }
}
