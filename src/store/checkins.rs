//! Patients' check-ins, their photos and the alert emails they raise.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{checkin_alerts as alerts, checkin_photos as photos, checkins, patients};
use super::DbConn;
use crate::insert_returning_id;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = checkins)]
pub struct CheckinRow {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub answer: String,
    pub day: i32,
    pub urgency: String,
    pub ticked_json: String,
    pub note: String,
    pub created_at: NaiveDateTime,
    pub acknowledged_at: Option<NaiveDateTime>,
    pub acknowledged_note: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = checkins)]
pub struct NewCheckin<'a> {
    pub treatment_id: i64,
    pub patient_id: i64,
    pub answer: &'a str,
    pub day: i32,
    pub urgency: &'a str,
    pub ticked_json: &'a str,
    pub note: &'a str,
    pub ip: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, row: &NewCheckin) -> QueryResult<i64> {
    insert_returning_id!(
        conn,
        diesel::insert_into(checkins::table).values(row),
        checkins::id
    )
}

pub fn insert_photo(
    conn: &mut DbConn,
    checkin_id: i64,
    content_type: &str,
    data: &[u8],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(photos::table)
        .values((
            photos::checkin_id.eq(checkin_id),
            photos::content_type.eq(content_type),
            photos::data.eq(data),
            photos::created_at.eq(now),
        ))
        .execute(conn)
}

/// How many check-ins a treatment has had since `since` (the hourly limit).
pub fn count_since(conn: &mut DbConn, treatment_id: i64, since: NaiveDateTime) -> QueryResult<i64> {
    checkins::table
        .filter(checkins::treatment_id.eq(treatment_id))
        .filter(checkins::created_at.ge(since))
        .count()
        .get_result(conn)
}

/// A treatment's check-ins, oldest first, with whether each has a photo.
pub fn for_treatment(conn: &mut DbConn, treatment_id: i64) -> QueryResult<Vec<(CheckinRow, bool)>> {
    checkins::table
        .left_join(photos::table)
        .filter(checkins::treatment_id.eq(treatment_id))
        .order((checkins::created_at.asc(), checkins::id.asc()))
        .select((
            CheckinRow::as_select(),
            photos::checkin_id.nullable().is_not_null(),
        ))
        .load(conn)
}

/// Check-ins that ask for attention, not yet acknowledged, newest first, with
/// the patient's name, whether there is a photo and the alert's state.
#[allow(clippy::type_complexity)]
pub fn open(
    conn: &mut DbConn,
    limit: i64,
) -> QueryResult<Vec<(CheckinRow, String, bool, Option<String>)>> {
    checkins::table
        .inner_join(patients::table)
        .left_join(photos::table)
        .left_join(alerts::table)
        .filter(checkins::acknowledged_at.is_null())
        .filter(checkins::answer.ne("fine").or(checkins::urgency.ne("none")))
        .order((checkins::created_at.desc(), checkins::id.desc()))
        .limit(limit)
        .select((
            CheckinRow::as_select(),
            patients::name,
            photos::checkin_id.nullable().is_not_null(),
            alerts::status.nullable(),
        ))
        .load(conn)
}

pub fn open_count(conn: &mut DbConn) -> QueryResult<i64> {
    checkins::table
        .filter(checkins::acknowledged_at.is_null())
        .filter(checkins::answer.ne("fine").or(checkins::urgency.ne("none")))
        .count()
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CheckinRow>> {
    checkins::table
        .find(id)
        .select(CheckinRow::as_select())
        .get_result(conn)
        .optional()
}

/// Marks a check-in dealt with; 0 when it already was.
pub fn acknowledge(
    conn: &mut DbConn,
    id: i64,
    by: i64,
    note: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        checkins::table
            .find(id)
            .filter(checkins::acknowledged_at.is_null()),
    )
    .set((
        checkins::acknowledged_at.eq(now),
        checkins::acknowledged_by.eq(by),
        checkins::acknowledged_note.eq(note),
    ))
    .execute(conn)
}

/// A check-in's photo: (content type, bytes).
pub fn photo(conn: &mut DbConn, checkin_id: i64) -> QueryResult<Option<(String, Vec<u8>)>> {
    photos::table
        .find(checkin_id)
        .select((photos::content_type, photos::data))
        .get_result(conn)
        .optional()
}

/// Deletes up to `limit` of the oldest photos sent before `cutoff`.
pub fn delete_photos_before(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<i64> = photos::table
        .filter(photos::created_at.lt(cutoff))
        .order(photos::created_at.asc())
        .limit(limit)
        .select(photos::checkin_id)
        .load(conn)?;
    diesel::delete(photos::table.filter(photos::checkin_id.eq_any(ids))).execute(conn)
}

/// A check-in with everything stored about it (an export's).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = checkins)]
pub struct CheckinRecord {
    pub id: i64,
    pub treatment_id: i64,
    pub answer: String,
    pub day: i32,
    pub urgency: String,
    pub ticked_json: String,
    pub note: String,
    pub ip: String,
    pub created_at: NaiveDateTime,
    pub acknowledged_at: Option<NaiveDateTime>,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_note: Option<String>,
}

/// A patient's check-ins, oldest first, each with its photo (content type, bytes) if it has one.
#[allow(clippy::type_complexity)]
pub fn for_patient_with_photos(
    conn: &mut DbConn,
    patient_id: i64,
) -> QueryResult<Vec<(CheckinRecord, Option<String>, Option<Vec<u8>>)>> {
    checkins::table
        .left_join(photos::table)
        .filter(checkins::patient_id.eq(patient_id))
        .order((checkins::created_at.asc(), checkins::id.asc()))
        .select((
            CheckinRecord::as_select(),
            photos::content_type.nullable(),
            photos::data.nullable(),
        ))
        .load(conn)
}

/// How many check-ins a patient sent, and how many photos of theirs are kept.
pub fn counts_for_patient(conn: &mut DbConn, patient_id: i64) -> QueryResult<(i64, i64)> {
    let of_patient = checkins::table
        .filter(checkins::patient_id.eq(patient_id))
        .select(checkins::id);
    let answers = checkins::table
        .filter(checkins::patient_id.eq(patient_id))
        .count()
        .get_result(conn)?;
    let pictures = photos::table
        .filter(photos::checkin_id.eq_any(of_patient))
        .count()
        .get_result(conn)?;
    Ok((answers, pictures))
}

/// Removes what a patient wrote and sent (notes, photos, their address) and what staff wrote
/// back; the answers and what was ticked stay. Returns (check-ins emptied, photos deleted).
pub fn erase_for_patient(conn: &mut DbConn, patient_id: i64) -> QueryResult<(usize, usize)> {
    let of_patient = checkins::table
        .filter(checkins::patient_id.eq(patient_id))
        .select(checkins::id);
    let pictures = diesel::delete(photos::table.filter(photos::checkin_id.eq_any(of_patient)))
        .execute(conn)?;
    diesel::update(
        checkins::table
            .filter(checkins::patient_id.eq(patient_id))
            .filter(checkins::acknowledged_note.is_not_null()),
    )
    .set(checkins::acknowledged_note.eq(""))
    .execute(conn)?;
    let answers = diesel::update(checkins::table.filter(checkins::patient_id.eq(patient_id)))
        .set((checkins::note.eq(""), checkins::ip.eq("")))
        .execute(conn)?;
    Ok((answers, pictures))
}

// --- the alert outbox -------------------------------------------------------------

pub fn insert_alert(
    conn: &mut DbConn,
    checkin_id: i64,
    message_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(alerts::table)
        .values((
            alerts::checkin_id.eq(checkin_id),
            alerts::status.eq("pending"),
            alerts::next_attempt_at.eq(now),
            alerts::message_id.eq(message_id),
            alerts::updated_at.eq(now),
        ))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: i64,
    pub checkin_id: i64,
    pub attempts: i32,
    pub message_id: String,
}

/// Takes up to `limit` due alerts and leases them with the claim's token: the
/// reminders' rules (see [`super::claim_leased`]).
pub fn claim_alerts(conn: &mut DbConn, claim: super::Claim) -> QueryResult<Vec<AlertRow>> {
    let ids = super::claim_leased(conn, "checkin_alerts", "", claim)?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    alerts::table
        .filter(alerts::id.eq_any(ids))
        .select(AlertRow::as_select())
        .load(conn)
}

/// The rows of one id still held by one claim.
type Held<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<alerts::table, i64>,
        diesel::dsl::Eq<alerts::status, &'static str>,
    >,
    diesel::dsl::Eq<alerts::lease_token, &'a str>,
>;

/// Alert `id` while the claim with this token holds it.
fn held_alert(id: i64, token: &str) -> Held<'_> {
    alerts::table
        .find(id)
        .filter(alerts::status.eq("sending"))
        .filter(alerts::lease_token.eq(token))
}

/// Sets a leased alert's outcome: `sent`, `failed`, or back to `pending`
/// with a later `next_attempt_at`. Only a row the claim `token` still holds changes.
pub fn finish_alert(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    status: &str,
    error: Option<&str>,
    next_attempt_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(held_alert(id, token))
        .set((
            alerts::status.eq(status),
            alerts::last_error.eq(error),
            alerts::lease_expires_at.eq(None::<NaiveDateTime>),
            alerts::lease_token.eq(None::<String>),
            alerts::sent_at.eq((status == "sent").then_some(now)),
            alerts::next_attempt_at.eq(next_attempt_at.unwrap_or(now)),
            alerts::updated_at.eq(now),
        ))
        .execute(conn)
}

/// A leased alert back to pending as it was, due at once, with the mail
/// settings' error (a configuration error) or none (given back unsent), the
/// attempt not counted.
pub fn hold_alert(
    conn: &mut DbConn,
    id: i64,
    token: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let row = held_alert(id, token);
    let back = (
        alerts::status.eq("pending"),
        alerts::attempts.eq(alerts::attempts - 1),
        alerts::lease_expires_at.eq(None::<NaiveDateTime>),
        alerts::lease_token.eq(None::<String>),
        alerts::updated_at.eq(now),
    );
    match error {
        Some(error) => diesel::update(row)
            .set((back, alerts::last_error.eq(error)))
            .execute(conn),
        None => diesel::update(row).set(back).execute(conn),
    }
}

/// Extends the lease of every alert the claim `token` still holds.
pub fn renew_alerts(
    conn: &mut DbConn,
    token: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        alerts::table
            .filter(alerts::status.eq("sending"))
            .filter(alerts::lease_token.eq(token)),
    )
    .set(alerts::lease_expires_at.eq(lease_until))
    .execute(conn)
}

/// Locks a treatment's row until the transaction ends, so writes that count
/// its rows first (the check-in hourly limit) run one after another. SQLite's
/// `BEGIN IMMEDIATE` already serialises every writer.
pub fn lock_treatment(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Pg(c) => crate::store::schema::treatments::table
            .find(id)
            .select(crate::store::schema::treatments::id)
            .for_update()
            .load::<i64>(c)
            .map(|_| ()),
    }
}
