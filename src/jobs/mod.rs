//! The reminder worker: claims due reminders from the outbox with a lease,
//! sends each with no transaction or lock held, then records the outcomes in
//! short transactions of their own.
//!
//! Delivery is at-least-once at the SMTP boundary: a worker that dies after
//! the server accepted a message but before marking it leaves the row to be
//! sent again once its lease expires. The lease is longer than the SMTP
//! timeout and the Message-ID is stable, so a repeat is rare and recognisable.

pub mod backups;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures_util::{FutureExt, StreamExt};

use crate::auth::tokens::random_token;
pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::error::AppError;
use crate::mail::{self, Envelope, Mailer};
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
}

impl RunReport {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retry { .. } => self.retried += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Cancelled(_) => self.cancelled += 1,
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    pub pool: Pool,
    pub mailer: Arc<Mailer>,
    pub links: Links,
    pub clock: Arc<dyn Clock>,
    pub config: WorkerConfig,
}

impl Worker {
    /// Claims one batch of due reminders and processes it. Returns what happened.
    pub async fn run_once(&self) -> anyhow::Result<RunReport> {
        let now = self.clock.now();
        // A patient waiting for a call comes before the day's advice.
        let mut report = self.send_alerts(now).await?;
        let (jobs, clinic) = self.claim(now).await?;
        report.claimed += jobs.len();
        // Outcomes are recorded while later emails are still sending, in one
        // transaction per batch of whatever finished meanwhile: one commit per
        // email was the worker's next limit after the SMTP fix (BENCHMARKS.md, F6).
        let (finished, mut to_record) = tokio::sync::mpsc::unbounded_channel();
        let send_all = futures_util::stream::iter(by_email(jobs))
            .map(|group| {
                let clinic = &clinic;
                async move {
                    let ids: Vec<i64> = group.iter().map(|j| j.reminder.id).collect();
                    // A bug in one email must not stop the others: it fails visibly instead.
                    AssertUnwindSafe(self.process(group, clinic, now))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            let failed = "internal error while sending (see the log)";
                            ids.into_iter()
                                .map(|id| (id, Outcome::Failed(failed.into())))
                                .collect()
                        })
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .for_each(move |done| {
                for one in done {
                    // The receiver lives until every sender is gone, so this cannot fail.
                    let _ = finished.send(one);
                }
                std::future::ready(())
            });
        let record_all = async {
            let mut batch = Vec::new();
            while to_record.recv_many(&mut batch, RECORD_BATCH).await > 0 {
                for (_, outcome) in &batch {
                    report.add(outcome);
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

    /// Runs rounds until nothing is due (tests and benchmarks).
    pub async fn drain(&self) -> anyhow::Result<RunReport> {
        let mut total = RunReport::default();
        loop {
            let r = self.run_once().await?;
            if r.claimed == 0 {
                return Ok(total);
            }
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.failed += r.failed;
            total.skipped += r.skipped;
            total.cancelled += r.cancelled;
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
        loop {
            if housekept.is_none_or(|at| at.elapsed() >= self.config.housekeeping_every) {
                housekept = Some(std::time::Instant::now());
                match self.housekeep().await {
                    Ok(pruned) => tracing::info!(?pruned, "housekeeping done"),
                    // Pruning is not what the worker is for: mail keeps going.
                    Err(e) => tracing::error!(error = %e, "housekeeping failed"),
                }
            }
            let pause = match self.run_once().await {
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

    /// Sends the clinic's alert emails for urgent check-ins, with the same
    /// lease and retry rules as reminders. There are few, so one at a time.
    async fn send_alerts(&self, now: DateTime<Utc>) -> anyhow::Result<RunReport> {
        let (lease_until, limit) = (now + self.config.lease, self.config.batch_size);
        let (alerts, clinic) = self
            .blocking(move |conn| {
                Ok(checkins::claim_alerts(
                    conn,
                    now.naive_utc(),
                    lease_until.naive_utc(),
                    limit,
                )?)
            })
            .await?;
        let mut report = RunReport {
            claimed: alerts.len(),
            ..Default::default()
        };
        if alerts.is_empty() {
            return Ok(report);
        }
        let attention = format!("{}/attention", self.links.base_url);
        let email = mail::alert::compose(&clinic.name, &attention);
        let mut done = Vec::new();
        for alert in alerts {
            let outcome = if clinic.email.is_empty() {
                Outcome::Failed(
                    "the clinic has no email address: set one in Clinic settings".into(),
                )
            } else {
                let envelope = Envelope {
                    from_name: &clinic.name,
                    from_email: &clinic.sender_email,
                    reply_to: None,
                    to_name: &clinic.name,
                    to_email: &clinic.email,
                    subject: &email.subject,
                    message_id: &alert.message_id,
                    unsubscribe_url: None,
                };
                match mail::build_message(&envelope, email.text.clone(), email.html.clone()) {
                    Err(e) => Outcome::Failed(format!("could not build the email: {e}")),
                    Ok(message) => match self.mailer.send(message).await {
                        Ok(()) => Outcome::Sent,
                        Err(e) if e.permanent => Outcome::Failed(e.message),
                        Err(e) if alert.attempts >= self.config.max_attempts => Outcome::Failed(
                            format!("gave up after {} attempts: {}", alert.attempts, e.message),
                        ),
                        Err(e) => Outcome::Retry {
                            error: e.message,
                            next: (now + self.config.backoff_after(alert.attempts)).naive_utc(),
                        },
                    },
                }
            };
            report.add(&outcome);
            done.push((alert.id, outcome));
        }
        self.blocking(move |conn| Ok(checkins::record_alerts(conn, done, now.naive_utc())?))
            .await?;
        Ok(report)
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
            Ok(message) => self.send(message, &to_send, now).await,
            Err(e) => Outcome::Failed(format!("could not build the email: {e}")),
        };
        for job in &to_send {
            done.push((job.reminder.id, outcome.clone()));
        }
        done
    }

    async fn send(&self, message: lettre::Message, group: &[Job], now: DateTime<Utc>) -> Outcome {
        // Rows that go together were claimed together, so they have made the same attempts.
        let attempts = group.iter().map(|j| j.reminder.attempts).max().unwrap_or(0);
        match self.mailer.send(message).await {
            Ok(()) => Outcome::Sent,
            Err(e) if e.permanent => Outcome::Failed(e.message),
            Err(e) if attempts >= self.config.max_attempts => Outcome::Failed(format!(
                "gave up after {} attempts: {}",
                attempts, e.message
            )),
            Err(e) => Outcome::Retry {
                error: e.message,
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
