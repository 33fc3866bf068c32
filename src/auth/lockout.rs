//! The account lock-out rule, as a pure function of past failures.

use chrono::{Duration, NaiveDateTime};

/// Failures within this window count towards a lock.
pub const WINDOW_MINUTES: i64 = 15;
/// This many failures within the window lock the account…
pub const THRESHOLD: usize = 5;
/// …for this long after the failure that tripped it.
pub const LOCK_MINUTES: i64 = 15;
/// Failed attempts from one client address within the window before it is throttled.
pub const IP_THRESHOLD: i64 = 30;

/// When the account's lock ends, given its recent failure times (any order).
/// `None` when it is not locked at `now`. Attempts refused during a lock are
/// not recorded as failures, so a lock cannot be extended by hammering it.
pub fn locked_until(failures: &[NaiveDateTime], now: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut times = failures.to_vec();
    times.sort();
    let window = Duration::minutes(WINDOW_MINUTES);
    let mut until: Option<NaiveDateTime> = None;
    let mut counted: Vec<NaiveDateTime> = Vec::new();
    for t in times {
        if until.is_some_and(|u| t < u) {
            continue;
        }
        counted.retain(|&c| t - c < window);
        counted.push(t);
        if counted.len() >= THRESHOLD {
            until = Some(t + Duration::minutes(LOCK_MINUTES));
            counted.clear();
        }
    }
    until.filter(|&u| u > now)
}

/// How far back failures must be loaded to decide [`locked_until`].
pub fn lookback() -> Duration {
    Duration::minutes(WINDOW_MINUTES + LOCK_MINUTES)
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

    #[test]
    fn four_failures_do_not_lock() {
        let f: Vec<_> = (0..4).map(at).collect();
        assert_eq!(locked_until(&f, at(5)), None);
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks_for_fifteen_minutes() {
        let f: Vec<_> = (0..5).map(at).collect();
        assert_eq!(locked_until(&f, at(5)), Some(at(19)));
        assert_eq!(locked_until(&f, at(18)), Some(at(19)));
        assert_eq!(locked_until(&f, at(19)), None);
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_lock() {
        let f: Vec<_> = [0, 4, 8, 12, 16].into_iter().map(at).collect();
        assert_eq!(locked_until(&f, at(16)), None);
    }
}
