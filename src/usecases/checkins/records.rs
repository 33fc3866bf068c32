//! A patient's check-ins as stored, for their data requests: the export reads them whole,
//! erasure empties what they wrote.

use chrono::NaiveDateTime;

use super::{Answer, Photo};
use crate::care::protocol::Urgency;
use crate::error::{AppError, AppResult};
use crate::usecases::store::checkins as store;
use crate::usecases::store::DbConn;

/// A check-in with everything stored about it (an export's).
#[derive(Debug, Clone)]
pub struct CheckinRecord {
    pub id: i64,
    pub treatment_id: i64,
    pub answer: Answer,
    pub day: i32,
    /// The most urgent group among the ticked boxes, as recorded with the answers.
    pub urgency: Option<Urgency>,
    pub ticked_json: String,
    pub note: String,
    pub ip: String,
    pub created_at: NaiveDateTime,
    pub acknowledged_at: Option<NaiveDateTime>,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_note: Option<String>,
}

/// The `urgency` column: the most urgent group ticked, or "none".
pub fn stored_urgency(urgency: Option<Urgency>) -> &'static str {
    urgency.map_or("none", Urgency::id)
}

impl TryFrom<store::CheckinRecord> for CheckinRecord {
    type Error = AppError;

    /// An answer or urgency the app does not know is an error, never read as another.
    fn try_from(row: store::CheckinRecord) -> AppResult<CheckinRecord> {
        let unknown = |what: &str, text: &str| {
            AppError::Internal(anyhow::anyhow!(
                "check-in {} has an unknown {what} {text:?}",
                row.id
            ))
        };
        let answer = Answer::parse(&row.answer).ok_or_else(|| unknown("answer", &row.answer))?;
        let urgency = match row.urgency.as_str() {
            "none" => None,
            id => Some(Urgency::parse(id).ok_or_else(|| unknown("urgency", id))?),
        };
        Ok(CheckinRecord {
            id: row.id,
            treatment_id: row.treatment_id,
            answer,
            day: row.day,
            urgency,
            ticked_json: row.ticked_json,
            note: row.note,
            ip: row.ip,
            created_at: row.created_at,
            acknowledged_at: row.acknowledged_at,
            acknowledged_by: row.acknowledged_by,
            acknowledged_note: row.acknowledged_note,
        })
    }
}

/// A patient's check-ins with everything stored (an export's), oldest first, each with its
/// photo while it is kept.
pub fn records_of_patient(
    conn: &mut DbConn,
    patient_id: i64,
) -> AppResult<Vec<(CheckinRecord, Option<Photo>)>> {
    store::for_patient_with_photos(conn, patient_id)?
        .into_iter()
        .map(|(record, kind, data)| Ok((record.try_into()?, kind.zip(data))))
        .collect()
}

/// How many check-ins a patient sent, and how many of their photos are kept.
pub fn counts_for_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<(i64, i64)> {
    Ok(store::counts_for_patient(conn, patient_id)?)
}

/// Removes the patient's notes, photos and address from their check-ins, and what staff
/// wrote back; the answers and ticked signs stay. Call inside the erasure's transaction.
/// Returns (check-ins emptied, photos deleted).
pub fn erase_for_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<(usize, usize)> {
    Ok(store::erase_for_patient(conn, patient_id)?)
}
