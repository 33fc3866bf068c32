//! The emails to the clinic about check-ins, for the worker: the alert an urgent answer
//! raises at once, and the one reminder when a check-in waiting for a reply is not
//! acknowledged within the clinic's reply time. Both outboxes have the reminders' lease
//! and retry rules, and neither email carries health details.

use chrono::NaiveDateTime;

use super::Outcome;
use crate::error::{AppError, AppResult};
use crate::store::checkins::{self as store, Outbox};
use crate::store::{write_tx, DbConn};
use crate::usecases::clinic::{self, Clinic};

pub use crate::store::checkins::AlertRow as Alert;

/// Which email to the clinic.
pub type ClinicEmail = Outbox;

/// Takes due emails of one kind with a lease, with the clinic they go to.
pub fn claim_clinic_emails(
    conn: &mut DbConn,
    kind: ClinicEmail,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> AppResult<(Vec<Alert>, Clinic)> {
    let claimed = write_tx(conn, |c| {
        Ok::<_, AppError>(store::claim_outbox(c, kind, now, lease_until, limit)?)
    })?;
    Ok((claimed, clinic::get(conn)?))
}

/// Records what became of each email of one kind.
pub fn record_clinic_emails(
    conn: &mut DbConn,
    kind: ClinicEmail,
    done: Vec<(i64, Outcome)>,
    at: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |c| {
        for (id, outcome) in done {
            match outcome {
                Outcome::Sent => store::finish_outbox(c, kind, id, "sent", None, None, at)?,
                Outcome::Retry { error, next } => {
                    store::finish_outbox(c, kind, id, "pending", Some(&error), Some(next), at)?
                }
                Outcome::Failed(e) | Outcome::Skipped(e) | Outcome::Cancelled(e) => {
                    store::finish_outbox(c, kind, id, "failed", Some(&e), None, at)?
                }
                Outcome::Held(e) => store::hold_outbox(c, kind, id, &e, at)?,
            };
        }
        Ok::<_, AppError>(())
    })
}
