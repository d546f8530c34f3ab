//! The one reader of the access tokens this server issues (RFC 9068):
//! userinfo, introspection and the admin API all validate through
//! [`validate`], in this order: signature (the published key its `kid`
//! names) → `typ` `at+jwt` → issuer → expiry (the server's clock) → `jti`
//! not revoked → its user still there and enabled. At a resource,
//! [`validate_presented`] adds the sender binding: a token with `cnf.jkt`
//! only with the DPoP scheme and a proof by that key (RFC 9449 §7).

use serde::{Deserialize, Serialize};

use super::clients::Client;
use super::{dpop, Context, Error, ErrorCode};
use crate::keys::{Expiring, Expiry, KeyError};
use crate::store::users::{self, UserRow};
use crate::store::{revoked_tokens, StoreError};

/// `aud`: one audience or several (RFC 7519 §4.1.3). Read with a visitor
/// of its own rather than `#[serde(untagged)]`, which buffers the value and
/// tries each shape in turn on every token read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Audience::One(a) => a == who,
            Audience::Many(list) => list.iter().any(|a| a == who),
        }
    }

    pub fn first(&self) -> Option<&str> {
        match self {
            Audience::One(a) => Some(a),
            Audience::Many(list) => list.first().map(String::as_str),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Audience;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Audience, A::Error> {
                let mut all = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    all.push(a);
                }
                Ok(Audience::Many(all))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The claims of an access token, as `oauth::token::issue` writes them.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessToken {
    pub sub: String,
    pub client_id: String,
    pub aud: Audience,
    #[serde(default)]
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Present on a user's token (when the user logged in); absent on a
    /// client's own token (client credentials).
    pub auth_time: Option<i64>,
    /// RFC 9068 §2.2.3: how the user's login was proven (RFC 8176).
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub userinfo_claims: Vec<String>,
    /// RFC 8693 §4.1: who acts for the subject, on an exchanged token.
    #[serde(default)]
    pub act: Option<serde_json::Value>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf` as RFC 9449 §6.1 uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// How a token came to a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presentation {
    /// `Authorization: Bearer` (RFC 6750), or a form's `access_token`.
    Bearer,
    /// `Authorization: DPoP`, with the `DPoP` header values (RFC 9449 §7.1).
    Dpop { proofs: Vec<String> },
}

/// An access token as a request presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub token: String,
    pub how: Presentation,
}

impl Presented {
    pub fn bearer(token: String) -> Self {
        Presented {
            token,
            how: Presentation::Bearer,
        }
    }

    pub fn is_dpop(&self) -> bool {
        matches!(self.how, Presentation::Dpop { .. })
    }
}

impl AccessToken {
    /// Whether the token is meant for `client` as a resource server: its
    /// client id or its registered audience is in `aud`.
    pub fn addressed_to(&self, client: &Client) -> bool {
        self.aud.contains(&client.client_id)
            || client
                .audience
                .as_deref()
                .is_some_and(|a| self.aud.contains(a))
    }
}

impl Expiring for AccessToken {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// Who a live access token speaks for.
pub enum Holder {
    /// A client's own token (client credentials): no user behind it.
    Client,
    User(Box<UserRow>),
}

/// An access token that passed every check.
pub struct Validated {
    pub claims: AccessToken,
    pub holder: Holder,
}

/// Checks the signature, `typ`, issuer and (unless told otherwise) expiry;
/// no database. Revocation reads this for tokens already expired too.
pub fn decode(ctx: &Context, token: &str, expiry: Expiry) -> Result<AccessToken, KeyError> {
    ctx.keys.verify(token, ctx.issuer(), "at+jwt", expiry)
}

/// Every check, in one trip to the database. `None` for a token that does
/// not count, whatever the reason: callers answer `invalid_token` or
/// `{"active": false}` without saying which check failed.
pub async fn validate(ctx: &Context, token: &str) -> Result<Option<Validated>, StoreError> {
    match decode(ctx, token, Expiry::Enforce) {
        Ok(claims) => live(ctx, claims).await,
        Err(_) => Ok(None),
    }
}

/// The database half of [`validate`], for a caller that checks the decoded
/// claims first (introspection: whether the caller may see the token at
/// all, before any database work).
pub async fn live(ctx: &Context, claims: AccessToken) -> Result<Option<Validated>, StoreError> {
    let jti = claims.jti.clone();
    // A user's token (it has an auth_time) dies with its user.
    let user = claims.auth_time.map(|_| claims.sub.clone());
    let holder = ctx
        .db
        .run(move |conn| {
            if revoked_tokens::is_revoked(conn, &jti)? {
                return Ok::<_, StoreError>(None);
            }
            let Some(sub) = user else {
                return Ok(Some(Holder::Client));
            };
            Ok(users::find_by_id(conn, &sub)?
                .filter(|u| !u.disabled)
                .map(|u| Holder::User(Box::new(u))))
        })
        .await?;
    Ok(holder.map(|holder| Validated { claims, holder }))
}

fn invalid_token(why: &'static str) -> Error {
    Error::new(ErrorCode::InvalidToken, why)
}

/// A resource's check of a presented token: [`validate`], then the sender
/// binding for a request `method` to this server's `path`. Errors are
/// RFC 6750 §3.1's and RFC 9449 §7.1's.
pub async fn validate_presented(
    ctx: &Context,
    presented: &Presented,
    method: &str,
    path: &str,
) -> Result<Validated, Error> {
    let valid = validate(ctx, &presented.token)
        .await?
        .ok_or_else(|| invalid_token("the access token is invalid or expired"))?;
    let bound = valid.claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (&presented.how, bound) {
        (Presentation::Bearer, None) => Ok(valid),
        (Presentation::Bearer, Some(_)) => Err(invalid_token(
            "this access token is DPoP-bound: present it with the DPoP scheme and a proof",
        )),
        (Presentation::Dpop { .. }, None) => Err(invalid_token(
            "this access token is not DPoP-bound: present it as a Bearer token",
        )),
        (Presentation::Dpop { proofs }, Some(jkt)) => {
            let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
            let target = dpop::Target {
                method,
                path,
                access_token: Some(&presented.token),
            };
            let proven = dpop::check(ctx, &proofs, target).await?.ok_or_else(|| {
                Error::invalid_dpop_proof("a DPoP proof must come with the token")
            })?;
            if !crate::secrets::constant_time_eq(&proven.jkt, jkt) {
                return Err(Error::invalid_dpop_proof(
                    "the DPoP proof is signed by another key than the token is bound to",
                ));
            }
            Ok(valid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audience_is_one_name_or_a_list() {
        let one: Audience = serde_json::from_str(r#""https://api""#).unwrap();
        let many: Audience = serde_json::from_str(r#"["a", "https://api"]"#).unwrap();
        assert!(one.contains("https://api") && many.contains("https://api"));
        assert!(!one.contains("a"));
        assert_eq!(many.first(), Some("a"));
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            r#"["a","https://api"]"#
        );
        assert!(serde_json::from_str::<Audience>("3").is_err());
    }
}
