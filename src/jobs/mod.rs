//! The reminder worker: claims due reminders from the outbox with a lease,
//! sends each with no transaction or lock held, then records the outcomes in
//! short transactions of their own.
//!
//! Delivery is at-least-once at the SMTP boundary: a worker that dies after
//! the server accepted a message but before marking it leaves the row to be
//! sent again once its lease expires. The lease is longer than the SMTP
//! timeout and the Message-ID is stable, so a repeat is rare and recognisable.
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
use crate::usecases::reminders::{self, is_stale, Job, Outcome};
use crate::usecases::{DbConn, DbError, Pool};

/// At most this many outcomes are recorded in one transaction.
const RECORD_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Reminders claimed per round.
    pub batch_size: i64,
    /// How long a claimed reminder is ours before another worker may take it.
    pub lease: Duration,
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
            lease: Duration::seconds(120),
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
    }
}

/// What a worker knows of the mail settings from one round to the next.
#[derive(Debug, Default, Clone)]
pub struct MailState {
    /// An email went through since start-up or the last configuration error,
    /// so a round need not send one alone first.
    proven: bool,
    /// After a configuration error, nothing is sent before this.
    paused_until: Option<DateTime<Utc>>,
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
        if mail.paused_until.is_some_and(|until| now < until) {
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
                paused_until: Some(now + self.config.config_pause),
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
        // A patient waiting for a call comes before the day's advice.
        let mut report = self.send_alerts(now, wrong).await?;
        let (jobs, clinic) = self.claim(now).await?;
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
                AssertUnwindSafe(self.process(group, clinic, now, wrong))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        let failed = "internal error while sending (see the log)";
                        ids.into_iter()
                            .map(|id| (id, Outcome::Failed(failed.into())))
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
                for (_, outcome) in &batch {
                    self.tally(&mut report, MailKind::Reminder, outcome);
                }
                let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
                if let Err(e) = self.record(std::mem::take(&mut batch), now).await {
                    // The leases run out and the rows are tried again; say so loudly.
                    tracing::error!(reminders = ?ids, error = %e, "could not record reminders' outcomes");
                }
            }
        };
        tokio::join!(send_all, record_all);
        Ok(report)
    }

    /// Runs rounds until nothing is due, or the worker pauses after a
    /// configuration error (tests and benchmarks).
    pub async fn drain(&self) -> anyhow::Result<RunReport> {
        let mut total = RunReport::default();
        let mut mail = MailState::default();
        loop {
            let r = self.run_round(&mut mail).await?;
            if r.claimed == 0 {
                total.paused = r.paused;
                return Ok(total);
            }
            total.add_up(&r);
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
        loop {
            if housekept.is_none_or(|at| at.elapsed() >= self.config.housekeeping_every) {
                housekept = Some(std::time::Instant::now());
                match self.housekeep().await {
                    Ok(pruned) => tracing::info!(?pruned, "housekeeping done"),
                    // Pruning is not what the worker is for: mail keeps going.
                    Err(e) => tracing::error!(error = %e, "housekeeping failed"),
                }
            }
            let pause = match self.run_round(&mut mail).await {
                Ok(r) if r.held > 0 => {
                    tracing::error!(
                        held = r.held,
                        pause_minutes = self.config.config_pause.num_minutes(),
                        "the mail settings need fixing (see the outbox or `aftercare mail test`): \
                         emails are held, not failed; sending resumes after the pause or a restart"
                    );
                    self.config.idle_poll
                }
                Ok(r) if r.claimed as i64 >= self.config.batch_size => StdDuration::ZERO,
                Ok(r) => {
                    if r.claimed > 0 {
                        tracing::info!(?r, "reminders processed");
                    }
                    self.config.idle_poll
                }
                Err(e) if is_transient(&e) => {
                    tracing::error!(error = %e, "reminder worker round failed; will retry");
                    self.config.idle_poll
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
    /// check-ins past the reply time (`clinic_mail`), with the reminders' lease and retry rules.
    async fn send_alerts(
        &self,
        now: DateTime<Utc>,
        wrong: &SettingsWrong,
    ) -> anyhow::Result<RunReport> {
        let mut report = self
            .send_clinic_emails(checkins::ClinicEmail::Alerts, now, wrong)
            .await?;
        let overdue = self
            .send_clinic_emails(checkins::ClinicEmail::Overdue, now, wrong)
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

    async fn claim(&self, now: DateTime<Utc>) -> anyhow::Result<(Vec<Job>, Clinic)> {
        let (lease_until, limit) = (now + self.config.lease, self.config.batch_size);
        let name = self.config.name.clone();
        self.blocking(move |conn| {
            Ok(reminders::claim_due(
                conn,
                &name,
                now.naive_utc(),
                lease_until.naive_utc(),
                limit,
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
        now: DateTime<Utc>,
        wrong: &SettingsWrong,
    ) -> Vec<(i64, Outcome)> {
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
                    "{} hours late (the app was not sending); skipped so the next reminder goes on time",
                    late.num_hours()
                ))
            } else {
                to_send.push(job);
                continue;
            };
            done.push((r.id, outcome));
        }
        if to_send.is_empty() {
            return done;
        }
        let outcome = match self.render(&to_send, clinic) {
            Ok(message) => {
                // Rows that go together were claimed together, so they have made the same attempts.
                let attempts = to_send.iter().map(|j| j.reminder.attempts).max();
                self.deliver(message, attempts.unwrap_or(0), now, wrong)
                    .await
            }
            Err(e) => Outcome::Failed(format!("could not build the email: {e}")),
        };
        for job in &to_send {
            done.push((job.reminder.id, outcome.clone()));
        }
        done
    }

    /// Sends one email (a reminder or an alert) on its `attempts`th attempt and
    /// says what became of it. After a configuration error in this round the
    /// server is not tried again: the email is held with the same reason.
    async fn deliver(
        &self,
        message: lettre::Message,
        attempts: i32,
        now: DateTime<Utc>,
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
            Failure::Temporary if attempts >= self.config.max_attempts => {
                Outcome::Failed(format!("gave up after {attempts} attempts: {message}"))
            }
            Failure::Temporary => Outcome::Retry {
                error: message,
                next: (now + self.config.backoff_after(attempts)).naive_utc(),
            },
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
        mail::build_message(&envelope, email.text(), email.html())
    }

    async fn record(&self, done: Vec<(i64, Outcome)>, now: DateTime<Utc>) -> anyhow::Result<()> {
        let name = self.config.name.clone();
        self.blocking(move |conn| {
            Ok(reminders::record_outcomes(
                conn,
                &name,
                done,
                now.naive_utc(),
            )?)
        })
        .await
    }
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
    let (pool_error, db_error) = match e.downcast_ref::<AppError>() {
        Some(AppError::Pool(_)) => (true, None),
        Some(AppError::Database(db)) => (false, Some(db)),
        _ => (
            e.downcast_ref::<r2d2::Error>().is_some(),
            e.downcast_ref::<DbError>(),
        ),
    };
    if pool_error {
        return true;
    }
    match db_error {
        Some(DbError::DatabaseError(Kind::ClosedConnection | Kind::SerializationFailure, _)) => {
            true
        }
        Some(DbError::DatabaseError(_, info)) => {
            // Neither backend gives these a kind of their own in diesel.
            let message = info.message().to_ascii_lowercase();
            [
                "database is locked",
                "connection",
                "terminating",
                "shutting down",
                "starting up",
            ]
            .iter()
            .any(|m| message.contains(m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let c = WorkerConfig::default();
        assert_eq!(c.backoff_after(1), Duration::seconds(60));
        assert_eq!(c.backoff_after(2), Duration::seconds(120));
        assert_eq!(c.backoff_after(4), Duration::seconds(480));
        assert_eq!(c.backoff_after(30), Duration::hours(1));
    }
}
