//! The worker's side of the outbox: claiming due reminders with a fenced
//! lease, keeping the lease while the claim is being sent, giving back what
//! will not be sent, and recording outcomes only while the claim still holds
//! the row.

use chrono::NaiveDateTime;

use super::Reminder;
use crate::error::{AppError, AppResult};
use crate::usecases::store::reminders::{self as outbox, Reason, Status};
pub use crate::usecases::store::Claim;
use crate::usecases::store::{self, write_tx, DbConn};

/// What one send came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// A temporary failure: try again at `next`.
    Retry {
        error: String,
        next: NaiveDateTime,
    },
    Failed(String),
    Skipped(Reason),
    Cancelled(Reason),
    /// The mail settings are wrong (a configuration error, see `jobs`): back
    /// to pending as it was, with the reason, the attempt not counted.
    Held(String),
}

/// A claimed reminder with what sending it needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub reminder: Reminder,
    /// The treatment's plan as stored (read by the worker, whose failure to read it is a
    /// failure to render, retried and shown in the outbox).
    pub plan_json: String,
    /// Why it must not go at all: the treatment was deleted, or the patient can no longer be
    /// emailed (cancelled with this reason, however late it is).
    pub cancelled: Option<Reason>,
    pub to: Addressee,
    /// The clinic as the treatment's location shows it: the email's sender, lines and zone.
    pub clinic: crate::usecases::clinic::Clinic,
}

/// Whom an email goes to.
#[derive(Debug, Clone)]
pub struct Addressee {
    pub patient_id: i64,
    pub name: String,
    /// Empty when the patient has no address (then `cancelled` says why).
    pub email: String,
}

impl Job {
    fn new(job: outbox::Job, clinic: crate::usecases::clinic::Clinic) -> Job {
        let patient = job.patient;
        let cancelled = if job.treatment_deleted {
            Some(Reason::TreatmentDeleted)
        } else if patient.can_be_emailed() {
            None
        } else if patient.unsubscribed_at.is_some() {
            Some(Reason::Unsubscribed)
        } else {
            Some(Reason::NoConsent)
        };
        Job {
            clinic,
            reminder: job.reminder.into(),
            plan_json: job.plan_json,
            cancelled,
            to: Addressee {
                patient_id: patient.id,
                name: patient.name,
                email: patient.email.unwrap_or_default(),
            },
        }
    }
}

/// Takes up to `claim.limit` due reminders for `worker`, leased until
/// `claim.lease_until` with the claim's token, with what sending them needs;
/// the worker's heartbeat rides in the same short transaction. Each job comes with its
/// treatment's location as the clinic shows it.
pub fn claim_due(conn: &mut DbConn, worker: &str, claim: Claim) -> AppResult<Vec<Job>> {
    let ids = write_tx(conn, |c| {
        store::heartbeats::beat(c, worker, claim.now)?;
        Ok::<_, AppError>(outbox::claim(c, claim)?)
    })?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut places = crate::usecases::clinic::Places::default();
    outbox::load_jobs(conn, &ids)?
        .into_iter()
        .map(|job| Ok(Job::new(job.clone(), places.get(conn, job.location_id)?)))
        .collect()
}

/// Records finished sends of the claim `token` in one transaction, each with
/// the time it was sent (or tried), which `sent_at` keeps: a wall clock that
/// stepped back since then does not make an email look sent before its time.
/// A row the claim no longer holds (its lease ran out and another worker took
/// it, or staff cancelled it meanwhile) is left as it is; their ids are
/// returned. `now` is the worker's heartbeat.
pub fn record_outcomes(
    conn: &mut DbConn,
    worker: &str,
    token: &str,
    done: Vec<(i64, Outcome, NaiveDateTime)>,
    now: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    write_tx(conn, |c| {
        // A long round of slow sends still shows the worker alive.
        store::heartbeats::beat(c, worker, now)?;
        let mut lost = Vec::new();
        for (id, outcome, at) in done {
            let changed = match outcome {
                Outcome::Sent => outbox::mark_sent(c, id, token, at)?,
                Outcome::Retry { error, next } => {
                    outbox::mark_retry(c, id, token, &error, next, at)?
                }
                Outcome::Failed(e) => {
                    let changed = outbox::finish_claimed(c, id, token, Status::Failed, &e, at)?;
                    // Failed for good: the Outcomes page counts it on its treatment.
                    if let Some(row) = outbox::find(c, id)?.filter(|_| changed > 0) {
                        crate::usecases::outcomes::email_failed(c, row.treatment_id)?;
                    }
                    changed
                }
                Outcome::Skipped(e) => {
                    outbox::finish_claimed(c, id, token, Status::Skipped, &e.stored(), at)?
                }
                Outcome::Cancelled(e) => {
                    outbox::finish_claimed(c, id, token, Status::Cancelled, &e.stored(), at)?
                }
                Outcome::Held(e) => outbox::hold(c, id, token, &e, at)?,
            };
            if changed == 0 {
                lost.push(id);
            }
        }
        Ok::<_, AppError>(lost)
    })
}

/// Gives back reminders of the claim `token` that it will not send (see
/// `jobs`): pending again as they were, the attempt not counted.
pub fn release(conn: &mut DbConn, token: &str, ids: &[i64], at: NaiveDateTime) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    write_tx(conn, |c| {
        Ok::<_, AppError>(outbox::release(c, ids, token, at)?)
    })?;
    Ok(())
}

/// Extends the lease of the reminders the claim `token` still holds to
/// `lease_until`, with the worker's heartbeat; returns their ids.
pub fn renew(
    conn: &mut DbConn,
    worker: &str,
    token: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    write_tx(conn, |c| {
        store::heartbeats::beat(c, worker, now)?;
        Ok::<_, AppError>(outbox::renew(c, token, lease_until)?)
    })
}

/// A worker says it is alive (claims and recorded outcomes beat too).
pub fn beat(conn: &mut DbConn, worker: &str, now: NaiveDateTime) -> AppResult<()> {
    store::heartbeats::beat(conn, worker, now)?;
    Ok(())
}

/// How mail is moving: when any worker last beat, and since when the
/// longest-waiting claimable reminder has been due.
pub fn worker_figures(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> AppResult<(Option<NaiveDateTime>, Option<NaiveDateTime>)> {
    Ok((
        store::heartbeats::newest(conn)?,
        outbox::oldest_due(conn, now)?,
    ))
}

/// Forgets the heartbeats of workers gone since before `before`.
pub fn prune_heartbeats(conn: &mut DbConn, before: NaiveDateTime) -> AppResult<usize> {
    Ok(store::heartbeats::delete_before(conn, before)?)
}
