//! Patients' check-ins, their photos and the alert emails they raise.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::insert_returning_id;
use super::schema::{
    checkin_alerts as alerts, checkin_overdue as overdue, checkin_photos as photos,
    checkin_triage as triage, checkins, patients, treatments,
};
use super::DbConn;
use super::OutboxStatus as Status;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = checkins)]
pub struct CheckinRow {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub answer: String,
    pub day: i32,
    /// The most urgent group among the ticked boxes, as recorded with the answers; the app
    /// reads the triage's result instead, the tests read this copy back.
    #[cfg(feature = "test-support")]
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

/// Why a check-in was triaged as it was (see the migration `checkin_triage`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = triage)]
pub struct TriageRow {
    pub checkin_id: i64,
    pub result: String,
    pub rule: String,
    pub reasons_json: String,
    pub protocol_version: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_triage(conn: &mut DbConn, row: &TriageRow) -> QueryResult<usize> {
    diesel::insert_into(triage::table).values(row).execute(conn)
}

/// A check-in's reply-time reminder as staff see it: (status, due).
pub type OverdueState = (Option<String>, Option<NaiveDateTime>);

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

/// A treatment's check-ins, oldest first, with their triage and whether each has a photo.
pub fn for_treatment(
    conn: &mut DbConn,
    treatment_id: i64,
) -> QueryResult<Vec<(CheckinRow, TriageRow, bool)>> {
    checkins::table
        .inner_join(triage::table)
        .left_join(photos::table)
        .filter(checkins::treatment_id.eq(treatment_id))
        .order((checkins::created_at.asc(), checkins::id.asc()))
        .select((
            CheckinRow::as_select(),
            TriageRow::as_select(),
            photos::checkin_id.nullable().is_not_null(),
        ))
        .load(conn)
}

/// One row of Needs attention as read.
#[derive(Debug, Clone, Queryable)]
pub struct OpenRow {
    pub checkin: CheckinRow,
    pub location_id: i64,
    pub triage: TriageRow,
    pub patient: String,
    pub patient_phone: Option<String>,
    pub has_photo: bool,
    /// The alert email's status, when one was raised.
    pub alert: Option<String>,
    pub overdue: OverdueState,
}

/// Check-ins whose triage asks for attention (anything but `none`), not yet acknowledged,
/// newest first, with the patient's name and phone, whether there is a photo, the alert's state and
/// the reply-time reminder's.
pub fn open(conn: &mut DbConn, sites: Option<&[i64]>, limit: i64) -> QueryResult<Vec<OpenRow>> {
    let mut query = checkins::table
        .inner_join(triage::table)
        .inner_join(treatments::table)
        .inner_join(patients::table)
        .left_join(photos::table)
        .left_join(alerts::table)
        .left_join(overdue::table)
        .filter(checkins::acknowledged_at.is_null())
        .filter(triage::result.ne("none"))
        .order((checkins::created_at.desc(), checkins::id.desc()))
        .limit(limit)
        .select((
            CheckinRow::as_select(),
            treatments::location_id,
            TriageRow::as_select(),
            patients::name,
            patients::phone,
            photos::checkin_id.nullable().is_not_null(),
            alerts::status.nullable(),
            (
                overdue::status.nullable(),
                overdue::next_attempt_at.nullable(),
            ),
        ))
        .into_boxed();
    if let Some(ids) = sites {
        query = query.filter(treatments::location_id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// How many check-ins Needs attention lists at these locations (`None`: all).
pub fn open_count(conn: &mut DbConn, sites: Option<&[i64]>) -> QueryResult<i64> {
    let mut query = checkins::table
        .inner_join(triage::table)
        .inner_join(treatments::table)
        .filter(checkins::acknowledged_at.is_null())
        .filter(triage::result.ne("none"))
        .count()
        .into_boxed();
    if let Some(ids) = sites {
        query = query.filter(treatments::location_id.eq_any(ids.to_vec()));
    }
    query.get_result(conn)
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

/// Cancels a check-in's reply-time reminder while it waits (it was acknowledged in time).
pub fn cancel_overdue(
    conn: &mut DbConn,
    checkin_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        overdue::table
            .filter(overdue::checkin_id.eq(checkin_id))
            .filter(overdue::status.eq(Status::Pending.as_str())),
    )
    .set((
        overdue::status.eq(Status::Cancelled.as_str()),
        overdue::last_error.eq("acknowledged in time"),
        overdue::updated_at.eq(now),
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

// --- the clinic's outboxes: alerts and reply-time reminders ------------------------

/// The two outboxes of emails to the clinic about check-ins. They share their columns and
/// the reminders' lease and retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// `checkin_alerts`: at once, for an emergency or call-now answer.
    Alerts,
    /// `checkin_overdue`: once, when a check-in waiting for a reply is not acknowledged in time.
    Overdue,
}

/// `due` is when it may go: now for an alert, the end of the reply time for a reminder.
pub fn insert_outbox(
    conn: &mut DbConn,
    outbox: Outbox,
    checkin_id: i64,
    message_id: &str,
    due: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    macro_rules! insert {
        ($t:ident) => {
            diesel::insert_into($t::table)
                .values((
                    $t::checkin_id.eq(checkin_id),
                    $t::status.eq(Status::Pending.as_str()),
                    $t::next_attempt_at.eq(due),
                    $t::message_id.eq(message_id),
                    $t::updated_at.eq(now),
                ))
                .execute(conn)
        };
    }
    match outbox {
        Outbox::Alerts => insert!(alerts),
        Outbox::Overdue => insert!(overdue),
    }
}

/// A claimed email of either outbox.
#[derive(Debug, Clone, Queryable)]
pub struct AlertRow {
    pub id: i64,
    pub checkin_id: i64,
    pub attempts: i32,
    pub message_id: String,
}

/// The location of each check-in's treatment, as (check-in, location), in one read.
pub fn locations_of(conn: &mut DbConn, checkin_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    checkins::table
        .inner_join(treatments::table)
        .filter(checkins::id.eq_any(checkin_ids))
        .select((checkins::id, treatments::location_id))
        .load(conn)
}

/// Takes up to `claim.limit` due emails of an outbox and leases them with the claim's token:
/// the reminders' rules (see [`super::claim_leased`]). A reply-time reminder is due only while
/// its check-in waits: one acknowledged meanwhile is never claimed.
pub fn claim_outbox(
    conn: &mut DbConn,
    outbox: Outbox,
    claim: super::Claim,
) -> QueryResult<Vec<AlertRow>> {
    macro_rules! claimed {
        ($t:ident, $name:literal, $also_due:literal) => {{
            let ids = super::claim_leased(conn, $name, $also_due, claim)?;
            if ids.is_empty() {
                return Ok(vec![]);
            }
            $t::table
                .filter($t::id.eq_any(ids))
                .select(($t::id, $t::checkin_id, $t::attempts, $t::message_id))
                .load(conn)
        }};
    }
    match outbox {
        Outbox::Alerts => claimed!(alerts, "checkin_alerts", ""),
        Outbox::Overdue => claimed!(
            overdue,
            "checkin_overdue",
            " AND checkin_id IN (SELECT id FROM checkins WHERE acknowledged_at IS NULL)"
        ),
    }
}

/// Sets a leased email's outcome: sent, failed, or back to pending with a later
/// `next_attempt_at`. Only a row the claim `token` still holds changes.
#[allow(clippy::too_many_arguments)]
pub fn finish_outbox(
    conn: &mut DbConn,
    outbox: Outbox,
    id: i64,
    token: &str,
    status: Status,
    error: Option<&str>,
    next_attempt_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    macro_rules! finish {
        ($t:ident) => {
            diesel::update(
                $t::table
                    .find(id)
                    .filter($t::status.eq(Status::Sending.as_str()))
                    .filter($t::lease_token.eq(token)),
            )
            .set((
                $t::status.eq(status.as_str()),
                $t::last_error.eq(error),
                $t::lease_expires_at.eq(None::<NaiveDateTime>),
                $t::lease_token.eq(None::<String>),
                $t::sent_at.eq((status == Status::Sent).then_some(now)),
                $t::next_attempt_at.eq(next_attempt_at.unwrap_or(now)),
                $t::updated_at.eq(now),
            ))
            .execute(conn)
        };
    }
    match outbox {
        Outbox::Alerts => finish!(alerts),
        Outbox::Overdue => finish!(overdue),
    }
}

/// A leased email back to pending as it was, due at once, with the mail settings' error (a
/// configuration error) or none (given back unsent), the attempt not counted. Only a row the
/// claim `token` still holds changes.
pub fn hold_outbox(
    conn: &mut DbConn,
    outbox: Outbox,
    id: i64,
    token: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    macro_rules! hold {
        ($t:ident) => {{
            let row = $t::table
                .find(id)
                .filter($t::status.eq(Status::Sending.as_str()))
                .filter($t::lease_token.eq(token));
            let back = (
                $t::status.eq(Status::Pending.as_str()),
                $t::attempts.eq($t::attempts - 1),
                $t::lease_expires_at.eq(None::<NaiveDateTime>),
                $t::lease_token.eq(None::<String>),
                $t::updated_at.eq(now),
            );
            match error {
                Some(error) => diesel::update(row)
                    .set((back, $t::last_error.eq(error)))
                    .execute(conn),
                None => diesel::update(row).set(back).execute(conn),
            }
        }};
    }
    match outbox {
        Outbox::Alerts => hold!(alerts),
        Outbox::Overdue => hold!(overdue),
    }
}

/// Extends the lease of every email of an outbox the claim `token` still holds.
pub fn renew_outbox(
    conn: &mut DbConn,
    outbox: Outbox,
    token: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<usize> {
    macro_rules! renew {
        ($t:ident) => {
            diesel::update(
                $t::table
                    .filter($t::status.eq(Status::Sending.as_str()))
                    .filter($t::lease_token.eq(token)),
            )
            .set($t::lease_expires_at.eq(lease_until))
            .execute(conn)
        };
    }
    match outbox {
        Outbox::Alerts => renew!(alerts),
        Outbox::Overdue => renew!(overdue),
    }
}

/// Locks a treatment's row until the transaction ends, so writes that count
/// its rows first (the check-in hourly limit) run one after another. SQLite's
/// `BEGIN IMMEDIATE` already serialises every writer.
pub fn lock_treatment(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Pg(c) => crate::usecases::store::schema::treatments::table
            .find(id)
            .select(crate::usecases::store::schema::treatments::id)
            .for_update()
            .load::<i64>(c)
            .map(|_| ()),
    }
}
