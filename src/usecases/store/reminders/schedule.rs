//! Writing a treatment's schedule into the outbox, moving it after an edit, and cancelling
//! or re-opening what is still to go.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{names, NewReminder, Reason, Status};
use crate::usecases::store::schema::{reminders, treatments};
use crate::usecases::store::DbConn;

pub fn insert(conn: &mut DbConn, row: &NewReminder) -> QueryResult<usize> {
    diesel::insert_into(reminders::table)
        .values(row)
        .execute(conn)
}

/// Many rows in one statement: a treatment's schedule is a dozen or more,
/// and one statement each lengthened the write transaction (BENCHMARKS.md, F3).
pub fn insert_all(conn: &mut DbConn, rows: &[NewReminder]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    crate::usecases::store::execute_per_backend!(
        conn,
        diesel::insert_into(reminders::table).values(rows)
    )
}

/// Whether a treatment already has a reminder with this key (a click sent twice).
pub fn key_taken(conn: &mut DbConn, treatment_id: i64, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        reminders::table
            .filter(reminders::treatment_id.eq(treatment_id))
            .filter(reminders::reminder_key.eq(key)),
    ))
    .get_result(conn)
}

/// Moves a pending reminder to a new time and subject (after an edit).
pub fn reschedule(
    conn: &mut DbConn,
    id: i64,
    send_at: NaiveDateTime,
    subject: &str,
    day: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq(Status::Pending.as_str())),
    )
    .set((
        reminders::send_at.eq(send_at),
        reminders::next_attempt_at.eq(send_at),
        reminders::subject.eq(subject),
        reminders::day.eq(day),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Cancels a row, with the reason, if it is in one of `from`.
pub fn cancel(
    conn: &mut DbConn,
    id: i64,
    from: &[Status],
    reason: &Reason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    finish(conn, id, from, Status::Cancelled, reason, now)
}

/// Ends a reminder in `from` as `status` (cancelled or skipped), with the reason.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    from: &[Status],
    status: Status,
    reason: &Reason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq_any(names(from))),
    )
    .set((
        reminders::status.eq(status.as_str()),
        reminders::reason.eq(reason.stored()),
        reminders::lease_expires_at.eq(None::<NaiveDateTime>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Whose pending reminders to cancel.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Treatment(i64),
    Patient(i64),
}

/// Cancels every pending reminder of a treatment (deleted) or a patient
/// (unsubscribed, consent withdrawn), with the reason.
pub fn cancel_pending(
    conn: &mut DbConn,
    scope: Scope,
    reason: &Reason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let pending = reminders::table
        .filter(reminders::status.eq(Status::Pending.as_str()))
        .into_boxed();
    let rows = match scope {
        Scope::Treatment(id) => pending.filter(reminders::treatment_id.eq(id)),
        Scope::Patient(id) => pending.filter(reminders::patient_id.eq(id)),
    };
    let ids: Vec<i64> = rows.select(reminders::id).load(conn)?;
    diesel::update(
        reminders::table
            .filter(reminders::id.eq_any(&ids))
            .filter(reminders::status.eq(Status::Pending.as_str())),
    )
    .set((
        reminders::status.eq(Status::Cancelled.as_str()),
        reminders::reason.eq(reason.stored()),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Re-opens a patient's future reminders that were held back for `reason`
/// (consent given after the treatment was recorded), except those of a
/// deleted treatment.
pub fn reopen_for_patient(
    conn: &mut DbConn,
    patient_id: i64,
    reason: &Reason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .filter(reminders::patient_id.eq(patient_id))
            .filter(reminders::status.eq(Status::Cancelled.as_str()))
            .filter(reminders::reason.eq(reason.stored()))
            .filter(reminders::send_at.gt(now))
            .filter(
                reminders::treatment_id.eq_any(
                    treatments::table
                        .filter(treatments::deleted_at.is_null())
                        .select(treatments::id),
                ),
            ),
    )
    .set((
        reminders::status.eq(Status::Pending.as_str()),
        reminders::reason.eq(None::<String>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}
