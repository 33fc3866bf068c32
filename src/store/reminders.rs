//! The reminder outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use super::schema::{patients, reminders, treatments};
use super::DbConn;

/// Row states. `sending` carries a lease; an expired lease makes the row claimable again.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
    pub const SKIPPED: &str = "skipped";
    pub const CANCELLED: &str = "cancelled";
    pub const ALL: [&str; 6] = [PENDING, SENDING, SENT, FAILED, SKIPPED, CANCELLED];
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = reminders)]
pub struct ReminderRow {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub reminder_key: String,
    pub kind: String,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub message_id: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reminders, treat_none_as_default_value = false)]
pub struct NewReminder {
    pub treatment_id: i64,
    pub patient_id: i64,
    pub reminder_key: String,
    pub kind: String,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub status: String,
    pub last_error: Option<String>,
    pub message_id: String,
    pub updated_at: NaiveDateTime,
}

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
    crate::execute_per_backend!(conn, diesel::insert_into(reminders::table).values(rows))
}

pub fn for_treatment(conn: &mut DbConn, treatment_id: i64) -> QueryResult<Vec<ReminderRow>> {
    reminders::table
        .filter(reminders::treatment_id.eq(treatment_id))
        .order((reminders::send_at.asc(), reminders::id.asc()))
        .select(ReminderRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<ReminderRow>> {
    reminders::table
        .find(id)
        .select(ReminderRow::as_select())
        .get_result(conn)
        .optional()
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
            .filter(reminders::status.eq(status::PENDING)),
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

/// Sets a row's final state with a reason, if it is in one of `from`.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    from: &[&str],
    to: &str,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq_any(from)),
    )
    .set((
        reminders::status.eq(to),
        reminders::last_error.eq(reason),
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
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let pending = reminders::table
        .filter(reminders::status.eq(status::PENDING))
        .into_boxed();
    let rows = match scope {
        Scope::Treatment(id) => pending.filter(reminders::treatment_id.eq(id)),
        Scope::Patient(id) => pending.filter(reminders::patient_id.eq(id)),
    };
    let ids: Vec<i64> = rows.select(reminders::id).load(conn)?;
    diesel::update(
        reminders::table
            .filter(reminders::id.eq_any(&ids))
            .filter(reminders::status.eq(status::PENDING)),
    )
    .set((
        reminders::status.eq(status::CANCELLED),
        reminders::last_error.eq(reason),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Re-opens a patient's future reminders that were held back for `reason`
/// (consent given after the treatment was recorded).
pub fn reopen_for_patient(
    conn: &mut DbConn,
    patient_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .filter(reminders::patient_id.eq(patient_id))
            .filter(reminders::status.eq(status::CANCELLED))
            .filter(reminders::last_error.eq(reason))
            .filter(reminders::send_at.gt(now)),
    )
    .set((
        reminders::status.eq(status::PENDING),
        reminders::last_error.eq(None::<String>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// When the longest-waiting claimable reminder became due: pending and due,
/// or `sending` with an expired lease (the same rows [`claim`] takes).
pub fn oldest_due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Option<NaiveDateTime>> {
    reminders::table
        .filter(
            reminders::status
                .eq(status::PENDING)
                .and(reminders::next_attempt_at.le(now))
                .or(reminders::status
                    .eq(status::SENDING)
                    .and(reminders::lease_expires_at.lt(now))),
        )
        .select(diesel::dsl::min(reminders::next_attempt_at))
        .get_result(conn)
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Atomically takes up to `limit` due reminders (pending and due, or
/// `sending` with an expired lease) and leases them until `lease_until`.
/// PostgreSQL skips rows another worker has locked; on SQLite the single
/// statement runs inside the write lock, so two workers cannot take one row.
pub fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    // Parameters: 1 = now, 2 = lease end, 3 = limit. PostgreSQL numbers them
    // `$n`; SQLite would read `$n` as a *named* parameter, so it gets `?n`.
    let sql = |p: &str, lock: &str| {
        format!(
            "UPDATE reminders SET status = 'sending', lease_expires_at = {p}2, attempts = attempts + 1, updated_at = {p}1 \
             WHERE id IN (SELECT id FROM reminders \
                          WHERE (status = 'pending' AND next_attempt_at <= {p}1) \
                             OR (status = 'sending' AND lease_expires_at < {p}1) \
                          ORDER BY next_attempt_at, id LIMIT {p}3{lock}) \
             RETURNING id"
        )
    };
    let ids: Vec<ClaimedId> = match conn {
        DbConn::Pg(c) => diesel::sql_query(sql("$", " FOR UPDATE SKIP LOCKED"))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(lease_until)
            .bind::<BigInt, _>(limit)
            .load(c)?,
        DbConn::Sqlite(c) => diesel::sql_query(sql("?", ""))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(lease_until)
            .bind::<BigInt, _>(limit)
            .load(c)?,
    };
    Ok(ids.into_iter().map(|c| c.id).collect())
}

/// What the worker needs to render a claimed reminder.
#[derive(Debug, Clone)]
pub struct Job {
    pub reminder: ReminderRow,
    pub plan_json: String,
    pub treatment_deleted: bool,
    pub patient: super::patients::PatientRow,
}

pub fn load_jobs(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Job>> {
    let rows: Vec<(
        ReminderRow,
        String,
        Option<NaiveDateTime>,
        super::patients::PatientRow,
    )> = reminders::table
        .inner_join(treatments::table)
        .inner_join(patients::table)
        .filter(reminders::id.eq_any(ids))
        .select((
            ReminderRow::as_select(),
            treatments::plan_json,
            treatments::deleted_at,
            super::patients::PatientRow::as_select(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reminder, plan_json, deleted, patient)| Job {
            reminder,
            plan_json,
            treatment_deleted: deleted.is_some(),
            patient,
        })
        .collect())
}

pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq(status::SENDING)),
    )
    .set((
        reminders::status.eq(status::SENT),
        reminders::sent_at.eq(now),
        reminders::last_error.eq(None::<String>),
        reminders::lease_expires_at.eq(None::<NaiveDateTime>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// A temporary failure: back to pending, to be tried again at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    next_attempt_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::status.eq(status::SENDING)),
    )
    .set((
        reminders::status.eq(status::PENDING),
        reminders::next_attempt_at.eq(next_attempt_at),
        reminders::last_error.eq(error),
        reminders::lease_expires_at.eq(None::<NaiveDateTime>),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Staff asked to try a failed, skipped or cancelled reminder again, now.
pub fn requeue(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(reminders::table.find(id).filter(reminders::status.eq_any([
        status::FAILED,
        status::SKIPPED,
        status::CANCELLED,
    ])))
    .set((
        reminders::status.eq(status::PENDING),
        reminders::next_attempt_at.eq(now),
        reminders::attempts.eq(0),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub status: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Reminders with their patient's name, by send time (newest first).
pub fn outbox(
    conn: &mut DbConn,
    filter: &OutboxFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(ReminderRow, String)>> {
    let mut query = reminders::table
        .inner_join(patients::table)
        .select((ReminderRow::as_select(), patients::name))
        .into_boxed();
    if let Some(s) = &filter.status {
        query = query.filter(reminders::status.eq(s.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(reminders::send_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(reminders::send_at.lt(to));
    }
    query
        .order((reminders::send_at.desc(), reminders::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)
}

/// How many reminders are in each state.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    reminders::table
        .group_by(reminders::status)
        .select((reminders::status, diesel::dsl::count_star()))
        .load(conn)
}
