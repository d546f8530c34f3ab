//! What the benchmark measures: the scenario list (`--list` prints it),
//! the kind of request each one repeats, what a scenario sets up before its
//! clock starts, and the targets some scenarios are held to.

mod auth_code;
pub mod device_code;
pub mod dpop;
mod iteration;
mod prepare;
pub mod private_key_jwt;
mod registration;
pub mod token_exchange;

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
    fn names_are_unique_and_a_share_is_of_a_scenario_run_before() {
        let list = scenarios();
        for (i, s) in list.iter().enumerate() {
            assert!(
                list[..i].iter().all(|t| t.name != s.name),
                "{} twice",
                s.name
            );
            if let Some(Goal {
                min: Min::ShareOf(of, share),
                ..
            }) = s.target
            {
                assert!(
                    list[..i].iter().any(|t| t.name == of),
                    "{}: {of} must run before it",
                    s.name
                );
                assert!(share > 0.0 && share <= 1.0);
            }
        }
    }
}
