//! The reminder worker: claims due reminders from the outbox with a lease,
//! sends each with no transaction or lock held, then records the outcomes in
//! short transactions of their own.
//!
//! Delivery is at-least-once at the SMTP boundary: a worker that dies after
//! the server accepted a message but before marking it leaves the row to be
//! sent again once its lease expires. Everything else keeps a row to one send
//! (see `lease.rs`): each claim writes a random token into its rows and an
//! outcome is recorded only while that token holds the row; the lease is
//! derived from the SMTP timeouts (half as long again as the longest send) and
//! renewed while the claim is worked through; no send starts unless what is
//! left of the lease, counted on the monotonic clock, covers the longest send;
//! a row whose lease was taken over is neither sent nor recorded (it is
//! logged), and one that will not be sent this round is given back, its
//! attempt not counted. The Message-ID is stable, so a repeat is recognisable.
//!
//! The clock: "now" is read again before each send, so an email is never sent
//! before its time even when the wall clock went back after the claim (it is
//! given back); durations (the lease, the pause below) are monotonic.
//!
//! Wrong mail settings (the server's certificate not trusted, the password
//! refused) are no fault of any email, and retrying each email six times
//! would only fail them all, lose patients' reminders to an IT mistake, and
//! may lock the clinic's mail account after repeated bad passwords. So such a
//! failure *holds* the email: it goes back to pending with the plain reason
//! and the attempt not counted (the outbox shows it, with a banner, and
//! `reminders::smtp_config_error` tells the System page), and the worker stops
//! sending for `WorkerConfig::config_pause`. Then, or at once after a restart
//! (the usual way to apply fixed settings), one email goes first as a probe,
//! and the rest follow only if it went. Held emails keep their time, so the
//! stale rule treats a long pause like any other time the app was not sending.
//!
//! Here, the worker and its settings; `run.rs`, its loop; `send.rs`, a round's
//! reminders; `clinic_mail.rs`, the clinic's check-in emails; `retry.rs`, what
//! becomes of an email that did not go; `lease.rs`, the claim's lease;
//! `backups.rs`, the daily backups.
pub mod backups;
mod clinic_mail;
pub mod lease;
mod retry;
mod run;
mod send;

use std::sync::{Arc, OnceLock};
use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::auth::tokens::random_token;
pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::mail::{self, Mailer};
use crate::metrics::{MailKind, Metrics};
use crate::usecases::housekeeping::{self, Pruned, Retention};
use crate::usecases::links::Links;
use crate::usecases::reminders::Outcome;
use crate::usecases::{DbConn, Pool};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Reminders claimed per round.
    pub batch_size: i64,
    /// How long a claimed reminder is ours before another worker may take it,
    /// unless renewed: [`lease::lease_for`] the mailer's longest send
    /// (`startup::worker_for`). A round refuses to start with a shorter one.
    pub lease: StdDuration,
    /// Whether the lease is renewed while a claim is worked through (off only
    /// to show what a worker does when its renewals do not get through).
    pub renew_leases: bool,
    /// Sends in flight at once within one worker.
    pub concurrency: usize,
    /// Temporary failures are retried until this many attempts, then fail.
    pub max_attempts: i32,
    /// First retry delay; doubles with each attempt, up to an hour.
    pub backoff: Duration,
    /// After a configuration error (see the top), how long the worker sends
    /// nothing before it tries again.
    pub config_pause: Duration,
    /// A daily reminder later than this is skipped (the next one will come).
    pub stale_after: Duration,
    /// How long to wait when nothing is due.
    pub idle_poll: StdDuration,
    /// This worker's row in the heartbeat table (see `health`).
    pub name: String,
    /// How often the worker prunes expired sessions, tokens and the like.
    pub housekeeping_every: StdDuration,
    /// What pruning keeps.
    pub retention: Retention,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch_size: 100,
            lease: lease::lease_for(mail::SmtpTimeouts::default().longest_send(1)),
            renew_leases: true,
            concurrency: 8,
            max_attempts: 6,
            backoff: Duration::seconds(60),
            config_pause: Duration::minutes(5),
            stale_after: Duration::hours(12),
            idle_poll: StdDuration::from_secs(5),
            // Unique per process; readable enough to match a log line.
            name: format!("pid{}-{}", std::process::id(), &random_token()[..8]),
            housekeeping_every: StdDuration::from_secs(3600),
            retention: Retention::default(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cancelled: usize,
    /// Held for a configuration error, not counted as an attempt.
    pub held: usize,
    /// Given back unsent, not counted as an attempt: the lease had too little
    /// left for a send, or the clock went back before the email's time.
    pub released: usize,
    /// Taken over by another claim after this one's lease ran out: neither
    /// sent nor recorded by this worker.
    pub lost: usize,
    /// The round sent nothing: the worker is pausing after a configuration error.
    pub paused: bool,
}

impl RunReport {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retry { .. } => self.retried += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Cancelled(_) => self.cancelled += 1,
            Outcome::Held(_) => self.held += 1,
        }
    }

    fn add_up(&mut self, r: &RunReport) {
        self.claimed += r.claimed;
        self.sent += r.sent;
        self.retried += r.retried;
        self.failed += r.failed;
        self.skipped += r.skipped;
        self.cancelled += r.cancelled;
        self.held += r.held;
        self.released += r.released;
        self.lost += r.lost;
    }
}

/// What a worker knows of the mail settings from one round to the next.
#[derive(Debug, Default, Clone)]
pub struct MailState {
    /// An email went through since start-up or the last configuration error,
    /// so a round need not send one alone first.
    proven: bool,
    /// After a configuration error, nothing is sent before this (monotonic:
    /// a step of the wall clock neither ends the pause nor stretches it).
    paused_until: Option<std::time::Instant>,
}

/// Set by the round's first configuration error: the emails after it are
/// held without trying the server again.
type SettingsWrong = OnceLock<String>;

#[derive(Clone)]
pub struct Worker {
    pub pool: Pool,
    pub mailer: Arc<Mailer>,
    pub links: Links,
    pub clock: Arc<dyn Clock>,
    pub config: WorkerConfig,
    /// The app's counters: each reminder's and alert's outcome.
    pub metrics: Metrics,
}

impl Worker {
    /// Notes what became of one reminder or alert, in this round's report
    /// and in the app's metrics.
    fn tally(&self, report: &mut RunReport, kind: MailKind, outcome: &Outcome) {
        report.add(outcome);
        self.metrics.count_mail(kind, outcome);
    }

    /// Prunes expired sessions, old log-in attempts, spent password links and
    /// the heartbeats of workers long gone.
    pub async fn housekeep(&self) -> anyhow::Result<Pruned> {
        let (now, retention) = (self.clock.now().naive_utc(), self.config.retention);
        self.blocking(move |conn| Ok(housekeeping::prune(conn, now, &retention)?))
            .await
    }

    /// Runs database work on the blocking pool with a pooled connection. A
    /// panic there is a bug outside any single send: it is re-raised here so
    /// it ends the worker rather than passing as one failed round.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let pool = self.pool.clone();
        match tokio::task::spawn_blocking(move || f(&mut *pool.get()?)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(e.into()),
        }
    }
}
