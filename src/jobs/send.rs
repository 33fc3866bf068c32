//! One round's reminders: claimed with a fenced lease, grouped into one
//! email per patient and time, sent with no transaction open, and their
//! outcomes recorded in batches while later emails are still sending.

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Duration, Utc};
use futures_util::{FutureExt, StreamExt};

use super::lease::Lease;
use super::{RunReport, SettingsWrong, Worker};
use crate::auth::tokens::random_token;
use crate::mail::{self, Envelope, Failure, SendError};
use crate::metrics::MailKind;
use crate::usecases::reminders::{self, is_stale, Claim, Job, Outcome, Reason};

/// At most this many outcomes are recorded in one transaction.
const RECORD_BATCH: usize = 64;

impl Worker {
    /// Sends this round's clinic emails and due reminders under one claim,
    /// its lease renewed until the work is done.
    pub(super) async fn send_due(
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
        let jobs = self.claim(now, token).await?;
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
            async move {
                let ids: Vec<i64> = group.iter().map(|j| j.reminder.id).collect();
                // A bug in one email must not stop the others: it fails visibly instead.
                AssertUnwindSafe(self.process(group, lease, wrong))
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

    /// A claim of this round: from `now`, for one lease, up to a batch.
    pub(super) fn claim_for<'a>(&self, now: DateTime<Utc>, token: &'a str) -> Claim<'a> {
        let lease = Duration::from_std(self.config.lease).unwrap_or(Duration::MAX);
        Claim {
            now: now.naive_utc(),
            lease_until: (now + lease).naive_utc(),
            limit: self.config.batch_size,
            token,
        }
    }

    async fn claim(&self, now: DateTime<Utc>, token: &str) -> anyhow::Result<Vec<Job>> {
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
            let outcome = if let Some(reason) = &job.cancelled {
                Outcome::Cancelled(reason.clone())
            } else if is_stale(r.kind, r.send_at, now.naive_utc(), self.config.stale_after) {
                Outcome::Skipped(Reason::Late {
                    hours: late.num_hours(),
                })
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
        let outcome = match self.render(&to_send) {
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
    pub(super) async fn deliver(
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
    /// The email goes from the reminders' location (they were claimed together by it).
    fn render(&self, group: &[Job]) -> anyhow::Result<lettre::Message> {
        let clinic = &group
            .first()
            .ok_or_else(|| anyhow::anyhow!("no reminder to send"))?
            .clinic;
        let plans = group
            .iter()
            .map(|j| serde_json::from_str::<crate::care::Plan>(&j.plan_json))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<_> = group.iter().map(|j| &j.reminder).zip(&plans).collect();
        let email = crate::usecases::reminders::compose_group(
            &rows,
            clinic,
            &group[0].to.name,
            &self.links,
        )
        .ok_or_else(|| anyhow::anyhow!("no reminder to send"))?;
        let lead = group
            .iter()
            .min_by_key(|j| j.reminder.id)
            .ok_or_else(|| anyhow::anyhow!("no reminder to send"))?;
        let to = &lead.to;
        let unsubscribe = self.links.unsubscribe(to.patient_id);
        let envelope = Envelope {
            from_name: &clinic.display_name(),
            from_email: &clinic.sender_email,
            reply_to: clinic.reply_address(),
            to_name: &to.name,
            to_email: &to.email,
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
    let mergeable = |j: &Job| !reminders::is_sheet_now(&j.reminder.key);
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        let key = |j: &Job| {
            (
                j.reminder.patient_id,
                j.reminder.send_at,
                j.clinic.location_id,
            )
        };
        match groups
            .iter_mut()
            .find(|g| mergeable(&job) && mergeable(&g[0]) && key(&g[0]) == key(&job))
        {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}
