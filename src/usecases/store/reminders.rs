//! The reminder outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{patients, reminders, treatments};
use super::DbConn;
use crate::care::ReminderKind;

/// A reminder's state. `Sending` carries a lease; an expired lease makes the
/// row claimable again. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Sending,
    Sent,
    Failed,
    Skipped,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Sending,
        Status::Sent,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with a stored name (tests read rows as the outbox stores them).
impl PartialEq<&str> for Status {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// How a stored status is read: an unknown one is an error, never a guess.
impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(text: String) -> Result<Status, String> {
        Status::parse(&text).ok_or_else(|| format!("unknown reminder status {text:?}"))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = reminders)]
pub struct ReminderRow {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub reminder_key: String,
    #[diesel(deserialize_as = String)]
    pub kind: ReminderKind,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    pub attempts: i32,
    /// What the mail server or the message builder last said.
    pub last_error: Option<String>,
    /// Why the row is cancelled or skipped.
    pub reason: Option<String>,
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
    pub kind: &'static str,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub status: &'static str,
    pub reason: Option<String>,
    pub message_id: String,
    pub updated_at: NaiveDateTime,
}

impl NewReminder {
    pub fn new(
        treatment_id: i64,
        patient_id: i64,
        r: &crate::care::Reminder,
        status: Status,
        reason: Option<&str>,
        message_id: String,
        now: NaiveDateTime,
    ) -> NewReminder {
        let send_at = r.send_at.naive_utc();
        NewReminder {
            treatment_id,
            patient_id,
            reminder_key: r.key.clone(),
            kind: r.kind.as_str(),
            day: r.day as i32,
            subject: r.subject.clone(),
            send_at,
            next_attempt_at: send_at,
            status: status.as_str(),
            reason: reason.map(str::to_string),
            message_id,
            updated_at: now,
        }
    }
}

fn names(statuses: &[Status]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
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
    super::execute_per_backend!(conn, diesel::insert_into(reminders::table).values(rows))
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

/// Sets a row's state with the reason for it, if it is in one of `from`.
/// A failure's reason is what went wrong, so it goes in `last_error`.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    from: &[Status],
    to: Status,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let rows = reminders::table
        .find(id)
        .filter(reminders::status.eq_any(names(from)));
    let common = (
        reminders::status.eq(to.as_str()),
        reminders::lease_expires_at.eq(None::<NaiveDateTime>),
        reminders::updated_at.eq(now),
    );
    if to == Status::Failed {
        diesel::update(rows)
            .set((
                common,
                reminders::last_error.eq(reason),
                reminders::reason.eq(None::<String>),
            ))
            .execute(conn)
    } else {
        diesel::update(rows)
            .set((common, reminders::reason.eq(reason)))
            .execute(conn)
    }
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
        reminders::reason.eq(reason),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

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
    let found: Option<(
        ReminderRow,
        Option<NaiveDateTime>,
        super::patients::PatientRow,
    )> = reminders::table
        .inner_join(treatments::table)
        .inner_join(patients::table)
        .filter(reminders::id.eq(id))
        .select((
            ReminderRow::as_select(),
            treatments::deleted_at,
            super::patients::PatientRow::as_select(),
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

/// Re-opens a patient's future reminders that were held back for `reason`
/// (consent given after the treatment was recorded), except those of a
/// deleted treatment.
pub fn reopen_for_patient(
    conn: &mut DbConn,
    patient_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .filter(reminders::patient_id.eq(patient_id))
            .filter(reminders::status.eq(Status::Cancelled.as_str()))
            .filter(reminders::reason.eq(reason))
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

/// When the longest-waiting claimable reminder became due: pending and due,
/// or `sending` with an expired lease (the same rows [`claim`] takes).
pub fn oldest_due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Option<NaiveDateTime>> {
    reminders::table
        .filter(
            reminders::status
                .eq(Status::Pending.as_str())
                .and(reminders::next_attempt_at.le(now))
                .and(reminders::send_at.le(now))
                .or(reminders::status
                    .eq(Status::Sending.as_str())
                    .and(reminders::lease_expires_at.lt(now))),
        )
        .select(diesel::dsl::min(reminders::next_attempt_at))
        .get_result(conn)
}

/// Atomically takes up to `limit` due reminders (pending and due, or
/// `sending` with an expired lease) and leases them until `lease_until`,
/// with every other claimable reminder of the same patient and send time
/// (their time has come too): those go out as one email, so a patient gets
/// one email per send time however many treatments are healing. A whole
/// group is taken by one worker: on SQLite the single statement runs inside
/// the write lock; on PostgreSQL claims take a transaction-level advisory
/// lock first (call inside a transaction), so two workers never split a group.
/// A "send the sheet now" email goes on its own, never merged with another.
pub fn claim(conn: &mut DbConn, claim: super::Claim) -> QueryResult<Vec<i64>> {
    // Parameters as `super::run_claim` gives them: 1 = now, 2 = lease end, 3 = limit, 4 = token.
    let sql = |p: &str, lock: &str| {
        let claimable = format!(
            "(status = 'pending' AND next_attempt_at <= {p}1 AND send_at <= {p}1) \
             OR (status = 'sending' AND lease_expires_at < {p}1)"
        );
        // A sibling waiting out a retry is taken with its group: its time has come.
        let sibling = format!(
            "(status = 'pending' AND send_at <= {p}1) OR (status = 'sending' AND lease_expires_at < {p}1)"
        );
        format!(
            "UPDATE reminders SET status = 'sending', lease_expires_at = {p}2, lease_token = {p}4, \
                    attempts = attempts + 1, updated_at = {p}1 \
             WHERE ({sibling}) AND EXISTS (SELECT 1 FROM (SELECT id, patient_id, send_at, reminder_key FROM reminders \
                          WHERE {claimable} \
                          ORDER BY next_attempt_at, id LIMIT {p}3{lock}) due \
                        WHERE due.id = reminders.id \
                           OR (due.patient_id = reminders.patient_id AND due.send_at = reminders.send_at \
                               AND due.reminder_key NOT LIKE '{SHEET_NOW}%' \
                               AND reminders.reminder_key NOT LIKE '{SHEET_NOW}%')) \
             RETURNING id"
        )
    };
    // Two workers never split a patient's group on PostgreSQL: claims queue on this lock.
    let lock = "SELECT pg_advisory_xact_lock(1414)";
    super::run_claim(conn, sql, Some(lock), claim)
}

/// The key prefix of a "send the sheet now" email (see `usecases::reminders`).
pub const SHEET_NOW: &str = "sheet-now";

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

/// The rows of one id still held by one claim.
type Held<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<reminders::table, i64>,
        diesel::dsl::Eq<reminders::status, &'static str>,
    >,
    diesel::dsl::Eq<reminders::lease_token, &'a str>,
>;

/// Reminder `id` while the claim with this token holds it (it is `sending`
/// and no other claim has taken it since): only then does it take that
/// claim's outcome.
fn held(id: i64, token: &str) -> Held<'_> {
    reminders::table
        .find(id)
        .filter(reminders::status.eq(Status::Sending.as_str()))
        .filter(reminders::lease_token.eq(token))
}

/// The lease's columns once a claim lets go of a row.
type NoLease = (
    diesel::dsl::Eq<reminders::lease_expires_at, Option<NaiveDateTime>>,
    diesel::dsl::Eq<reminders::lease_token, Option<String>>,
);

fn no_lease() -> NoLease {
    (
        reminders::lease_expires_at.eq(None::<NaiveDateTime>),
        reminders::lease_token.eq(None::<String>),
    )
}

/// Sent, if the claim `token` still holds the row; returns the rows changed (0 or 1).
pub fn mark_sent(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(held(id, token))
        .set((
            reminders::status.eq(Status::Sent.as_str()),
            reminders::sent_at.eq(now),
            reminders::last_error.eq(None::<String>),
            reminders::reason.eq(None::<String>),
            no_lease(),
            reminders::updated_at.eq(now),
        ))
        .execute(conn)
}

/// A temporary failure: back to pending, to be tried again at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    error: &str,
    next_attempt_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(held(id, token))
        .set((
            reminders::status.eq(Status::Pending.as_str()),
            reminders::next_attempt_at.eq(next_attempt_at),
            reminders::last_error.eq(error),
            reminders::reason.eq(None::<String>),
            no_lease(),
            reminders::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Failed, skipped or cancelled by the worker, with the reason, if the claim
/// `token` still holds the row. A failure's reason goes in `last_error`.
pub fn finish_claimed(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    to: Status,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let common = (
        reminders::status.eq(to.as_str()),
        no_lease(),
        reminders::updated_at.eq(now),
    );
    if to == Status::Failed {
        diesel::update(held(id, token))
            .set((
                common,
                reminders::last_error.eq(reason),
                reminders::reason.eq(None::<String>),
            ))
            .execute(conn)
    } else {
        diesel::update(held(id, token))
            .set((common, reminders::reason.eq(reason)))
            .execute(conn)
    }
}

/// Gives back rows the claim `token` holds but will not send (its lease is
/// too short for another send, or the clock went back before their time):
/// pending again as they were, the claim's attempt not counted.
pub fn release(
    conn: &mut DbConn,
    ids: &[i64],
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reminders::table
            .filter(reminders::id.eq_any(ids))
            .filter(reminders::status.eq(Status::Sending.as_str()))
            .filter(reminders::lease_token.eq(token)),
    )
    .set((
        reminders::status.eq(Status::Pending.as_str()),
        reminders::attempts.eq(reminders::attempts - 1),
        no_lease(),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Extends the lease of every row the claim `token` still holds to
/// `lease_until`; returns those rows' ids (any other row of the claim was
/// taken over, or finished).
pub fn renew(conn: &mut DbConn, token: &str, lease_until: NaiveDateTime) -> QueryResult<Vec<i64>> {
    let mine = || {
        reminders::table
            .filter(reminders::status.eq(Status::Sending.as_str()))
            .filter(reminders::lease_token.eq(token))
    };
    diesel::update(mine())
        .set(reminders::lease_expires_at.eq(lease_until))
        .execute(conn)?;
    mine().select(reminders::id).load(conn)
}

/// Why a pending reminder was held for a configuration error (its `reason`;
/// the error itself is in `last_error`). Sending, failing or cancelling it
/// replaces it.
pub const HELD_FOR_SETTINGS: &str = "held until the mail settings are fixed";

/// A configuration error: back to pending as it was (still due), with the
/// error, the marker above, and the claim's attempt taken back.
pub fn hold(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(held(id, token))
        .set((
            reminders::status.eq(Status::Pending.as_str()),
            reminders::attempts.eq(reminders::attempts - 1),
            reminders::last_error.eq(error),
            reminders::reason.eq(HELD_FOR_SETTINGS),
            no_lease(),
            reminders::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The newest held reminder's error and when it was held, with how many are held.
pub fn held_for_settings(conn: &mut DbConn) -> QueryResult<Option<(String, NaiveDateTime, i64)>> {
    let held = || {
        reminders::table
            .filter(reminders::status.eq(Status::Pending.as_str()))
            .filter(reminders::reason.eq(HELD_FOR_SETTINGS))
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
}

/// One row of the outbox: the reminder, its patient, and whether its treatment was deleted.
pub type OutboxRow = (ReminderRow, super::patients::PatientRow, bool);

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
            super::patients::PatientRow::as_select(),
            treatments::deleted_at.is_not_null(),
        ))
        .into_boxed();
    if !filter.statuses.is_empty() {
        query = query.filter(reminders::status.eq_any(names(&filter.statuses)));
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

/// How many reminders are in each state.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(Status, i64)>> {
    let rows: Vec<(String, i64)> = reminders::table
        .group_by(reminders::status)
        .select((reminders::status, diesel::dsl::count_star()))
        .load(conn)?;
    rows.into_iter()
        .map(|(s, n)| Ok((Status::try_from(s).map_err(deserialize_error)?, n)))
        .collect()
}

fn deserialize_error(message: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(message.into())
}

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
