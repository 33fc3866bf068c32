//! A patient's reminders as records: what an export lists, what erasure scrubs, and how long
//! finished ones are kept.

use chrono::NaiveDateTime;

use super::Status;
use crate::care::ReminderKind;
use crate::error::AppResult;
use crate::usecases::store::reminders::{self as store, ReminderRow};
use crate::usecases::store::DbConn;

/// One email of a treatment's schedule, as the other use cases, the worker and an export see
/// it (the row's lease stays in the store).
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    /// Which email of the plan it is (the plan's key for its day, or "send the sheet now").
    pub key: String,
    pub kind: ReminderKind,
    pub day: i32,
    pub subject: String,
    /// When it is due, UTC.
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub status: Status,
    pub attempts: i32,
    /// What the mail server or the message builder last said.
    pub last_error: Option<String>,
    /// Why it is cancelled or skipped.
    pub reason: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub message_id: String,
}

impl From<ReminderRow> for Reminder {
    fn from(row: ReminderRow) -> Reminder {
        Reminder {
            id: row.id,
            treatment_id: row.treatment_id,
            patient_id: row.patient_id,
            key: row.reminder_key,
            kind: row.kind,
            day: row.day,
            subject: row.subject,
            send_at: row.send_at,
            next_attempt_at: row.next_attempt_at,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            reason: row.reason,
            sent_at: row.sent_at,
            message_id: row.message_id,
        }
    }
}

/// Every reminder of a patient (an export's), in the order they were due.
pub fn of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<Reminder>> {
    let rows = store::for_patient(conn, patient_id)?;
    Ok(rows.into_iter().map(Reminder::from).collect())
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
