//! What the benchmark measures: the scenario list (`--list` prints it),
//! the kind of request each one repeats, what a scenario sets up before its
//! clock starts, and the targets some scenarios are held to.

mod auth_code;
pub mod device_code;
pub mod dpop;
mod iteration;
mod passkey;
mod prepare;
pub mod private_key_jwt;
mod registration;
pub mod token_exchange;
mod totp;

pub use iteration::{iteration, Answers, VuState};
pub use prepare::{prepare, Prepared};

/// The request one iteration of a scenario sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Jwks,
    Jwks304,
    Discovery,
    /// `client`: the client_credentials client whose signing algorithm the
    /// scenario measures (`cc-rs256`, `cc-ps256`, `cc-es256`, `cc-eddsa`).
    ClientCredentials {
        client: &'static str,
    },
    Password,
    /// `openid`: the tokens were bought with the `openid` scope, so every
    /// refresh also signs an ID token (two signatures instead of one).
    Refresh {
        es256: bool,
        openid: bool,
    },
    Introspect,
    AuthCode,
    /// The authorization-code login with a TOTP code after the password,
    /// round the people of a pool (each takes a code once per 30-s step).
    AuthCodeTotp,
    /// The authorization-code login with a passkey instead of a password
    /// (no Argon2id), round a few registered passkeys.
    AuthCodePasskey,
    /// RFC 8693: svc-a trades a user's access token (addressed to it) for
    /// one for svc-b, signed with ES256. `actor`: svc-a names itself with
    /// an actor token (delegation: the new token carries `act`) instead of
    /// impersonating the user.
    TokenExchange {
        actor: bool,
    },
    /// RFC 8628: a device polls before the person has decided
    /// (`authorization_pending`, or `slow_down` as it polls too fast),
    /// round-robin over device codes made before the clock starts.
    DevicePoll,
    /// RFC 7591: an application registers itself (a new confidential
    /// client per request).
    Register,
    /// RFC 9449: client credentials of the ES256 client with a fresh DPoP
    /// proof per request.
    ClientCredentialsDpop,
    /// RFC 7523: client credentials with a fresh ES256 assertion
    /// (`private_key_jwt`) instead of a secret; ES256 tokens.
    ClientCredentialsAssertion,
}

/// A scenario as the table and `--scenarios` name it.
pub struct Scenario {
    pub name: &'static str,
    pub kind: Kind,
    /// Half the virtual users run password grants beside this scenario (not
    /// counted): does Argon2id hold up the other endpoints?
    pub while_hashing: bool,
    /// Concurrency when the run does not set one.
    pub concurrency: Option<usize>,
    /// What the report holds the scenario to, if anything.
    pub target: Option<Goal>,
}

/// A scenario's target, checked in the report of every run (the peers'
/// ratios are in `Target::comparisons`). Every target also asks for zero
/// errors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    pub min: Min,
    /// Set for SQLite: on PostgreSQL the figures are reported without it.
    pub sqlite_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Min {
    /// At least this many answers a second.
    PerSecond(f64),
    /// At least this share of another scenario's answers a second, measured
    /// in the same run.
    ShareOf(&'static str, f64),
    /// At least this many times another scenario's answers a second,
    /// measured in the same run (a share above 1).
    TimesOf(&'static str, f64),
}

#[cfg(test)]
impl Min {
    /// The scenario whose rate this one is measured against, and the
    /// least ratio to it.
    pub fn reference(self) -> Option<(&'static str, f64)> {
        match self {
            Min::PerSecond(_) => None,
            Min::ShareOf(of, ratio) | Min::TimesOf(of, ratio) => Some((of, ratio)),
        }
    }
}

/// Every scenario, in the order they run and are printed.
pub fn scenarios() -> Vec<Scenario> {
    let s = |name, kind, concurrency| Scenario {
        name,
        kind,
        concurrency,
        while_hashing: false,
        target: None,
    };
    let busy = |name, kind| Scenario {
        name,
        kind,
        concurrency: None,
        while_hashing: true,
        target: None,
    };
    let held = |name, kind, min, sqlite_only| Scenario {
        target: Some(Goal { min, sqlite_only }),
        ..s(name, kind, None)
    };
    vec![
        s("jwks", Kind::Jwks, None),
        s("jwks-304", Kind::Jwks304, None),
        s("discovery", Kind::Discovery, None),
        s(
            "client_credentials-RS256",
            Kind::ClientCredentials { client: "cc-rs256" },
            None,
        ),
        s(
            "client_credentials-PS256",
            Kind::ClientCredentials { client: "cc-ps256" },
            None,
        ),
        s(
            "client_credentials-ES256",
            Kind::ClientCredentials { client: "cc-es256" },
            None,
        ),
        s(
            "client_credentials-EdDSA",
            Kind::ClientCredentials { client: "cc-eddsa" },
            None,
        ),
        s("password", Kind::Password, None),
        s(
            "refresh_token-RS256",
            Kind::Refresh {
                es256: false,
                openid: true,
            },
            None,
        ),
        s(
            "refresh_token-ES256",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
            None,
        ),
        // A plain OAuth client (no `openid`): access token and refresh token
        // only, the same work as the Django peer's refresh.
        s(
            "refresh_token-RS256-oauth",
            Kind::Refresh {
                es256: false,
                openid: false,
            },
            None,
        ),
        s(
            "refresh_token-ES256-c64",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
            Some(64),
        ),
        s("introspection", Kind::Introspect, None),
        s("authorization_code", Kind::AuthCode, None),
        s("authorization_code-totp", Kind::AuthCodeTotp, None),
        // A passkey login verifies one P-256 signature where the password
        // login hashes with Argon2id: it must run far faster, on either
        // backend.
        held(
            "authorization_code-passkey",
            Kind::AuthCodePasskey,
            Min::TimesOf("authorization_code", 5.0),
            false,
        ),
        busy("jwks-while-hashing", Kind::Jwks),
        busy(
            "refresh_token-ES256-while-hashing",
            Kind::Refresh {
                es256: true,
                openid: true,
            },
        ),
        // Added last: the scenarios above run as they did before, without
        // the rows these leave (device codes, clients) in the database.
        held(
            "token_exchange-ES256",
            Kind::TokenExchange { actor: false },
            Min::ShareOf("client_credentials-ES256", 0.5),
            false,
        ),
        s(
            "token_exchange-ES256-actor",
            Kind::TokenExchange { actor: true },
            None,
        ),
        held(
            "device_code-pending",
            Kind::DevicePoll,
            Min::PerSecond(20_000.0),
            true,
        ),
        held(
            "dynamic_registration",
            Kind::Register,
            Min::PerSecond(1_000.0),
            false,
        ),
        held(
            "client_credentials-ES256-dpop",
            Kind::ClientCredentialsDpop,
            Min::ShareOf("client_credentials-ES256", 0.6),
            false,
        ),
        // Each request verifies an ES256 signature and writes its jti
        // besides signing: held on SQLite, where the write is the batched
        // writer's; on PostgreSQL each is a round trip, reported as it is.
        held(
            "client_credentials-ES256-private_key_jwt",
            Kind::ClientCredentialsAssertion,
            Min::ShareOf("client_credentials-ES256", 0.6),
            true,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_a_ratio_is_to_a_scenario_run_before() {
        let list = scenarios();
        for (i, s) in list.iter().enumerate() {
            assert!(
                list[..i].iter().all(|t| t.name != s.name),
                "{} twice",
                s.name
            );
            let Some(Goal { min, .. }) = s.target else {
                continue;
            };
            if let Some((of, _)) = min.reference() {
                assert!(
                    list[..i].iter().any(|t| t.name == of),
                    "{}: {of} must run before it",
                    s.name
                );
            }
            match min {
                Min::ShareOf(_, share) => assert!(share > 0.0 && share <= 1.0),
                Min::TimesOf(_, times) => assert!(times > 1.0, "{}: a share", s.name),
                Min::PerSecond(min) => assert!(min > 0.0),
            }
        }
    }
}
