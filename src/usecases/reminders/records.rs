//! A patient's reminders as records: what an export lists, what erasure scrubs, and how long
//! finished ones are kept.

use chrono::NaiveDateTime;

use super::Reminder;
use crate::error::AppResult;
use crate::usecases::store::reminders as store;
use crate::usecases::store::DbConn;

/// Every reminder of a patient (an export's), in the order they were due.
pub fn of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<Reminder>> {
    Ok(store::for_patient(conn, patient_id)?)
}

/// How many of a patient's reminders are still to go.
pub fn pending_count(conn: &mut DbConn, patient_id: i64) -> AppResult<i64> {
    Ok(store::pending_count(conn, patient_id)?)
}

/// Rewrites what mail servers said about a patient's reminders (their replies may quote the
/// address): `scrub` gets each message and answers it as it should be.
pub fn scrub_errors(
    conn: &mut DbConn,
    patient_id: i64,
    scrub: impl Fn(&str) -> String,
) -> AppResult<()> {
    for row in store::for_patient(conn, patient_id)? {
        if let Some(error) = &row.last_error {
            let scrubbed = scrub(error);
            if scrubbed != *error {
                store::set_last_error(conn, row.id, &scrubbed)?;
            }
        }
    }
    Ok(())
}

/// Deletes up to `limit` records of emails sent, failed, skipped or cancelled, of plans whose
/// last email was due before `before` (the retention setting). Pending ones stay.
pub fn prune_finished(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> AppResult<usize> {
    Ok(store::delete_finished_before(conn, before, limit)?)
}
