//! What the outbox page and its buttons read and change: the list with its filters and
//! counts, whether a reminder could still reach its patient, a configuration error's held
//! emails, and putting an email back in the queue.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{names, Reason, ReminderRow, Status};
use crate::usecases::store::patients::PatientRow;
use crate::usecases::store::schema::{patients, reminders, treatments};
use crate::usecases::store::DbConn;

/// Whether a reminder could still reach its patient.
#[derive(Debug, Clone, Copy)]
pub struct Deliverable {
    pub treatment_deleted: bool,
    pub patient_can_be_emailed: bool,
    pub patient_erased: bool,
}

/// A reminder, with whether its treatment and patient still allow sending it.
pub fn find_with_recipient(
    conn: &mut DbConn,
    id: i64,
) -> QueryResult<Option<(ReminderRow, Deliverable)>> {
    let found: Option<(ReminderRow, Option<NaiveDateTime>, PatientRow)> = reminders::table
        .inner_join(treatments::table)
        .inner_join(patients::table)
        .filter(reminders::id.eq(id))
        .select((
            ReminderRow::as_select(),
            treatments::deleted_at,
            PatientRow::as_select(),
        ))
        .get_result(conn)
        .optional()?;
    Ok(found.map(|(row, deleted, patient)| {
        let deliverable = Deliverable {
            treatment_deleted: deleted.is_some(),
            patient_can_be_emailed: patient.can_be_emailed(),
            patient_erased: patient.is_erased(),
        };
        (row, deliverable)
    }))
}

/// The newest held reminder's error and when it was held, with how many are held.
pub fn held_for_settings(conn: &mut DbConn) -> QueryResult<Option<(String, NaiveDateTime, i64)>> {
    let held = || {
        reminders::table
            .filter(reminders::status.eq(Status::Pending.as_str()))
            .filter(reminders::reason.eq(Reason::HeldForSettings.stored()))
    };
    let newest: Option<(Option<String>, NaiveDateTime)> = held()
        .order((reminders::updated_at.desc(), reminders::id.desc()))
        .select((reminders::last_error, reminders::updated_at))
        .first(conn)
        .optional()?;
    let Some((error, at)) = newest else {
        return Ok(None);
    };
    let count: i64 = held().count().get_result(conn)?;
    Ok(Some((error.unwrap_or_default(), at, count)))
}

/// When a reminder last went out.
pub fn last_sent_at(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    reminders::table
        .select(diesel::dsl::max(reminders::sent_at))
        .get_result(conn)
}

/// Staff put a failed, skipped or cancelled reminder back in the queue, to be
/// sent at `next_attempt_at` (never before its `send_at`: see `claim`).
pub fn requeue(
    conn: &mut DbConn,
    id: i64,
    next_attempt_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let retryable = names(&[Status::Failed, Status::Skipped, Status::Cancelled]);
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq_any(retryable)),
    )
    .set((
        reminders::status.eq(Status::Pending.as_str()),
        reminders::next_attempt_at.eq(next_attempt_at),
        reminders::attempts.eq(0),
        reminders::last_error.eq(None::<String>),
        reminders::reason.eq(None::<String>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// The order of the outbox's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboxOrder {
    /// Newest due first: looking back over what happened.
    #[default]
    NewestFirst,
    /// Earliest due first: a day's emails in the order of the day.
    EarliestFirst,
    /// By the next time the worker will try it, soonest first: what goes next.
    NextAttemptFirst,
}

#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    /// Any of these states; empty for every state.
    pub statuses: Vec<Status>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub order: OutboxOrder,
    /// Only the emails of treatments at these locations; `None` for every location.
    pub sites: Option<Vec<i64>>,
}

/// One row of the outbox: the reminder, its patient, and whether its treatment was deleted.
pub type OutboxRow = (ReminderRow, PatientRow, bool, i64);

/// Reminders with their patient's name, in the filter's order.
pub fn outbox(
    conn: &mut DbConn,
    filter: &OutboxFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = reminders::table
        .inner_join(patients::table)
        .inner_join(treatments::table)
        .select((
            ReminderRow::as_select(),
            PatientRow::as_select(),
            treatments::deleted_at.is_not_null(),
            treatments::location_id,
        ))
        .into_boxed();
    if !filter.statuses.is_empty() {
        query = query.filter(reminders::status.eq_any(names(&filter.statuses)));
    }
    if let Some(ids) = &filter.sites {
        query = query.filter(treatments::location_id.eq_any(ids.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(reminders::send_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(reminders::send_at.lt(to));
    }
    query = match filter.order {
        OutboxOrder::NewestFirst => query.order((reminders::send_at.desc(), reminders::id.desc())),
        OutboxOrder::EarliestFirst => query.order((reminders::send_at.asc(), reminders::id.asc())),
        OutboxOrder::NextAttemptFirst => query.order((
            reminders::next_attempt_at.asc(),
            reminders::send_at.asc(),
            reminders::id.asc(),
        )),
    };
    query.offset(offset).limit(limit).load(conn)
}

/// How many reminders are in each state, at these locations (`None`: all).
pub fn counts(conn: &mut DbConn, sites: Option<&[i64]>) -> QueryResult<Vec<(Status, i64)>> {
    let rows: Vec<(String, i64)> = match sites {
        None => reminders::table
            .group_by(reminders::status)
            .select((reminders::status, diesel::dsl::count_star()))
            .load(conn)?,
        Some(ids) => reminders::table
            .inner_join(treatments::table)
            .filter(treatments::location_id.eq_any(ids.to_vec()))
            .group_by(reminders::status)
            .select((reminders::status, diesel::dsl::count_star()))
            .load(conn)?,
    };
    rows.into_iter()
        .map(|(s, n)| Ok((Status::try_from(s).map_err(deserialize_error)?, n)))
        .collect()
}

fn deserialize_error(message: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(message.into())
}
