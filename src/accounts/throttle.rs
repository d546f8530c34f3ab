//! Brute-force defence for password logins. Failures are counted in the
//! database per username and per client address, so every replica sees the
//! same counts; past `slow_after` failures answers are delayed, past the
//! maximum they are refused until the window has passed. A success resets
//! the counts.

use std::time::Duration;

use crate::store::{throttle as rows, Db, DbConnection, StoreError};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures per username within the window before refusal (0: no limit).
    pub max_per_user: i64,
    /// Failures per client address within the window before refusal (0: no limit).
    pub max_per_address: i64,
    /// Failures after which each answer is delayed.
    pub slow_after: i64,
    /// The counting window, seconds.
    pub window: i64,
}

impl Policy {
    /// With every limit off there is nothing to count: logins then cost no
    /// counter reads or writes at all.
    pub fn enabled(&self) -> bool {
        self.max_per_user > 0 || self.max_per_address > 0 || self.slow_after > 0
    }
}

pub enum Verdict {
    Allow,
    Slow(Duration),
    Refuse { retry_after: i64 },
}

/// The counters an attempt touches, with their limits' kind.
pub struct Keys {
    user: String,
    address: Option<String>,
}

/// The counters of another kind of guess than a password (a device's user
/// code): `who` stands where the username does, and both counters are
/// named by `kind`, so they never share a budget with password logins.
pub fn guess_keys(kind: &str, who: &str, address: Option<&str>) -> Keys {
    Keys {
        user: format!("{kind}:{who}"),
        address: address.map(|a| format!("{kind}-addr:{a}")),
    }
}

pub fn keys(username: &str, address: Option<&str>) -> Keys {
    Keys {
        // Case-folded so `Alice` and `alice` share a budget.
        user: format!("user:{}", username.to_lowercase()),
        address: address.map(|a| format!("addr:{a}")),
    }
}

pub async fn check(db: &Db, policy: &Policy, keys: &Keys, now: i64) -> Result<Verdict, StoreError> {
    if !policy.enabled() {
        return Ok(Verdict::Allow);
    }
    let (user, address, policy) = (keys.user.clone(), keys.address.clone(), *policy);
    db.run(move |conn| {
        let since = now - policy.window;
        let (user_failures, user_last) = rows::failures(conn, &user, since)?;
        let (addr_failures, addr_last) = match &address {
            Some(a) => rows::failures(conn, a, since)?,
            None => (0, 0),
        };
        let over = |n: i64, max: i64| max > 0 && n >= max;
        if over(user_failures, policy.max_per_user) || over(addr_failures, policy.max_per_address) {
            let last = user_last.max(addr_last);
            return Ok(Verdict::Refuse {
                retry_after: (last + policy.window - now).max(1),
            });
        }
        let failures = user_failures.max(addr_failures);
        if policy.slow_after > 0 && failures >= policy.slow_after {
            // One more second per failure past the threshold, at most five.
            let seconds = (failures - policy.slow_after + 1).min(5) as u64;
            return Ok(Verdict::Slow(Duration::from_secs(seconds)));
        }
        Ok(Verdict::Allow)
    })
    .await
}

/// Counts a failure, or clears the counts after a success.
pub fn record(
    conn: &mut DbConnection,
    policy: &Policy,
    keys: &Keys,
    success: bool,
    now: i64,
) -> Result<(), StoreError> {
    if !policy.enabled() {
        return Ok(());
    }
    for key in std::iter::once(&keys.user).chain(keys.address.as_ref()) {
        if success {
            rows::reset(conn, key)?;
        } else {
            rows::record_failure(conn, key, now, now - policy.window)?;
        }
    }
    Ok(())
}
