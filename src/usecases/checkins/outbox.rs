//! The emails to the clinic about check-ins, for the worker: the alert an urgent answer
//! raises at once, and the one reminder when a check-in waiting for a reply is not
//! acknowledged within the clinic's reply time. Both outboxes have the reminders' lease
//! and retry rules, and neither email carries health details.

use chrono::NaiveDateTime;

use super::Outcome;
use crate::error::{AppError, AppResult};
use crate::usecases::clinic::{self, Clinic};
use crate::usecases::store::checkins::{self as store, Outbox};
use crate::usecases::store::{write_tx, DbConn, OutboxStatus as Status};

/// A claimed email to the clinic (an alert, or a reply-time reminder) about one check-in.
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: i64,
    pub checkin_id: i64,
    pub attempts: i32,
    pub message_id: String,
    /// The location of the check-in's treatment: the alert goes to its address.
    pub clinic: Clinic,
}

/// Which email to the clinic.
pub type ClinicEmail = Outbox;

/// Takes due emails of one kind with a fenced lease (the reminders' rules), each with the
/// location it goes to (its check-in's treatment's).
pub fn claim_clinic_emails(
    conn: &mut DbConn,
    kind: ClinicEmail,
    claim: crate::usecases::reminders::Claim,
) -> AppResult<Vec<Alert>> {
    let claimed = write_tx(conn, |c| {
        Ok::<_, AppError>(store::claim_outbox(c, kind, claim)?)
    })?;
    let ids: Vec<i64> = claimed.iter().map(|row| row.checkin_id).collect();
    let locations = store::locations_of(conn, &ids)?;
    let mut places = clinic::Places::default();
    claimed
        .into_iter()
        .map(|row| {
            let location = locations
                .iter()
                .find(|(checkin, _)| *checkin == row.checkin_id)
                .map(|(_, location)| *location)
                .ok_or(AppError::NotFound)?;
            Ok(Alert {
                id: row.id,
                checkin_id: row.checkin_id,
                attempts: row.attempts,
                message_id: row.message_id,
                clinic: places.get(conn, location)?,
            })
        })
        .collect()
}

/// Records what became of each email of one kind claimed with `token`; an email the claim
/// no longer holds is left as it is, and its id returned. `None` for an email given back
/// unsent (pending again, the attempt not counted).
pub fn record_clinic_emails(
    conn: &mut DbConn,
    kind: ClinicEmail,
    token: &str,
    done: Vec<(i64, Option<Outcome>)>,
    at: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    write_tx(conn, |c| {
        let mut lost = Vec::new();
        for (id, outcome) in done {
            let changed = match outcome {
                None => store::hold_outbox(c, kind, id, token, None, at)?,
                Some(Outcome::Sent) => {
                    store::finish_outbox(c, kind, id, token, Status::Sent, None, None, at)?
                }
                Some(Outcome::Retry { error, next }) => store::finish_outbox(
                    c,
                    kind,
                    id,
                    token,
                    Status::Pending,
                    Some(&error),
                    Some(next),
                    at,
                )?,
                Some(Outcome::Failed(e)) => {
                    store::finish_outbox(c, kind, id, token, Status::Failed, Some(&e), None, at)?
                }
                Some(Outcome::Skipped(r) | Outcome::Cancelled(r)) => store::finish_outbox(
                    c,
                    kind,
                    id,
                    token,
                    Status::Failed,
                    Some(&r.stored()),
                    None,
                    at,
                )?,
                Some(Outcome::Held(e)) => store::hold_outbox(c, kind, id, token, Some(&e), at)?,
            };
            if changed == 0 {
                lost.push(id);
            }
        }
        Ok::<_, AppError>(lost)
    })
}

/// Extends the lease of the clinic emails (both kinds) the claim `token` still holds.
pub fn renew_clinic_emails(
    conn: &mut DbConn,
    token: &str,
    lease_until: NaiveDateTime,
) -> AppResult<usize> {
    write_tx(conn, |c| {
        let alerts = store::renew_outbox(c, Outbox::Alerts, token, lease_until)?;
        let overdue = store::renew_outbox(c, Outbox::Overdue, token, lease_until)?;
        Ok::<_, AppError>(alerts + overdue)
    })
}
