//! The token-exchange scenarios (RFC 8693): the user logged in at `app`,
//! whose access tokens are for `svc-a`; svc-a trades such a token for one
//! for `svc-b`, signed with ES256. The user's token (and svc-a's own, as
//! the actor) is bought once before the clock starts and sent with every
//! request.

use std::time::Duration;

use hyper::Method;

use super::prepare::lives_through;
use crate::fixture::{password_tokens, Fixture};
use crate::http::{basic, expect, form, json, Conn};

/// The client the user logs in at (`--audience svc-a`).
pub const SUBJECT_CLIENT: &str = "app";
/// The service that exchanges (`--exchange-audience svc-b
/// --exchange-impersonation --signing-alg ES256`).
pub const EXCHANGER: &str = "svc-a";
/// The audience of the new token.
pub const NEXT_AUDIENCE: &str = "svc-b";

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// How long the server's access tokens live (default 300 s).
const TOKEN_TTL: &str = "PORTCULLIS_ACCESS_TOKEN_TTL";

/// The request body every user sends: the user's access token, and with
/// `actor` svc-a's own client-credentials token as the actor.
pub async fn prepare(f: &Fixture, actor: bool, window: Duration) -> Result<String, String> {
    let mut conn = Conn::open(f.port).await?;
    let tokens = password_tokens(&mut conn, f, SUBJECT_CLIENT, "openid").await?;
    let subject = tokens["access_token"]
        .as_str()
        .ok_or("the password grant gave no access token")?;
    // The exchanged token may not outlive it, and an expired one is refused.
    lives_through(
        "the subject token",
        tokens["expires_in"].as_i64(),
        window,
        TOKEN_TTL,
    )?;
    let actor_token = if actor {
        let r = conn
            .send(
                Method::POST,
                "/token",
                &[("authorization", &basic(EXCHANGER, f.secret(EXCHANGER)))],
                Some("grant_type=client_credentials".into()),
            )
            .await?;
        expect(&r, 200)?;
        let tokens = json(&r)?;
        lives_through(
            "the actor token",
            tokens["expires_in"].as_i64(),
            window,
            TOKEN_TTL,
        )?;
        Some(
            tokens["access_token"]
                .as_str()
                .ok_or("svc-a's client credentials gave no access token")?
                .to_owned(),
        )
    } else {
        None
    };
    Ok(exchange_body(subject, actor_token.as_deref()))
}

/// RFC 8693 §2.1: the subject token for `svc-b`; without an actor token
/// svc-a impersonates the user (it is registered for that).
pub fn exchange_body(subject: &str, actor: Option<&str>) -> String {
    let mut pairs = vec![
        ("grant_type", GRANT),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", NEXT_AUDIENCE),
    ];
    if let Some(actor) = actor {
        pairs.push(("actor_token", actor));
        pairs.push(("actor_token_type", ACCESS_TOKEN_TYPE));
    }
    form(&pairs)
}

/// One exchange, as svc-a: 200 with an access token, said to be one.
pub async fn exchange(conn: &mut Conn, f: &Fixture, body: &str) -> Result<(), String> {
    let r = conn
        .send(
            Method::POST,
            "/token",
            &[("authorization", &basic(EXCHANGER, f.secret(EXCHANGER)))],
            Some(body.to_owned()),
        )
        .await?;
    expect(&r, 200)?;
    let tokens = json(&r)?;
    if tokens["access_token"].as_str().is_none() {
        return Err("no access token".into());
    }
    if tokens["issued_token_type"] != ACCESS_TOKEN_TYPE {
        return Err("issued_token_type is not an access token".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body's parameters, decoded (only what `enc` encodes).
    fn params(body: &str) -> Vec<(String, String)> {
        let decode = |s: &str| {
            let mut out = Vec::new();
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        };
        body.split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect()
    }

    #[test]
    fn impersonation_names_the_subject_and_the_audience_only() {
        let body = exchange_body("eyJ.a+b/c=.sig", None);
        let p = params(&body);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some(GRANT));
        assert_eq!(get("subject_token"), Some("eyJ.a+b/c=.sig"));
        assert_eq!(get("subject_token_type"), Some(ACCESS_TOKEN_TYPE));
        assert_eq!(get("audience"), Some("svc-b"));
        assert_eq!(get("actor_token"), None);
        assert_eq!(p.len(), 4, "{body}");
        // Percent-encoded: the token's `+` must not turn into a space.
        assert!(!body.contains(':') && !body.contains('+'), "{body}");
    }

    #[test]
    fn delegation_adds_the_actor_token_and_its_type() {
        let p = params(&exchange_body("subject", Some("actor")));
        assert_eq!(p.len(), 6);
        assert!(p.contains(&("actor_token".into(), "actor".into())));
        assert!(p.contains(&("actor_token_type".into(), ACCESS_TOKEN_TYPE.into())));
    }
}
