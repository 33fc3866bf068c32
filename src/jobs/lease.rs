//! A worker's lease on what it claimed, as the worker itself counts it.
//!
//! The database holds each claimed row's lease as a wall-clock time
//! (`lease_expires_at`): that is what another worker compares with its own
//! clock to decide the row is abandoned. The worker holding the claim counts
//! its lease on the monotonic clock from the moment just before it wrote that
//! time, so a step of the wall clock never makes it believe it has more time
//! than it has. Before each send it checks that what is left covers the
//! longest a send can take; while it works it renews the lease (one statement
//! for the whole claim, by its token) every sixth of the lease, and at once
//! when the wall clock steps (the stored expiry moved with it).
//!
//! Why renew rather than claim only what one lease covers: with RFC 5321's
//! timeouts one send may take over half an hour, so a lease covering a batch
//! of 100 at 8 in flight would be many hours, the time a crashed worker's
//! emails would wait, while batches of 8 would cost a claim transaction for
//! every 8 emails on a fast relay. Renewing keeps batches large and a
//! crashed worker's emails waiting one lease.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::usecases::{checkins, reminders};

/// How long a claim is good for: set with the worker's settings, which check it.
pub use crate::config::lease_for;

/// How often a worker renews its lease while it sends: six times a lease,
/// so what is left before a send is at least 5/6 of the lease (1.25 times
/// the longest send) when renewals go through.
pub fn renew_every(lease: Duration) -> Duration {
    lease / 6
}

/// A wall clock that drifts from the monotonic one by more than this since
/// the last renewal has been stepped: the stored lease is renewed at once.
const STEP: Duration = Duration::from_secs(2);

/// One claim's lease, shared by the sends and the renewals of a round.
#[derive(Debug)]
pub struct Lease {
    length: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the stored expiry was last written: wall `since_wall + length`.
    since: Instant,
    since_wall: DateTime<Utc>,
    /// The rows the claim still held at the last renewal (`None` before any).
    held: Option<HashSet<i64>>,
}

impl Lease {
    /// A lease of `length` from `(monotonic, wall)`, read just before the claim
    /// stored `wall + length` as the rows' expiry.
    pub fn new(length: Duration, monotonic: Instant, wall: DateTime<Utc>) -> Lease {
        Lease {
            length,
            state: Mutex::new(State {
                since: monotonic,
                since_wall: wall,
                held: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    /// What is left of the lease at `now`.
    pub fn remaining(&self, now: Instant) -> Duration {
        let since = self.state().since;
        self.length
            .saturating_sub(now.saturating_duration_since(since))
    }

    /// Whether a send that may take `longest_send` can start at `now` and
    /// end, whatever happens, before the lease does.
    pub fn may_start(&self, now: Instant, longest_send: Duration) -> bool {
        self.remaining(now) >= longest_send
    }

    /// Whether the claim still held the row at the last renewal.
    pub fn holds(&self, id: i64) -> bool {
        self.state()
            .held
            .as_ref()
            .is_none_or(|held| held.contains(&id))
    }

    /// Whether to renew at `(now, wall)`: a sixth of the lease has gone, or
    /// the wall clock stepped since the last renewal.
    pub fn wants_renewal(&self, now: Instant, wall: DateTime<Utc>) -> bool {
        let state = self.state();
        let passed = now.saturating_duration_since(state.since);
        if passed >= renew_every(self.length) {
            return true;
        }
        let wall_passed = wall - state.since_wall;
        let drift = (wall_passed - chrono::Duration::from_std(passed).unwrap_or_default()).abs();
        drift > chrono::Duration::from_std(STEP).unwrap_or_default()
    }

    /// The expiry was written as `wall + length` at `(now, wall)`, and the
    /// claim then held `held`.
    pub fn renewed(&self, now: Instant, wall: DateTime<Utc>, held: HashSet<i64>) {
        let mut state = self.state();
        state.since = now;
        state.since_wall = wall;
        state.held = Some(held);
    }
}

/// How often a worker looks at its lease while it works: often enough to
/// notice a step of the wall clock within a second or two.
const LOOK_EVERY: Duration = Duration::from_secs(1);

impl super::Worker {
    /// Keeps the claim `token`'s lease while the round works through it (the
    /// caller drops this future when the round is done): renews it when
    /// [`Lease::wants_renewal`] says so, reminders and alerts together, and
    /// notes which reminders the claim still holds. A renewal that fails is
    /// logged; the sends then stop as the lease runs down (see `may_start`).
    pub(super) async fn keep_lease(&self, token: &str, lease: &Lease) -> std::convert::Infallible {
        let length = chrono::Duration::from_std(lease.length()).unwrap_or(chrono::Duration::MAX);
        loop {
            tokio::time::sleep(LOOK_EVERY.min(renew_every(lease.length()))).await;
            let (now, wall) = (self.clock.monotonic(), self.clock.now());
            if !self.config.renew_leases || !lease.wants_renewal(now, wall) {
                continue;
            }
            let (name, token) = (self.config.name.clone(), token.to_string());
            let lease_until = (wall + length).naive_utc();
            let renewed = self
                .blocking(move |conn| {
                    let at = wall.naive_utc();
                    checkins::renew_clinic_emails(conn, &token, lease_until)?;
                    Ok(reminders::renew(conn, &name, &token, at, lease_until)?)
                })
                .await;
            match renewed {
                Ok(held) => lease.renewed(now, wall, held.into_iter().collect()),
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the lease on claimed emails; sends stop when too little of it is left")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_lease_near_its_end_starts_no_send() {
        let t0 = Instant::now();
        let lease = Lease::new(lease_for(20 * MINUTE), t0, Utc::now());
        assert_eq!(lease.length(), 30 * MINUTE);
        assert!(lease.may_start(t0, 20 * MINUTE));
        assert!(
            lease.may_start(t0 + 10 * MINUTE, 20 * MINUTE),
            "exactly enough left"
        );
        assert!(!lease.may_start(t0 + 10 * MINUTE + Duration::from_secs(1), 20 * MINUTE));
        assert_eq!(lease.remaining(t0 + 40 * MINUTE), Duration::ZERO);
    }

    #[test]
    fn a_renewal_restores_the_lease_and_says_which_rows_are_still_held() {
        let (t0, wall) = (Instant::now(), Utc::now());
        let lease = Lease::new(30 * MINUTE, t0, wall);
        assert!(lease.holds(7), "held until a renewal says otherwise");
        assert!(!lease.wants_renewal(t0 + 4 * MINUTE, wall + chrono::Duration::minutes(4)));
        assert!(lease.wants_renewal(t0 + 5 * MINUTE, wall + chrono::Duration::minutes(5)));
        lease.renewed(t0 + 25 * MINUTE, wall, HashSet::from([8]));
        assert_eq!(lease.remaining(t0 + 25 * MINUTE), 30 * MINUTE);
        assert!(!lease.holds(7) && lease.holds(8));
    }

    #[test]
    fn a_step_of_the_wall_clock_asks_for_a_renewal_at_once_and_changes_nothing_else() {
        let (t0, wall) = (Instant::now(), Utc::now());
        let lease = Lease::new(30 * MINUTE, t0, wall);
        let hour = chrono::Duration::hours(1);
        assert!(lease.wants_renewal(t0, wall + hour), "forward an hour");
        assert!(lease.wants_renewal(t0, wall - hour), "back an hour");
        assert!(!lease.wants_renewal(t0, wall + chrono::Duration::seconds(1)));
        // The time left is counted on the monotonic clock alone.
        assert_eq!(lease.remaining(t0 + MINUTE), 29 * MINUTE);
    }
}
