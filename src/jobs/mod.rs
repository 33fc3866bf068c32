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

pub mod backups;
mod clinic_mail;
pub mod lease;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures_util::{FutureExt, StreamExt};

use crate::auth::tokens::random_token;
pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::error::AppError;
use crate::mail::{self, Envelope, Failure, Mailer, SendError};
use crate::metrics::{MailKind, Metrics};
use crate::usecases::checkins;
use crate::usecases::clinic::Clinic;
use crate::usecases::housekeeping::{self, Pruned, Retention};
use crate::usecases::links::Links;
use crate::usecases::reminders::{self, is_stale, Claim, Job, Outcome};
use crate::usecases::{DbConn, DbError, Pool};
use lease::Lease;

/// At most this many outcomes are recorded in one transaction.
const RECORD_BATCH: usize = 64;

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

impl WorkerConfig {
    /// The delay before retry number `attempts` (1 = after the first failure).
    pub fn backoff_after(&self, attempts: i32) -> Duration {
        let exp = (attempts.max(1) - 1).min(10) as u32;
        (self.backoff * 2_i32.pow(exp)).min(Duration::hours(1))
    }

    /// A temporary failure on the `attempts`th attempt at `now`: tried again
    /// after the backoff, or failed once the attempts are used up.
    fn retry_or_give_up(&self, message: String, attempts: i32, now: DateTime<Utc>) -> Outcome {
        if attempts >= self.max_attempts {
            return Outcome::Failed(format!(
                "gave up after {}: {message}",
                crate::words::counted(attempts, "attempt")
            ));
        }
        Outcome::Retry {
            error: message,
            next: (now + self.backoff_after(attempts)).naive_utc(),
        }
    }

    /// What becomes of an email that could not be built on its `attempts`th
    /// attempt: a template that failed to render is tried again like a
    /// temporary failure (a fixed release may render it); anything else (an
    /// address or header no email can carry) fails, with its reason.
    fn unbuilt(&self, error: &anyhow::Error, attempts: i32, now: DateTime<Utc>) -> Outcome {
        match error.downcast_ref::<mail::RenderError>() {
            Some(render) => self.retry_or_give_up(render.to_string(), attempts, now),
            None => Outcome::Failed(format!("could not build the email: {error}")),
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
    /// Claims one batch of due reminders and processes it, knowing nothing of
    /// earlier rounds. Returns what happened.
    pub async fn run_once(&self) -> anyhow::Result<RunReport> {
        self.run_round(&mut MailState::default()).await
    }

    /// One round, as `run_until` runs them: while pausing after a
    /// configuration error it only beats; otherwise it sends, one email alone
    /// first unless the settings are proven, and pauses if the round held any.
    pub async fn run_round(&self, mail: &mut MailState) -> anyhow::Result<RunReport> {
        let now = self.clock.now();
        let since_start = self.clock.monotonic();
        if mail.paused_until.is_some_and(|until| since_start < until) {
            let name = self.config.name.clone();
            self.blocking(move |conn| Ok(reminders::beat(conn, &name, now.naive_utc())?))
                .await?;
            return Ok(RunReport {
                paused: true,
                ..RunReport::default()
            });
        }
        let wrong = SettingsWrong::new();
        let report = self.send_due(now, mail.proven, &wrong).await?;
        if report.held > 0 {
            *mail = MailState {
                proven: false,
                paused_until: Some(
                    since_start + self.config.config_pause.to_std().unwrap_or_default(),
                ),
            };
        } else if report.sent > 0 {
            mail.proven = true;
        }
        Ok(report)
    }

    async fn send_due(
        &self,
        now: DateTime<Utc>,
        proven: bool,
        wrong: &SettingsWrong,
    ) -> anyhow::Result<RunReport> {
        let longest = self.mailer.longest_send();
        anyhow::ensure!(
            self.config.lease >= longest,
            "the worker's lease ({} s) is shorter than the longest send ({} s)",
            self.config.lease.as_secs(),
            longest.as_secs()
        );
        // One claim, one token, for the alerts and the reminders of this round;
        // the lease is counted from before either was stored.
        let token = random_token();
        let lease = Lease::new(self.config.lease, self.clock.monotonic(), now);
        let work = self.work_through(now, proven, wrong, &token, &lease);
        tokio::pin!(work);
        tokio::select! {
            report = &mut work => report,
            never = self.keep_lease(&token, &lease) => match never {},
        }
    }

    async fn work_through(
        &self,
        now: DateTime<Utc>,
        proven: bool,
        wrong: &SettingsWrong,
        token: &str,
        lease: &Lease,
    ) -> anyhow::Result<RunReport> {
        // A patient waiting for a call comes before the day's advice.
        let mut report = self.send_alerts(now, wrong, token, lease).await?;
        let (jobs, clinic) = self.claim(now, token).await?;
        report.claimed += jobs.len();
        let mut groups = by_email(jobs).into_iter();
        // Unproven settings are tried with one email, not `concurrency` at once:
        // a wrong password tried eight times together can lock the account.
        let probe = if proven || report.sent > 0 {
            None
        } else {
            groups.next()
        };
        let send_one = |group: Vec<Job>| {
            let clinic = &clinic;
            async move {
                let ids: Vec<i64> = group.iter().map(|j| j.reminder.id).collect();
                // A bug in one email must not stop the others: it fails visibly instead.
                AssertUnwindSafe(self.process(group, clinic, lease, wrong))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        let failed = "internal error while sending (see the log)";
                        ids.into_iter()
                            .map(|id| {
                                let outcome = Outcome::Failed(failed.into());
                                (id, Done::Outcome(outcome, self.clock.now()))
                            })
                            .collect()
                    })
            }
        };
        // Outcomes are recorded while later emails are still sending, in one
        // transaction per batch of whatever finished meanwhile: one commit per
        // email was the worker's next limit after the SMTP fix (BENCHMARKS.md, F6).
        let (finished, mut to_record) = tokio::sync::mpsc::unbounded_channel();
        let send_all = async move {
            // The receiver lives until every sender is gone, so sending cannot fail.
            if let Some(group) = probe {
                for one in send_one(group).await {
                    let _ = finished.send(one);
                }
            }
            futures_util::stream::iter(groups)
                .map(send_one)
                .buffer_unordered(self.config.concurrency.max(1))
                .for_each(|done| {
                    for one in done {
                        let _ = finished.send(one);
                    }
                    std::future::ready(())
                })
                .await
        };
        let record_all = async {
            let mut batch = Vec::new();
            while to_record.recv_many(&mut batch, RECORD_BATCH).await > 0 {
                let lost = self.record(std::mem::take(&mut batch), token).await;
                report.add_up(&lost);
            }
        };
        let ((), ()) = tokio::join!(send_all, record_all);
        Ok(report)
    }

    /// Runs rounds until nothing is due, or the worker pauses after a
    /// configuration error (tests and benchmarks).
    pub async fn drain(&self) -> anyhow::Result<RunReport> {
        let mut total = RunReport::default();
        let mut mail = MailState::default();
        loop {
            let r = self.run_round(&mut mail).await?;
            total.add_up(&r);
            // A round that only gave back or lost what it claimed would claim it again.
            if r.claimed == 0 || r.claimed == r.released + r.lost {
                total.paused = r.paused;
                return Ok(total);
            }
        }
    }

    /// Works until `stop` resolves. A round that fails for a reason the next
    /// round may not see (the database unreachable or busy) is logged and
    /// retried after a pause; any other failure ends the worker with that
    /// error, and a panic outside a single send unwinds out of it, so whoever
    /// runs it (`serve`, `aftercare worker`) can exit and be restarted
    /// instead of idling without sending.
    pub async fn run_until(
        &self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(stop);
        tracing::info!(transport = %self.mailer.describe(), worker = %self.config.name, "reminder worker started");
        let mut housekept: Option<std::time::Instant> = None;
        let mut mail = MailState::default();
        let mut failures: u32 = 0;
        loop {
            if housekept.is_none_or(|at| at.elapsed() >= self.config.housekeeping_every) {
                housekept = Some(std::time::Instant::now());
                match self.housekeep().await {
                    Ok(pruned) => tracing::info!(?pruned, "housekeeping done"),
                    // Pruning is not what the worker is for: mail keeps going.
                    Err(e) => tracing::error!(error = %e, "housekeeping failed"),
                }
            }
            let round = self.run_round(&mut mail).await;
            let failed_before = std::mem::replace(&mut failures, 0);
            if failed_before > 0 && round.is_ok() {
                tracing::info!(
                    failed_rounds = failed_before,
                    "reminder worker round succeeded again; the database is back"
                );
            }
            let pause = match round {
                Ok(r) if r.held > 0 => {
                    tracing::error!(
                        held = r.held,
                        pause_minutes = self.config.config_pause.num_minutes(),
                        "the mail settings need fixing (see the outbox or `aftercare mail test`): \
                         emails are held, not failed; sending resumes after the pause or a restart"
                    );
                    self.config.idle_poll
                }
                Ok(r) if r.claimed as i64 >= self.config.batch_size && r.released == 0 => {
                    StdDuration::ZERO
                }
                Ok(r) => {
                    if r.claimed > 0 {
                        tracing::info!(?r, "reminders processed");
                    }
                    self.config.idle_poll
                }
                Err(e) if is_transient(&e) => {
                    failures = failed_before + 1;
                    let pause = retry_pause(self.config.idle_poll, failures);
                    tracing::error!(
                        error = %crate::config::redact(&e.to_string()),
                        failures_in_a_row = failures,
                        retry_in_ms = pause.as_millis() as u64,
                        "reminder worker round failed; will retry"
                    );
                    pause
                }
                Err(e) => {
                    tracing::error!(error = %e, "reminder worker round failed; stopping the worker");
                    return Err(e.context("the reminder worker cannot go on"));
                }
            };
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("reminder worker stopped");
        Ok(())
    }

    /// Sends the clinic's alert emails for urgent check-ins, then its reminders for
    /// check-ins past the reply time (`clinic_mail`), with the reminders' fenced lease and
    /// retry rules.
    async fn send_alerts(
        &self,
        now: DateTime<Utc>,
        wrong: &SettingsWrong,
        token: &str,
        lease: &Lease,
    ) -> anyhow::Result<RunReport> {
        let mut report = self
            .send_clinic_emails(checkins::ClinicEmail::Alerts, now, wrong, token, lease)
            .await?;
        let overdue = self
            .send_clinic_emails(checkins::ClinicEmail::Overdue, now, wrong, token, lease)
            .await?;
        report.add_up(&overdue);
        Ok(report)
    }

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

    /// A claim of this round: from `now`, for one lease, up to a batch.
    fn claim_for<'a>(&self, now: DateTime<Utc>, token: &'a str) -> Claim<'a> {
        let lease = Duration::from_std(self.config.lease).unwrap_or(Duration::MAX);
        Claim {
            now: now.naive_utc(),
            lease_until: (now + lease).naive_utc(),
            limit: self.config.batch_size,
            token,
        }
    }

    async fn claim(&self, now: DateTime<Utc>, token: &str) -> anyhow::Result<(Vec<Job>, Clinic)> {
        let claim = self.claim_for(now, token);
        let (name, owned) = (self.config.name.clone(), token.to_string());
        self.blocking(move |conn| {
            Ok(reminders::claim_due(
                conn,
                &name,
                Claim {
                    token: &owned,
                    ..claim
                },
            )?)
        })
        .await
    }

    /// One email for a patient's reminders due at the same time. Its span names the
    /// reminders, never the patient or the address (logs leave the clinic). Each reminder
    /// gets an outcome; those that go out share the email's.
    #[tracing::instrument(name = "send", skip_all, fields(reminders = ?group.iter().map(|j| j.reminder.id).collect::<Vec<_>>()))]
    async fn process(
        &self,
        group: Vec<Job>,
        clinic: &Clinic,
        lease: &Lease,
        wrong: &SettingsWrong,
    ) -> Vec<(i64, Done)> {
        // Now, not when the round began: a long round's later emails are
        // judged by the time they would go.
        let now = self.clock.now();
        if let Some(not_now) = self.not_now(&group, lease, now) {
            return group
                .iter()
                .map(|j| (j.reminder.id, not_now.clone()))
                .collect();
        }
        let mut done = Vec::new();
        let mut to_send = Vec::new();
        for job in group {
            let r = &job.reminder;
            let late = now - r.send_at.and_utc();
            let outcome = if job.treatment_deleted {
                Outcome::Cancelled("the treatment was deleted".into())
            } else if !job.patient.can_be_emailed() {
                Outcome::Cancelled(if job.patient.unsubscribed_at.is_some() {
                    "the patient unsubscribed".into()
                } else {
                    crate::usecases::reminders::NO_CONSENT.into()
                })
            } else if is_stale(r.kind, r.send_at, now.naive_utc(), self.config.stale_after) {
                Outcome::Skipped(format!(
                    "{} late (the app was not sending); skipped so the next reminder goes on time",
                    crate::words::counted(late.num_hours(), "hour")
                ))
            } else {
                to_send.push(job);
                continue;
            };
            done.push((r.id, Done::Outcome(outcome, now)));
        }
        if to_send.is_empty() {
            return done;
        }
        // Rows that go together were claimed together, so they have made the same attempts.
        let attempts = to_send
            .iter()
            .map(|j| j.reminder.attempts)
            .max()
            .unwrap_or(0);
        let outcome = match self.render(&to_send, clinic) {
            Ok(message) => self.deliver(message, attempts, wrong).await,
            Err(e) => self.config.unbuilt(&e, attempts, self.clock.now()),
        };
        for job in &to_send {
            done.push((job.reminder.id, Done::Outcome(outcome.clone(), now)));
        }
        done
    }

    /// Why a group of claimed reminders is not to be sent now, if it is not:
    /// another claim took it over (seen at a renewal); the lease has too
    /// little left for the longest send; or the clock went back since the
    /// claim and its time has not come.
    fn not_now(&self, group: &[Job], lease: &Lease, now: DateTime<Utc>) -> Option<Done> {
        if group.iter().any(|j| !lease.holds(j.reminder.id)) {
            return Some(Done::Lost);
        }
        if !lease.may_start(self.clock.monotonic(), self.mailer.longest_send()) {
            return Some(Done::GiveBack);
        }
        let due = |j: &Job| j.reminder.send_at <= now.naive_utc();
        (!group.iter().all(due)).then_some(Done::GiveBack)
    }

    /// Sends one email (a reminder or an alert) on its `attempts`th attempt and
    /// says what became of it. After a configuration error in this round the
    /// server is not tried again: the email is held with the same reason.
    async fn deliver(
        &self,
        message: lettre::Message,
        attempts: i32,
        wrong: &SettingsWrong,
    ) -> Outcome {
        if let Some(reason) = wrong.get() {
            return Outcome::Held(reason.clone());
        }
        let Err(SendError { kind, message }) = self.mailer.send(message).await else {
            return Outcome::Sent;
        };
        match kind {
            Failure::Configuration => {
                tracing::warn!(error = %message, "held: the mail settings need fixing");
                Outcome::Held(wrong.get_or_init(|| message).clone())
            }
            Failure::Permanent => Outcome::Failed(message),
            Failure::Temporary => self
                .config
                .retry_or_give_up(message, attempts, self.clock.now()),
        }
    }

    /// The email for reminders of one patient due at the same time. Its Message-ID is
    /// the lowest reminder's, so a repeat of the same email is recognisable.
    fn render(&self, group: &[Job], clinic: &Clinic) -> anyhow::Result<lettre::Message> {
        let plans = group
            .iter()
            .map(|j| serde_json::from_str::<crate::care::Plan>(&j.plan_json))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<_> = group.iter().map(|j| &j.reminder).zip(&plans).collect();
        let email = crate::usecases::reminders::compose_group(
            &rows,
            clinic,
            &group[0].patient.name,
            &self.links,
        )
        .ok_or_else(|| anyhow::anyhow!("no reminder to send"))?;
        let lead = group
            .iter()
            .min_by_key(|j| j.reminder.id)
            .ok_or_else(|| anyhow::anyhow!("no reminder to send"))?;
        let patient = &lead.patient;
        let unsubscribe = self.links.unsubscribe(patient.id);
        let to = patient.email.as_deref().unwrap_or_default();
        let envelope = Envelope {
            from_name: &clinic.name,
            from_email: &clinic.sender_email,
            reply_to: (!clinic.email.is_empty()).then_some(clinic.email.as_str()),
            to_name: &patient.name,
            to_email: to,
            subject: &email.subject,
            message_id: &lead.reminder.message_id,
            unsubscribe_url: Some(&unsubscribe),
        };
        mail::build_message(&envelope, email.text()?, email.html()?)
    }

    /// Records what became of finished reminders of the claim `token`: the
    /// outcomes (counted in the report and the metrics), and the rows given
    /// back. Rows another claim took over are logged and counted as lost. A
    /// failure to record is logged: the leases run out and the rows are tried
    /// again.
    async fn record(&self, done: Vec<(i64, Done)>, token: &str) -> RunReport {
        let mut report = RunReport::default();
        let (mut outcomes, mut give_back, mut lost) = (Vec::new(), Vec::new(), Vec::new());
        for (id, what) in done {
            match what {
                Done::Outcome(outcome, at) => {
                    self.tally(&mut report, MailKind::Reminder, &outcome);
                    outcomes.push((id, outcome, at.naive_utc()));
                }
                Done::GiveBack => give_back.push(id),
                Done::Lost => lost.push(id),
            }
        }
        report.released = give_back.len();
        let (name, owned, at) = (
            self.config.name.clone(),
            token.to_string(),
            self.clock.now().naive_utc(),
        );
        let ids: Vec<i64> = outcomes.iter().map(|(id, ..)| *id).collect();
        let recorded = self
            .blocking(move |conn| {
                reminders::release(conn, &owned, &give_back, at)?;
                Ok(reminders::record_outcomes(
                    conn, &name, &owned, outcomes, at,
                )?)
            })
            .await;
        match recorded {
            Ok(taken_over) => lost.extend(taken_over),
            Err(e) => {
                tracing::error!(reminders = ?ids, error = %e, "could not record reminders' outcomes")
            }
        }
        if !lost.is_empty() {
            tracing::warn!(reminders = ?lost, "lost the lease on these reminders: another worker took them over, so this one neither sent nor recorded them (or sent them before the lease ran out)");
        }
        report.lost = lost.len();
        report
    }
}

/// What a worker did with a claimed reminder.
#[derive(Debug, Clone)]
enum Done {
    /// What became of it, and when: the time its send started, which is when it went.
    Outcome(Outcome, DateTime<Utc>),
    /// Not sent this round: given back, the attempt not counted.
    GiveBack,
    /// Taken over by another claim: left to it.
    Lost,
}

/// Claimed reminders, one group per email: a patient's reminders due at the
/// same time. A "send the sheet now" email always goes on its own.
fn by_email(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mergeable = |j: &Job| !reminders::is_sheet_now(&j.reminder.reminder_key);
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        let key = (job.reminder.patient_id, job.reminder.send_at);
        match groups.iter_mut().find(|g| {
            mergeable(&job)
                && mergeable(&g[0])
                && (g[0].reminder.patient_id, g[0].reminder.send_at) == key
        }) {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

/// Whether a failed round may succeed when simply tried again: no pooled
/// connection in time, the connection dropped (a database restart), or the
/// database busy. Anything else (a missing table, a row that does not
/// decode, the clinic row gone) fails the same way every round.
fn is_transient(e: &anyhow::Error) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    // PostgreSQL down or restarting, the disk full, SQLite busy: the database's
    // situation, which passes (crate::usecases::health::outage).
    if crate::usecases::health::outage_in(e).is_some() {
        return true;
    }
    let db_error = match e.downcast_ref::<AppError>() {
        Some(AppError::Database(db)) => Some(db),
        _ => e.downcast_ref::<DbError>(),
    };
    matches!(
        db_error,
        Some(DbError::DatabaseError(Kind::SerializationFailure, _))
    )
}

/// The pause after `failures` rounds in a row failed for a reason that
/// passes: `idle_poll`, doubled with each failure, at most 12 times it (a
/// minute by default), so a long outage costs a few log lines a minute and
/// the worker resumes within a minute of the database's return.
fn retry_pause(idle_poll: StdDuration, failures: u32) -> StdDuration {
    let doubled = idle_poll.saturating_mul(1 << failures.saturating_sub(1).min(4));
    doubled.min(idle_poll.saturating_mul(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_database_is_retried_less_and_less_often_up_to_a_minute() {
        let poll = StdDuration::from_secs(5);
        let pauses: Vec<u64> = (1..=7).map(|n| retry_pause(poll, n).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 60, 60, 60]);
    }

    #[test]
    fn an_email_whose_template_fails_is_retried_with_the_reason_then_fails() {
        let c = WorkerConfig::default();
        let now = Utc::now();
        let broken = || {
            anyhow::Error::new(mail::RenderError {
                part: "HTML",
                cause: "formatter error".into(),
            })
        };
        let reason = "the email's HTML part could not be rendered (formatter error)";
        match c.unbuilt(&broken(), 1, now) {
            Outcome::Retry { error, next } => {
                assert_eq!(error, reason);
                assert_eq!(next, (now + c.backoff_after(1)).naive_utc());
            }
            other => panic!("retried, not {other:?}"),
        }
        match c.unbuilt(&broken(), c.max_attempts, now) {
            Outcome::Failed(error) => assert_eq!(
                error,
                format!("gave up after {} attempts: {reason}", c.max_attempts)
            ),
            other => panic!("failed in the end, not {other:?}"),
        }
        // An address no email can carry will never go: it fails at once.
        match c.unbuilt(&anyhow::anyhow!("invalid address"), 1, now) {
            Outcome::Failed(error) => {
                assert_eq!(error, "could not build the email: invalid address")
            }
            other => panic!("failed, not {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let c = WorkerConfig::default();
        assert_eq!(c.backoff_after(1), Duration::seconds(60));
        assert_eq!(c.backoff_after(2), Duration::seconds(120));
        assert_eq!(c.backoff_after(4), Duration::seconds(480));
        assert_eq!(c.backoff_after(30), Duration::hours(1));
    }
}
