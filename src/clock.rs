//! Where "now" comes from. The app has one clock, injected at start-up, so
//! tests can move time; nothing else calls `Utc::now()`.
//!
//! Two kinds of time: the wall clock ([`Clock::now`]) for what is stored and
//! compared with stored times (when an email is due, until when a lease
//! holds), and a monotonic clock ([`Clock::monotonic`]) for durations inside
//! the process (how long a lease has left since it was claimed, how long to
//! pause). The wall clock can jump (an NTP step, someone setting the time by
//! hand); the monotonic one only moves forward, at the pace of real time.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Now as the database stores it: UTC, whole microseconds (PostgreSQL's
    /// precision, so a value read back compares equal to the one written).
    fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc().trunc_subsecs(6)
    }

    /// A moment for measuring durations: it never jumps, whatever the wall clock does.
    fn monotonic(&self) -> Instant;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to. [`ManualClock::set`] and
/// [`ManualClock::advance`] let time pass (a later time moves the monotonic
/// clock on by as much; an earlier one leaves it); [`ManualClock::jump`] moves
/// the wall clock alone, as an NTP step does; [`ManualClock::pass`] moves the
/// monotonic clock alone.
pub struct ManualClock(Mutex<Times>);

struct Times {
    wall: DateTime<Utc>,
    monotonic: Instant,
}

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(Times {
            wall: at,
            monotonic: Instant::now(),
        }))
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, at: DateTime<Utc>) {
        let mut t = self.times();
        if let Ok(forward) = (at - t.wall).to_std() {
            t.monotonic += forward;
        }
        t.wall = at;
    }

    pub fn advance(&self, by: Duration) {
        let at = self.now() + by;
        self.set(at);
    }

    /// The wall clock steps by `by` (forward or back); no time passes.
    pub fn jump(&self, by: Duration) {
        self.times().wall += by;
    }

    /// `by` of real time passes while the wall clock stands still (or was
    /// stepped back by as much).
    pub fn pass(&self, by: std::time::Duration) {
        self.times().monotonic += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.times().wall
    }
    fn monotonic(&self) -> Instant {
        self.times().monotonic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_time_passing_moves_the_monotonic_clock() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let m0 = clock.monotonic();
        clock.jump(Duration::hours(1));
        clock.jump(-Duration::hours(2));
        assert_eq!(
            clock.monotonic(),
            m0,
            "steps of the wall clock are not time"
        );
        assert_eq!(clock.now(), start - Duration::hours(1));
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.monotonic() - m0, std::time::Duration::from_secs(300));
        clock.set(start - Duration::days(1));
        assert_eq!(clock.monotonic() - m0, std::time::Duration::from_secs(300));
        clock.pass(std::time::Duration::from_secs(10));
        assert_eq!(clock.monotonic() - m0, std::time::Duration::from_secs(310));
        assert_eq!(clock.now(), start - Duration::days(1));
    }
}
