//! The worker's loop: rounds one after another, the pause after a
//! configuration error, housekeeping every so often, and what a failed round
//! means (tried again, or the end of the worker).

use std::time::Duration as StdDuration;

use super::{MailState, RunReport, SettingsWrong, Worker};
use crate::error::AppError;
use crate::usecases::reminders;
use crate::usecases::DbError;

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
}
