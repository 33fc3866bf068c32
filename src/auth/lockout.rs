//! The log-in throttle, as pure functions of past failures.
//!
//! Failures are counted per account *and client address*: five wrong
//! passwords from one address lock that address out of that account, for 15
//! minutes and then twice as long at each further lock. A stranger guessing
//! from their own address therefore never locks the real user out of
//! theirs. Two wider ceilings stop a spread-out attack: one account, 50
//! failures from all addresses in 15 minutes, locks the account for everyone
//! for 15 minutes; one address, 30 failures over all accounts, is throttled.
//! A successful log-in clears its own address's failures; an admin's
//! password reset, or a new password from a set-password link, clears all.

use chrono::{Duration, NaiveDateTime};

/// One counting rule: `threshold` failures within `window_minutes` lock for
/// `lock_minutes` after the failure that tripped it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub threshold: usize,
    pub window_minutes: i64,
    pub lock_minutes: i64,
    /// Each further lock within the look-back lasts twice the one before.
    pub doubling: bool,
}

/// One account from one client address.
pub const PER_ACCOUNT_AND_ADDRESS: Rule = Rule {
    threshold: 5,
    window_minutes: 15,
    lock_minutes: 15,
    doubling: true,
};

/// One account from every address together: high enough that no single
/// address can reach it before its own lock stops it.
pub const PER_ACCOUNT: Rule = Rule {
    threshold: 50,
    window_minutes: 15,
    lock_minutes: 15,
    doubling: false,
};

/// Failed attempts from one client address, over all accounts, within
/// [`IP_WINDOW_MINUTES`], before that address is throttled.
pub const IP_THRESHOLD: i64 = 30;
pub const IP_WINDOW_MINUTES: i64 = 15;

/// The longest a doubling lock grows.
const MAX_LOCK_MINUTES: i64 = 24 * 60;

impl Rule {
    /// When the lock ends, given the failure times (any order); `None` when
    /// not locked at `now`. Attempts refused during a lock are not recorded
    /// as failures, so hammering a lock does not extend it.
    pub fn locked_until(
        &self,
        failures: &[NaiveDateTime],
        now: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let mut times = failures.to_vec();
        times.sort();
        let window = Duration::minutes(self.window_minutes);
        let mut until: Option<NaiveDateTime> = None;
        let mut locks = 0u32;
        let mut counted: Vec<NaiveDateTime> = Vec::new();
        for t in times {
            if until.is_some_and(|u| t < u) {
                continue;
            }
            counted.retain(|&c| t - c < window);
            counted.push(t);
            if counted.len() >= self.threshold {
                let factor = if self.doubling {
                    1i64 << locks.min(10)
                } else {
                    1
                };
                let minutes = (self.lock_minutes * factor).min(MAX_LOCK_MINUTES);
                until = Some(t + Duration::minutes(minutes));
                locks += 1;
                counted.clear();
            }
        }
        until.filter(|&u| u > now)
    }
}

/// How far back failures must be loaded to decide every rule.
pub fn lookback() -> Duration {
    Duration::minutes(MAX_LOCK_MINUTES + PER_ACCOUNT_AND_ADDRESS.window_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(min: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            + Duration::minutes(min)
    }

    const PAIR: Rule = PER_ACCOUNT_AND_ADDRESS;

    #[test]
    fn four_failures_do_not_lock() {
        let f: Vec<_> = (0..4).map(at).collect();
        assert_eq!(PAIR.locked_until(&f, at(5)), None);
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks_for_fifteen_minutes() {
        let f: Vec<_> = (0..5).map(at).collect();
        assert_eq!(PAIR.locked_until(&f, at(5)), Some(at(19)));
        assert_eq!(PAIR.locked_until(&f, at(18)), Some(at(19)));
        assert_eq!(PAIR.locked_until(&f, at(19)), None);
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_lock() {
        let f: Vec<_> = [0, 4, 8, 12, 16].into_iter().map(at).collect();
        assert_eq!(PAIR.locked_until(&f, at(16)), None);
    }

    #[test]
    fn each_further_lock_lasts_twice_as_long() {
        // Locked at 4 until 19; five more from 19 lock until 23 + 30.
        let f: Vec<_> = (0..5).chain(19..24).map(at).collect();
        assert_eq!(PAIR.locked_until(&f, at(24)), Some(at(53)));
    }

    #[test]
    fn the_account_wide_ceiling_needs_many_more_failures() {
        let f: Vec<_> = (0..49).map(|i| at(0) + Duration::seconds(i)).collect();
        assert_eq!(PER_ACCOUNT.locked_until(&f, at(1)), None);
        let f: Vec<_> = (0..50).map(|i| at(0) + Duration::seconds(i)).collect();
        assert!(PER_ACCOUNT.locked_until(&f, at(1)).is_some());
    }
}
