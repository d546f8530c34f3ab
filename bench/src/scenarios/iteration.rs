//! One iteration of each kind of scenario, against Portcullis or a peer:
//! each peer's dialect (paths, scopes, simplejwt's field names) is handled
//! here, so the measurement loop stays the same for every server.

use std::sync::Arc;

use hyper::Method;
use serde_json::Value;

use super::auth_code::auth_code_flow;
use super::{
    device_code, dpop, passkey, private_key_jwt, registration, token_exchange, totp, Kind, Prepared,
};
use crate::fixture::{password_client, password_tokens, refresh_token_of, Fixture};
use crate::http::{basic, expect, form, json, Conn};
use crate::peers::Target;

/// State a virtual user carries between requests (its refresh token),
/// what its scenario prepared, and how many of each kind of good answer it
/// got where a scenario has several.
#[derive(Default)]
pub struct VuState {
    pub refresh_token: Option<String>,
    pub prepared: Arc<Prepared>,
    pub answers: Answers,
}

/// Good answers by kind (a device poll's `authorization_pending` or
/// `slow_down`), in the order first seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers(pub Vec<(&'static str, u64)>);

impl Answers {
    pub fn count(&mut self, kind: &'static str, n: u64) {
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.0.push((kind, n)),
        }
    }

    pub fn merge(&mut self, other: &Answers) {
        for &(kind, n) in &other.0 {
            self.count(kind, n);
        }
    }
}

/// One iteration of a scenario; every response is checked.
pub async fn iteration(
    kind: Kind,
    conn: &mut Conn,
    f: &Fixture,
    state: &mut VuState,
) -> Result<(), String> {
    match kind {
        Kind::Jwks => {
            let path = match f.target {
                Target::OidcProvider => "/jwks",
                _ => "/.well-known/jwks.json",
            };
            let r = conn.send(Method::GET, path, &[], None).await?;
            expect(&r, 200)?;
            if r.body != f.jwks {
                return Err("the JWKS changed".into());
            }
        }
        Kind::Jwks304 => {
            let r = conn
                .send(
                    Method::GET,
                    "/.well-known/jwks.json",
                    &[("if-none-match", &f.etag)],
                    None,
                )
                .await?;
            expect(&r, 304)?;
        }
        Kind::Discovery => {
            let r = conn
                .send(Method::GET, "/.well-known/openid-configuration", &[], None)
                .await?;
            expect(&r, 200)?;
            if r.body != f.discovery {
                return Err("the discovery document changed".into());
            }
        }
        Kind::ClientCredentials { client: id } => {
            // oidc-provider grants no scope unless asked.
            let body = match f.target {
                Target::OidcProvider => "grant_type=client_credentials&scope=api",
                _ => "grant_type=client_credentials",
            };
            let r = conn
                .send(
                    Method::POST,
                    "/token",
                    &[("authorization", &basic(id, f.secret(id)))],
                    Some(body.into()),
                )
                .await?;
            expect(&r, 200)?;
            if json(&r)?["access_token"].as_str().is_none() {
                return Err("no access token".into());
            }
        }
        Kind::Password => {
            let tokens = password_tokens(conn, f, password_client(false), "openid").await?;
            let signed = match f.target {
                Target::Django => "access",
                _ => "id_token",
            };
            if tokens[signed].as_str().is_none() {
                return Err(format!("no {signed}"));
            }
        }
        Kind::Refresh { es256, openid } => {
            let id = password_client(es256);
            let current = match state.refresh_token.take() {
                Some(t) => t,
                None => return Err("no refresh token to chain".into()),
            };
            let r = if f.target == Target::Django {
                let body = form(&[("refresh", &current)]);
                conn.send(Method::POST, "/api/token/refresh/", &[], Some(body))
                    .await?
            } else {
                let body = form(&[("grant_type", "refresh_token"), ("refresh_token", &current)]);
                conn.send(
                    Method::POST,
                    "/token",
                    &[("authorization", &basic(id, f.secret(id)))],
                    Some(body),
                )
                .await?
            };
            expect(&r, 200)?;
            let tokens = json(&r)?;
            let next = refresh_token_of(&tokens);
            if next.is_none() {
                return Err("no new refresh token".into());
            }
            if f.target == Target::Portcullis && tokens["id_token"].is_string() != openid {
                return Err(if openid {
                    "no ID token for an openid refresh".into()
                } else {
                    "an ID token without openid".into()
                });
            }
            state.refresh_token = next;
        }
        Kind::Introspect => {
            let body = form(&[("token", &f.access_token)]);
            // oidc-provider introspects its opaque tokens, for the client
            // they were issued to.
            let (path, caller) = match f.target {
                Target::OidcProvider => ("/token/introspection", "cc-opaque"),
                _ => ("/introspect", password_client(false)),
            };
            let r = conn
                .send(
                    Method::POST,
                    path,
                    &[("authorization", &basic(caller, f.secret(caller)))],
                    Some(body),
                )
                .await?;
            expect(&r, 200)?;
            if json(&r)?["active"] != Value::Bool(true) {
                return Err("token not active".into());
            }
        }
        Kind::AuthCode => auth_code_flow(conn, f).await?,
        Kind::AuthCodeTotp => totp::flow(conn, f, state.prepared.totp()?).await?,
        Kind::AuthCodePasskey => passkey::flow(conn, f, state.prepared.passkeys()?).await?,
        Kind::TokenExchange { .. } => {
            token_exchange::exchange(conn, f, state.prepared.body()?).await?
        }
        Kind::DevicePoll => {
            let answer = device_code::poll(conn, state.prepared.next_body()?).await?;
            state.answers.count(answer, 1);
        }
        Kind::Register => registration::register(conn).await?,
        Kind::ClientCredentialsDpop => {
            dpop::client_credentials(conn, f, state.prepared.next_once()?).await?
        }
        Kind::ClientCredentialsAssertion => {
            private_key_jwt::client_credentials(conn, state.prepared.signer()?).await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_add_up_by_kind_in_the_order_first_seen() {
        let mut a = Answers::default();
        a.count("authorization_pending", 1);
        a.count("slow_down", 1);
        a.count("slow_down", 1);
        let mut b = Answers::default();
        b.count("slow_down", 5);
        b.count("expired", 1);
        a.merge(&b);
        assert_eq!(
            a.0,
            [
                ("authorization_pending", 1),
                ("slow_down", 7),
                ("expired", 1)
            ]
        );
    }
}
