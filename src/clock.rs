//! What time it is, in Unix seconds. The server asks its [`Clock`] instead
//! of the system, so that a test can move time forward (a refresh family
//! expiring, a throttle window passing) instead of sleeping through it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The time source one server (or one CLI command) runs with. Cheap to
/// clone; clones share the source.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a clock that moves only when told.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that starts at the system's time and then moves only when
    /// [`ManualClock::advance`] is called on the handle returned with it.
    pub fn manual() -> (Self, ManualClock) {
        let source = Arc::new(AtomicI64::new(system_now()));
        (
            Clock {
                manual: Some(source.clone()),
            },
            ManualClock { source },
        )
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(source) => source.load(Ordering::SeqCst),
            None => system_now(),
        }
    }
}

/// The hand that moves a manual clock (tests only hold one).
#[derive(Debug, Clone)]
pub struct ManualClock {
    source: Arc<AtomicI64>,
}

impl ManualClock {
    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.source.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn now(&self) -> i64 {
        self.source.load(Ordering::SeqCst)
    }
}

fn system_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_its_clones_follow() {
        let (clock, hand) = Clock::manual();
        let start = clock.now();
        let copy = clock.clone();
        hand.advance(3600);
        assert_eq!(clock.now(), start + 3600);
        assert_eq!(copy.now(), start + 3600);
        assert_eq!(hand.now(), start + 3600);
    }

    #[test]
    fn the_system_clock_is_the_system_time() {
        let now = chrono::Utc::now().timestamp();
        assert!((Clock::system().now() - now).abs() <= 1);
    }
}
