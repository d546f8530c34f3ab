//! What a scenario sets up once, before its clock starts, and its virtual
//! users share: the token-exchange request (with the user's token bought
//! just before), the device codes the polls go round, the people enrolled
//! with an authenticator app, the registered passkeys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::private_key_jwt::Signer;
use super::{device_code, dpop, passkey, token_exchange, totp, Kind};
use crate::fixture::Fixture;
use crate::peers::Target;

/// A scenario's shared setup.
#[derive(Default)]
pub enum Prepared {
    #[default]
    Nothing,
    /// One request body, the same for every request.
    Body(String),
    /// Request bodies taken in turn by all the users together.
    RoundRobin {
        bodies: Vec<String>,
        next: AtomicUsize,
    },
    /// Request values each used once, in turn (DPoP proofs).
    Once {
        values: Vec<String>,
        next: AtomicUsize,
    },
    /// The key every user signs its assertions with.
    Signer(Box<Signer>),
    /// The people with an authenticator app, and the steps they used.
    Totp(Box<totp::Pool>),
    /// The authenticators holding the passkeys the logins use.
    Passkeys(Box<passkey::Passkeys>),
}

impl Prepared {
    pub fn body(&self) -> Result<&str, String> {
        match self {
            Prepared::Body(b) => Ok(b),
            _ => Err("the scenario was not prepared".into()),
        }
    }

    /// The next value never used before; an error once all are spent.
    pub fn next_once(&self) -> Result<&str, String> {
        match self {
            Prepared::Once { values, next } => values
                .get(next.fetch_add(1, Ordering::Relaxed))
                .map(String::as_str)
                .ok_or_else(|| "every value made before the clock started was used".into()),
            _ => Err("the scenario was not prepared".into()),
        }
    }

    pub fn totp(&self) -> Result<&totp::Pool, String> {
        match self {
            Prepared::Totp(p) => Ok(p),
            _ => Err("the scenario was not prepared".into()),
        }
    }

    pub fn passkeys(&self) -> Result<&passkey::Passkeys, String> {
        match self {
            Prepared::Passkeys(p) => Ok(p),
            _ => Err("the scenario was not prepared".into()),
        }
    }

    pub fn signer(&self) -> Result<&Signer, String> {
        match self {
            Prepared::Signer(s) => Ok(s),
            _ => Err("the scenario was not prepared".into()),
        }
    }

    /// The next body in turn, wrapping round.
    pub fn next_body(&self) -> Result<&str, String> {
        match self {
            Prepared::RoundRobin { bodies, next } if !bodies.is_empty() => {
                Ok(&bodies[next.fetch_add(1, Ordering::Relaxed) % bodies.len()])
            }
            _ => Err("the scenario was not prepared".into()),
        }
    }
}

/// Sets up what scenario `kind` needs for a window of `duration`; nothing
/// for most.
pub async fn prepare(kind: Kind, f: &Fixture, duration: Duration) -> Result<Prepared, String> {
    if f.target != Target::Portcullis {
        return Ok(Prepared::Nothing);
    }
    match kind {
        Kind::TokenExchange { actor } => token_exchange::prepare(f, actor, duration)
            .await
            .map(Prepared::Body),
        Kind::DevicePoll => {
            let bodies = device_code::prepare(f, device_code::DEVICE_CODES, duration).await?;
            Ok(Prepared::RoundRobin {
                bodies,
                next: AtomicUsize::new(0),
            })
        }
        Kind::ClientCredentialsDpop => Ok(Prepared::Once {
            values: dpop::prepare(&f.issuer, duration)?,
            next: AtomicUsize::new(0),
        }),
        Kind::ClientCredentialsAssertion => {
            Signer::prepare(f).map(|s| Prepared::Signer(Box::new(s)))
        }
        Kind::AuthCodeTotp => totp::prepare(f, duration)
            .await
            .map(|p| Prepared::Totp(Box::new(p))),
        Kind::AuthCodePasskey => passkey::prepare(f)
            .await
            .map(|p| Prepared::Passkeys(Box::new(p))),
        _ => Ok(Prepared::Nothing),
    }
}

/// Setup and the answers still in flight when the window closes, beside
/// the window itself.
const SLACK: Duration = Duration::from_secs(15);

/// Checks that something made before the clock starts (a token, a device
/// code) still lives when the window closes: `lifetime` as the server gave it
/// (`expires_in`); `setting` is the server's variable for it, which the
/// server the benchmark starts takes from the benchmark's environment.
pub fn lives_through(
    what: &str,
    lifetime: Option<i64>,
    window: Duration,
    setting: &str,
) -> Result<(), String> {
    let lifetime = lifetime.ok_or_else(|| format!("{what}: no expires_in"))?;
    let needed = (window + SLACK).as_secs_f64();
    if (lifetime as f64) < needed {
        return Err(format!(
            "{what} lives {lifetime} s, less than the {needed:.0} s the window needs: a shorter --duration, or a longer {setting}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_goes_round_every_body() {
        let p = Prepared::RoundRobin {
            bodies: vec!["a".into(), "b".into(), "c".into()],
            next: AtomicUsize::new(0),
        };
        let taken: Vec<&str> = (0..7).map(|_| p.next_body().unwrap()).collect();
        assert_eq!(taken, ["a", "b", "c", "a", "b", "c", "a"]);
        assert!(p.body().is_err());
        let empty = Prepared::RoundRobin {
            bodies: Vec::new(),
            next: AtomicUsize::new(0),
        };
        assert!(empty.next_body().is_err());
        assert!(Prepared::Nothing.next_body().is_err());
    }

    #[test]
    fn a_body_is_there_only_when_prepared() {
        assert_eq!(Prepared::Body("x".into()).body().unwrap(), "x");
        assert!(Prepared::Nothing.body().is_err());
    }

    #[test]
    fn what_is_made_before_the_clock_must_outlive_the_window() {
        let ten = Duration::from_secs(10);
        let check = |lifetime, window| lives_through("the token", lifetime, window, "TTL");
        assert!(check(Some(300), ten).is_ok());
        assert!(check(Some(25), ten).is_ok());
        let err = check(Some(24), ten).unwrap_err();
        assert!(
            err.contains("the token lives 24 s") && err.ends_with("a longer TTL"),
            "{err}"
        );
        assert!(check(Some(300), Duration::from_secs(290)).is_err());
        assert!(check(None, ten).is_err());
    }
}
