//! User claims by scope (OIDC Core §5.4) and the `claims` request parameter (§5.5).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Error, Scope};
use crate::store::users::UserRow;

/// Claim names asked for through the `claims` parameter, per destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
}

impl RequestedClaims {
    /// Parses the JSON `claims` parameter. Only the claim names matter here:
    /// Portcullis returns what it has of each, essential or voluntary.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let bad =
            || Error::invalid_request("the claims parameter is not a valid JSON claims request");
        let value: Value = serde_json::from_str(json).map_err(|_| bad())?;
        let object = value.as_object().ok_or_else(bad)?;
        let names = |member: &str| -> Result<Vec<String>, Error> {
            match object.get(member) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(m)) => Ok(m.keys().take(64).cloned().collect()),
                Some(_) => Err(bad()),
            }
        };
        Ok(RequestedClaims {
            id_token: names("id_token")?,
            userinfo: names("userinfo")?,
        })
    }
}

/// Claims by scope, plus those named in `extra`: what Portcullis knows of a
/// user. Scopes `address` and `phone` are accepted, but no such data is kept.
pub fn user_claims(user: &UserRow, scope: &Scope, extra: &[String]) -> Map<String, Value> {
    let wants = |claim: &str, scope_name: &str| {
        scope.contains(scope_name) || extra.iter().any(|c| c == claim)
    };
    let mut claims = Map::new();
    if wants("name", "profile") {
        if let Some(name) = &user.name {
            claims.insert("name".into(), Value::from(name.as_str()));
        }
    }
    if wants("preferred_username", "profile") {
        claims.insert(
            "preferred_username".into(),
            Value::from(user.username.as_str()),
        );
    }
    if wants("email", "email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), Value::from(email.as_str()));
            // Portcullis does not verify addresses.
            claims.insert("email_verified".into(), Value::from(false));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserRow {
        UserRow {
            id: "u1".into(),
            username: "alice".into(),
            email: Some("a@example.com".into()),
            name: Some("Alice".into()),
            password_hash: String::new(),
            disabled: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn claims_follow_scope_and_requests() {
        let c = user_claims(&user(), &Scope::parse("openid profile").unwrap(), &[]);
        assert_eq!(c["preferred_username"], "alice");
        assert!(c.get("email").is_none());
        let c = user_claims(&user(), &Scope::parse("openid").unwrap(), &["email".into()]);
        assert_eq!(c["email"], "a@example.com");
        assert!(c.get("name").is_none());
    }

    #[test]
    fn claims_parameter_parses() {
        let r = RequestedClaims::parse(
            r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}"#,
        )
        .unwrap();
        assert_eq!(r.id_token, ["email"]);
        assert_eq!(r.userinfo, ["name"]);
        assert!(RequestedClaims::parse("[1]").is_err());
        assert!(RequestedClaims::parse(r#"{"id_token":3}"#).is_err());
    }
}
