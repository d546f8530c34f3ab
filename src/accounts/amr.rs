//! How a login was proven: the RFC 8176 authentication method references
//! (`amr`) a session records, and the authentication context class (`acr`)
//! they reach, from the OpenID EAP ACR Values 1.0 names.
//!
//! ```text
//! pwd   a password alone
//! mfa   a second factor after the password, or a passkey with user verification
//! phr   phishing-resistant: a passkey (it is bound to this origin)
//! ```

use std::fmt;

/// One RFC 8176 §2 method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// A password.
    Pwd,
    /// A one-time code: TOTP, or a recovery code.
    Otp,
    /// A hardware-bound key: a passkey that cannot leave its device.
    Hwk,
    /// A software-held key: a passkey that may be synced (backup eligible).
    Swk,
    /// The authenticator verified the person (PIN or biometrics).
    User,
    /// More than one factor.
    Mfa,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Otp => "otp",
            Method::Hwk => "hwk",
            Method::Swk => "swk",
            Method::User => "user",
            Method::Mfa => "mfa",
        }
    }

    fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "pwd" => Method::Pwd,
            "otp" => Method::Otp,
            "hwk" => Method::Hwk,
            "swk" => Method::Swk,
            "user" => Method::User,
            "mfa" => Method::Mfa,
            _ => return None,
        })
    }
}

/// The level a login reached, lowest first (so levels compare).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Acr {
    Pwd,
    Mfa,
    Phr,
}

impl Acr {
    pub const ALL: [Acr; 3] = [Acr::Pwd, Acr::Mfa, Acr::Phr];

    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Pwd => "pwd",
            Acr::Mfa => "mfa",
            Acr::Phr => "phr",
        }
    }

    pub fn parse(s: &str) -> Option<Acr> {
        Acr::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The level a request asks for: the lowest of the known values it
    /// names (each would do; OIDC Core §3.1.2.1), `None` when it names none
    /// Portcullis knows.
    pub fn lowest_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Acr> {
        values.into_iter().filter_map(Acr::parse).min()
    }
}

/// The methods a login used, in a fixed order, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amr(Vec<Method>);

impl Amr {
    pub fn password() -> Amr {
        Amr(vec![Method::Pwd])
    }

    /// A passkey: `synced` when the credential is backup eligible;
    /// `verified` when the authenticator verified the person.
    pub fn passkey(synced: bool, verified: bool) -> Amr {
        let mut amr = Amr::default();
        amr.add_passkey(synced, verified);
        amr
    }

    /// Reads a stored value; unknown names are dropped.
    pub fn from_stored(s: &str) -> Amr {
        let mut amr = Amr::default();
        for m in s.split_whitespace().filter_map(Method::parse) {
            amr.push(m);
        }
        amr
    }

    fn push(&mut self, m: Method) {
        if !self.0.contains(&m) {
            self.0.push(m);
            self.0.sort();
        }
    }

    /// Adds a one-time code (TOTP or recovery code) after the password.
    pub fn add_code(&mut self) {
        self.push(Method::Otp);
        self.push(Method::Mfa);
    }

    /// Adds a passkey. With user verification, a passkey alone is two
    /// factors (something held, and a PIN or biometric).
    pub fn add_passkey(&mut self, synced: bool, verified: bool) {
        self.push(if synced { Method::Swk } else { Method::Hwk });
        if verified {
            self.push(Method::User);
        }
        if verified || self.0.contains(&Method::Pwd) {
            self.push(Method::Mfa);
        }
    }

    pub fn contains(&self, m: Method) -> bool {
        self.0.contains(&m)
    }

    pub fn acr(&self) -> Acr {
        let passkey = self.contains(Method::Hwk) || self.contains(Method::Swk);
        if passkey && self.contains(Method::Mfa) {
            Acr::Phr
        } else if self.contains(Method::Mfa) {
            Acr::Mfa
        } else {
            Acr::Pwd
        }
    }

    /// The values for the ID token's `amr` array.
    pub fn values(&self) -> Vec<&'static str> {
        self.0.iter().map(|m| m.as_str()).collect()
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.values().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_methods() {
        assert_eq!(Amr::password().acr(), Acr::Pwd);
        let mut with_code = Amr::password();
        with_code.add_code();
        assert_eq!(with_code.to_string(), "pwd otp mfa");
        assert_eq!(with_code.acr(), Acr::Mfa);
        assert_eq!(Amr::passkey(false, true).to_string(), "hwk user mfa");
        assert_eq!(Amr::passkey(true, true).acr(), Acr::Phr);
        // Without user verification a passkey alone is one factor.
        assert_eq!(Amr::passkey(false, false).acr(), Acr::Pwd);
        let mut second = Amr::password();
        second.add_passkey(false, false);
        assert_eq!(second.acr(), Acr::Phr);
    }

    #[test]
    fn stored_values_round_trip() {
        let amr = Amr::from_stored("pwd otp mfa bogus");
        assert_eq!(amr.to_string(), "pwd otp mfa");
        assert_eq!(Amr::from_stored(""), Amr::default());
        assert!(Acr::Pwd < Acr::Mfa && Acr::Mfa < Acr::Phr);
    }
}
