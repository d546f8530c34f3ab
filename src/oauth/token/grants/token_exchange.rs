//! RFC 8693: token exchange. A service that received a user's access token
//! (it is in the token's `aud`) trades it for one meant for the next
//! service. With an `actor_token` the new token records who acts for the
//! user (`act`, nested along a chain: delegation); without one it simply is
//! the user's (impersonation), which only clients registered for it may do.

use futures_util::future::join;
use serde_json::{json, Map, Value};

use super::{Granted, Login};
use crate::accounts::amr::Amr;
use crate::oauth::access_token::{self, Holder, Validated};
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::{Context, Error, ErrorCode, Scope};

/// RFC 8693 §3: the token types this server reads and issues. Its access
/// tokens are JWTs, so `jwt` names the same thing.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The exchange's parameters (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub subject_token: String,
    pub actor_token: Option<String>,
    pub audiences: Vec<String>,
    pub scope: Option<String>,
}

/// Checks the token-type parameters; `None` of them names a type this
/// server cannot read or issue.
pub fn check_token_types(
    subject_token_type: &str,
    actor: Option<(&str, Option<&str>)>,
    requested_token_type: Option<&str>,
) -> Result<(), Error> {
    let readable = |t: &str| t == ACCESS_TOKEN_TYPE || t == JWT_TOKEN_TYPE;
    if !readable(subject_token_type) {
        return Err(Error::invalid_request(
            "subject_token_type must be an access token (…:access_token or …:jwt)",
        ));
    }
    match actor {
        Some((_, None)) => {
            return Err(Error::invalid_request(
                "actor_token_type is required with actor_token",
            ))
        }
        Some((_, Some(t))) if !readable(t) => {
            return Err(Error::invalid_request(
                "actor_token_type must be an access token (…:access_token or …:jwt)",
            ))
        }
        _ => {}
    }
    if requested_token_type.is_some_and(|t| !readable(t)) {
        return Err(Error::invalid_request(
            "requested_token_type must be …:access_token or …:jwt",
        ));
    }
    Ok(())
}

pub async fn run(
    ctx: &Context,
    client: &Client,
    exchange: Exchange,
    resources: &[String],
) -> Result<Granted, Error> {
    if client.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot exchange tokens",
        ));
    }
    if exchange.actor_token.is_none() && !client.exchange_impersonation {
        return Err(Error::invalid_request(
            "this client must name who acts with actor_token (it may not impersonate)",
        ));
    }
    let audience = targets(client, &exchange.audiences, resources)?;
    let invalid =
        |what: &str| Error::invalid_grant(format!("the {what} is invalid, expired or revoked"));
    // Both tokens at once: each is a trip to the database.
    let actor = async {
        match &exchange.actor_token {
            None => Ok(None),
            Some(token) => access_token::validate(ctx, token).await.map(Some),
        }
    };
    let (subject, actor) = join(access_token::validate(ctx, &exchange.subject_token), actor).await;
    let subject = subject?.ok_or_else(|| invalid("subject token"))?;
    // The exchanging client is the service the token was meant for.
    if !subject.claims.addressed_to(client) {
        return Err(Error::invalid_grant(
            "the subject token was not issued to this client (see its aud)",
        ));
    }
    let act = match actor? {
        None => subject.claims.act.clone(),
        Some(None) => return Err(invalid("actor token")),
        Some(Some(actor)) => Some(delegation(&actor, subject.claims.act.as_ref())),
    };
    let subject_scope = Scope::from_stored(&subject.claims.scope)?;
    let scope = Scope::grant(exchange.scope.as_deref(), &subject_scope).map_err(|_| {
        Error::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds the subject token's",
        )
    })?;
    let Validated { claims, holder } = subject;
    let user = match holder {
        Holder::User(user) => Some((
            user,
            Login {
                auth_time: claims.auth_time.unwrap_or(claims.iat),
                amr: Amr::from_stored(&claims.amr.join(" ")),
            },
        )),
        Holder::Client => None,
    };
    Ok(Granted {
        grant: GrantType::TokenExchange,
        subject: (user.is_none()).then(|| claims.sub.clone()),
        user,
        scope,
        refresh_token: None,
        nonce: None,
        requested: None,
        audience,
        act,
        // The new token does not outlive the one it was traded for.
        not_after: Some(claims.exp),
    })
}

/// The audiences the new token is for: each `audience` and `resource` the
/// request names, all among those the client may exchange for
/// (`--exchange-audience`, `--resource`); when it names none, the client's
/// one exchange audience.
fn targets(
    client: &Client,
    audiences: &[String],
    resources: &[String],
) -> Result<Vec<String>, Error> {
    let allowed =
        |a: &String| client.exchange_audiences.contains(a) || client.resources.contains(a);
    let mut out: Vec<String> = Vec::new();
    for target in audiences.iter().chain(resources) {
        if !allowed(target) {
            return Err(Error::invalid_target(
                "this client may not exchange tokens for that audience",
            ));
        }
        if !out.contains(target) {
            out.push(target.clone());
        }
    }
    if out.is_empty() {
        match client.exchange_audiences.as_slice() {
            [only] => out.push(only.clone()),
            _ => {
                return Err(Error::invalid_request(
                    "name the token's target with audience or resource",
                ))
            }
        }
    }
    Ok(out)
}

/// RFC 8693 §4.1: `act` names the current actor; the actors before it nest
/// inside, outermost first.
fn delegation(actor: &Validated, prior: Option<&Value>) -> Value {
    let mut act = Map::new();
    act.insert("sub".into(), json!(actor.claims.sub));
    act.insert("client_id".into(), json!(actor.claims.client_id));
    if let Some(prior) = prior {
        act.insert("act".into(), prior.clone());
    }
    Value::Object(act)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;

    fn client(exchange: &[&str], resources: &[&str]) -> Client {
        let mut c = Client::for_tests(
            "svc",
            false,
            vec![GrantType::TokenExchange],
            vec![],
            Scope::parse("a").unwrap(),
            SigningAlg::Es256,
            false,
        );
        c.exchange_audiences = exchange.iter().map(|s| s.to_string()).collect();
        c.resources = resources.iter().map(|s| s.to_string()).collect();
        c
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn targets_are_the_clients_exchange_audiences_or_resources() {
        let c = client(&["billing"], &["https://ledger.example"]);
        assert_eq!(targets(&c, &[], &[]).unwrap(), strings(&["billing"]));
        assert_eq!(
            targets(
                &c,
                &strings(&["billing"]),
                &strings(&["https://ledger.example"])
            )
            .unwrap(),
            strings(&["billing", "https://ledger.example"])
        );
        let err = targets(&c, &strings(&["payroll"]), &[]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
        let two = client(&["billing", "payroll"], &[]);
        assert_eq!(
            targets(&two, &[], &[]).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn token_types_are_access_tokens() {
        assert!(check_token_types(ACCESS_TOKEN_TYPE, None, None).is_ok());
        assert!(check_token_types(
            JWT_TOKEN_TYPE,
            Some(("t", Some(ACCESS_TOKEN_TYPE))),
            Some(JWT_TOKEN_TYPE)
        )
        .is_ok());
        for (subject, actor, requested) in [
            ("urn:ietf:params:oauth:token-type:id_token", None, None),
            ("urn:ietf:params:oauth:token-type:refresh_token", None, None),
            (ACCESS_TOKEN_TYPE, Some(("t", None)), None),
            (ACCESS_TOKEN_TYPE, Some(("t", Some("urn:x"))), None),
            (
                ACCESS_TOKEN_TYPE,
                None,
                Some("urn:ietf:params:oauth:token-type:refresh_token"),
            ),
        ] {
            let err = check_token_types(subject, actor, requested).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::InvalidRequest,
                "{subject} {actor:?} {requested:?}"
            );
        }
    }
}
