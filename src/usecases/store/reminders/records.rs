//! A patient's reminders as records: what an export lists, what erasure scrubs, and the
//! finished ones retention deletes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{names, ReminderRow, Status};
use crate::usecases::store::schema::reminders;
use crate::usecases::store::DbConn;

/// Every reminder of a patient, in the order they were (or are) due.
pub fn for_patient(conn: &mut DbConn, patient_id: i64) -> QueryResult<Vec<ReminderRow>> {
    reminders::table
        .filter(reminders::patient_id.eq(patient_id))
        .order((reminders::send_at.asc(), reminders::id.asc()))
        .select(ReminderRow::as_select())
        .load(conn)
}

/// How many of a patient's reminders are still to go.
pub fn pending_count(conn: &mut DbConn, patient_id: i64) -> QueryResult<i64> {
    reminders::table
        .filter(reminders::patient_id.eq(patient_id))
        .filter(reminders::status.eq(Status::Pending.as_str()))
        .count()
        .get_result(conn)
}

/// Replaces what the mail server said about a reminder.
pub fn set_last_error(conn: &mut DbConn, id: i64, error: &str) -> QueryResult<usize> {
    diesel::update(reminders::table.find(id))
        .set(reminders::last_error.eq(error))
        .execute(conn)
}

/// The states a reminder does not leave by itself: nothing more will be sent for it.
const FINISHED: [Status; 4] = [
    Status::Sent,
    Status::Failed,
    Status::Skipped,
    Status::Cancelled,
];

/// Deletes up to `limit` finished reminders of treatments whose last reminder was due before
/// `cutoff`: a plan's records go together, once the whole plan is that old.
pub fn delete_finished_before(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    use diesel::dsl::max;
    let plans = diesel::alias!(reminders as plans);
    let old_plans = plans
        .group_by(plans.field(reminders::treatment_id))
        .having(max(plans.field(reminders::send_at)).lt(cutoff))
        .select(plans.field(reminders::treatment_id));
    let ids: Vec<i64> = reminders::table
        .filter(reminders::treatment_id.eq_any(old_plans))
        .filter(reminders::status.eq_any(names(&FINISHED)))
        .order(reminders::id.asc())
        .limit(limit)
        .select(reminders::id)
        .load(conn)?;
    diesel::delete(reminders::table.filter(reminders::id.eq_any(ids))).execute(conn)
}
