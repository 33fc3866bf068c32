//! The worker's side of the outbox: claiming due reminders with a fenced lease, renewing it,
//! and recording each outcome only while the claim still holds the row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Reason, ReminderRow, Status, SHEET_NOW};
use crate::usecases::store::patients::PatientRow;
use crate::usecases::store::schema::{patients, reminders, treatments};
use crate::usecases::store::{run_claim, Claim, DbConn};

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
/// with every other claimable reminder of the same patient, send time and
/// location (their time has come too): those go out as one email, so a
/// patient gets one email per send time from each location however many
/// treatments are healing (each location sends its own, from its sender). A whole
/// group is taken by one worker: on SQLite the single statement runs inside
/// the write lock; on PostgreSQL claims take a transaction-level advisory
/// lock first (call inside a transaction), so two workers never split a group.
/// A "send the sheet now" email goes on its own, never merged with another.
pub fn claim(conn: &mut DbConn, claim: Claim) -> QueryResult<Vec<i64>> {
    // Parameters as `store::run_claim` gives them: 1 = now, 2 = lease end, 3 = limit, 4 = token.
    let sql = |p: &str, lock: &str| {
        let claimable = format!(
            "(status = 'pending' AND next_attempt_at <= {p}1 AND send_at <= {p}1) \
             OR (status = 'sending' AND lease_expires_at < {p}1)"
        );
        // A sibling waiting out a retry is taken with its group: its time has come.
        let sibling = format!(
            "(status = 'pending' AND send_at <= {p}1) OR (status = 'sending' AND lease_expires_at < {p}1)"
        );
        // A treatment's location, as a scalar subquery over `(treatment_id)`.
        let location = "(SELECT location_id FROM treatments WHERE treatments.id = ";
        let location = |of: &str| format!("{location}{of})");
        let (due_site, row_site) = (
            location("due.treatment_id"),
            location("reminders.treatment_id"),
        );
        format!(
            "UPDATE reminders SET status = 'sending', lease_expires_at = {p}2, lease_token = {p}4, \
                    attempts = attempts + 1, updated_at = {p}1 \
             WHERE ({sibling}) AND EXISTS (SELECT 1 FROM (SELECT id, patient_id, send_at, reminder_key, treatment_id FROM reminders \
                          WHERE {claimable} \
                          ORDER BY next_attempt_at, id LIMIT {p}3{lock}) due \
                        WHERE due.id = reminders.id \
                           OR (due.patient_id = reminders.patient_id AND due.send_at = reminders.send_at \
                               AND {due_site} = {row_site} \
                               AND due.reminder_key NOT LIKE '{SHEET_NOW}%' \
                               AND reminders.reminder_key NOT LIKE '{SHEET_NOW}%')) \
             RETURNING id"
        )
    };
    // Two workers never split a patient's group on PostgreSQL: claims queue on this lock.
    let lock = "SELECT pg_advisory_xact_lock(1414)";
    run_claim(conn, sql, Some(lock), claim)
}

/// What the worker needs to render a claimed reminder.
#[derive(Debug, Clone)]
pub struct Job {
    pub reminder: ReminderRow,
    pub plan_json: String,
    pub treatment_deleted: bool,
    pub patient: PatientRow,
    /// The treatment's location, whose sender and lines the email carries.
    pub location_id: i64,
}

pub fn load_jobs(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Job>> {
    type Loaded = (ReminderRow, String, Option<NaiveDateTime>, PatientRow, i64);
    let rows: Vec<Loaded> = reminders::table
        .inner_join(treatments::table)
        .inner_join(patients::table)
        .filter(reminders::id.eq_any(ids))
        .select((
            ReminderRow::as_select(),
            treatments::plan_json,
            treatments::deleted_at,
            PatientRow::as_select(),
            treatments::location_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reminder, plan_json, deleted, patient, location_id)| Job {
            reminder,
            plan_json,
            treatment_deleted: deleted.is_some(),
            patient,
            location_id,
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

/// A configuration error: back to pending as it was (still due), with the
/// error, the reason [`Reason::HeldForSettings`], and the claim's attempt taken back.
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
            reminders::reason.eq(Reason::HeldForSettings.stored()),
            no_lease(),
            reminders::updated_at.eq(now),
        ))
        .execute(conn)
}
