//! Scopes (RFC 6749 §3.3): a set of tokens, kept in request order.

use std::fmt;

use super::Error;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

/// Scopes that describe a user; meaningless without one.
pub const USER_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

impl Scope {
    /// Parses a space-delimited scope string. Every token must be made of the
    /// characters RFC 6749 §3.3 allows; duplicates are dropped.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut tokens: Vec<String> = Vec::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid || token.len() > 128 {
                return Err(Error::invalid_scope("scope contains a malformed token"));
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Scope(tokens))
    }

    /// A scope read back from the database. Portcullis wrote it, so one
    /// that does not parse means a corrupt row, never an empty scope.
    pub fn from_stored(s: &str) -> Result<Self, crate::store::StoreError> {
        Scope::parse(s).map_err(|_| {
            crate::store::StoreError::Corrupt(format!("stored scope `{s}` is malformed"))
        })
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens that do not need a user (what `client_credentials` may get).
    pub fn without_user_scopes(&self) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|t| !USER_SCOPES.contains(&t.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The scope granted for a request: what was asked, or the client's
    /// default when nothing was; `invalid_scope` when asking beyond `allowed`.
    pub fn grant(requested: Option<&str>, allowed: &Scope) -> Result<Scope, Error> {
        match requested {
            None => Ok(allowed.clone()),
            Some(s) => {
                let scope = Scope::parse(s)?;
                if !scope.is_subset_of(allowed) {
                    return Err(Error::invalid_scope(
                        "the requested scope exceeds what this client may ask for",
                    ));
                }
                Ok(scope)
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_deduplicates() {
        let s = Scope::parse("openid  profile openid").unwrap();
        assert_eq!(s.to_string(), "openid profile");
    }

    #[test]
    fn refuses_bad_characters() {
        assert!(Scope::parse("open\"id").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
    }

    #[test]
    fn grant_narrows_and_never_widens() {
        let allowed = Scope::parse("openid profile email").unwrap();
        assert_eq!(Scope::grant(None, &allowed).unwrap(), allowed);
        assert_eq!(
            Scope::grant(Some("email"), &allowed).unwrap().to_string(),
            "email"
        );
        let err = Scope::grant(Some("email admin"), &allowed).unwrap_err();
        assert_eq!(err.code, super::super::ErrorCode::InvalidScope);
    }

    #[test]
    fn client_scopes_drop_user_scopes() {
        let s = Scope::parse("openid api:read email").unwrap();
        assert_eq!(s.without_user_scopes().to_string(), "api:read");
    }
}
