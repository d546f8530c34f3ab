//! Per-client request limits at the token endpoint: a fixed one-second
//! window per client, in memory. Each replica counts for itself, so the
//! limit of a deployment is this times the number of replicas.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Error;

pub struct RateLimiter {
    per_second: i64,
    windows: Mutex<HashMap<String, (i64, i64)>>,
}

impl RateLimiter {
    /// `per_second` of 0 means no limit.
    pub fn new(per_second: i64) -> Self {
        RateLimiter {
            per_second,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `client_id` in the second `now`.
    pub fn check(&self, client_id: &str, now: i64) -> Result<(), Error> {
        if self.per_second <= 0 {
            return Ok(());
        }
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() > 100_000 {
            // Clients come and go; old windows are worthless.
            windows.retain(|_, (second, _)| *second == now);
        }
        let entry = windows.entry(client_id.to_owned()).or_insert((now, 0));
        if entry.0 != now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.per_second {
            return Err(Error::too_many_requests(
                "this client is sending too many requests",
                1,
            ));
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
}
