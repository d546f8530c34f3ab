//! Request limits in memory: a fixed window per key (a client at the token
//! endpoint, an address at the registration endpoint). Each replica counts
//! for itself, so the limit of a deployment is this times the number of
//! replicas.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Error;

pub struct RateLimiter {
    limit: i64,
    /// Window length, seconds.
    window: i64,
    /// The description of the 429.
    refusal: &'static str,
    windows: Mutex<HashMap<String, (i64, i64)>>,
}

impl RateLimiter {
    /// `per_second` requests per client per second; 0 means no limit.
    pub fn new(per_second: i64) -> Self {
        Self::per_window(per_second, 1, "this client is sending too many requests")
    }

    /// `limit` requests per key in each window of `window` seconds; a
    /// `limit` of 0 means no limit.
    pub fn per_window(limit: i64, window: i64, refusal: &'static str) -> Self {
        RateLimiter {
            limit,
            window: window.max(1),
            refusal,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key` at `now`.
    pub fn check(&self, key: &str, now: i64) -> Result<(), Error> {
        if self.limit <= 0 {
            return Ok(());
        }
        let slot = now.div_euclid(self.window);
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() > 100_000 {
            // Keys come and go; old windows are worthless.
            windows.retain(|_, (s, _)| *s == slot);
        }
        let entry = windows.entry(key.to_owned()).or_insert((slot, 0));
        if entry.0 != slot {
            *entry = (slot, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            let retry_after = (slot + 1) * self.window - now;
            return Err(Error::too_many_requests(self.refusal, retry_after));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_client_separately() {
        let limiter = RateLimiter::new(3);
        assert!((0..3).all(|_| limiter.check("a", 100).is_ok()));
        assert!(limiter.check("a", 100).is_err());
        assert!(limiter.check("b", 100).is_ok());
        assert!(
            limiter.check("a", 101).is_ok(),
            "a new second, a new window"
        );
        assert!(RateLimiter::new(0).check("a", 100).is_ok());
    }

    #[test]
    fn a_longer_window_counts_across_seconds_and_says_when_it_ends() {
        let limiter = RateLimiter::per_window(2, 60, "slow down");
        assert!(limiter.check("10.0.0.1", 120).is_ok());
        assert!(limiter.check("10.0.0.1", 150).is_ok());
        let refused = limiter.check("10.0.0.1", 170).unwrap_err();
        assert_eq!(refused.retry_after, Some(10));
        assert!(limiter.check("10.0.0.2", 170).is_ok());
        assert!(limiter.check("10.0.0.1", 180).is_ok(), "the next minute");
    }
}
