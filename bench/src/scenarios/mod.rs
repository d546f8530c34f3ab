//! What the benchmark measures: the scenario list (`--list` prints it) and
//! the kind of request each one repeats.

mod auth_code;
mod iteration;

pub use iteration::{iteration, VuState};

/// The request one iteration of a scenario sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Jwks,
    Jwks304,
    Discovery,
    ClientCredentials {
        es256: bool,
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
}

/// Every scenario, in the order they run and are printed.
pub fn scenarios() -> Vec<Scenario> {
    let s = |name, kind, concurrency| Scenario {
        name,
        kind,
        concurrency,
        while_hashing: false,
    };
    let busy = |name, kind| Scenario {
        name,
        kind,
        concurrency: None,
        while_hashing: true,
    };
    vec![
        s("jwks", Kind::Jwks, None),
        s("jwks-304", Kind::Jwks304, None),
        s("discovery", Kind::Discovery, None),
        s(
            "client_credentials-RS256",
            Kind::ClientCredentials { es256: false },
            None,
        ),
        s(
            "client_credentials-ES256",
            Kind::ClientCredentials { es256: true },
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
    ]
}
