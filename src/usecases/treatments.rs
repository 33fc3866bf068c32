//! Use cases for treatments: record, edit, delete, and load for the sheet.
//!
//! Saving computes the plan with the care engine and stores it with the
//! treatment, in one transaction, so what the patient was given can always
//! be shown again exactly.
//!
//! In parts: `form` (the form as typed), `recording` (validate, record, edit, delete),
//! `lists` (the start page's and a patient's page's), `preview` (a reminder as the patient
//! gets it), `sheet_link` (a sheet's versions, its opening and emailing its link) and
//! `records` (a patient's treatments as records, and erasure). Here: a treatment and the
//! view every page and the sheet start from.

mod form;
mod lists;
mod preview;
mod recording;
mod records;
mod retime;
mod sheet_link;

use super::{clinic, patients, reminders};
use crate::care::Plan;
use crate::error::{AppError, AppResult};
use crate::usecases::clinic::Clinic;
use crate::usecases::store::{self, treatments::AreaRow, treatments::TreatmentRow, DbConn};
use chrono::NaiveDateTime;
use chrono_tz::Tz;
pub use form::{
    form_context, form_datetime, unusual_depths, AreaRowInput, TreatmentForm, DEPTH_IS_RIGHT,
    FORM_ROWS, MAX_ROWS, PATIENT_NOTE_MAX,
};
pub use lists::{dashboard, patient_page, Dashboard, PatientPage};
use patients::Patient;
pub use preview::{reminder_preview, ReminderPreview};
pub use recording::{delete, edit, for_editing, may_change, record};
pub use records::{erase_free_text, records_of_patient, TreatmentRecord};
pub use retime::{pending_at, retime_location};
pub use sheet_link::{send_sheet_now, sheet_opened, sheet_version, Reader, SheetVersion};

/// A treatment as pages and the other use cases see it. Its plan stays with the store (a
/// page that shows it gets the `Plan`, read once, in a [`TreatmentView`]).
#[derive(Debug, Clone)]
pub struct Treatment {
    pub id: i64,
    pub patient_id: i64,
    pub practitioner_id: i64,
    /// When it was done, on the clinic's wall clock then.
    pub treated_at_local: NaiveDateTime,
    /// The same moment in UTC.
    pub treated_at: NaiveDateTime,
    /// The zone it was recorded in (stored with it, so its dates never move when the clinic's
    /// setting changes).
    pub time_zone: Tz,
    pub device: String,
    pub products: String,
    pub internal_notes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The location it was done at: its sheet, emails and alerts are that location's.
    pub location_id: i64,
}

impl TryFrom<TreatmentRow> for Treatment {
    type Error = AppError;

    /// A zone the app does not know is an error, never a silent UTC: the dates would be wrong.
    fn try_from(row: TreatmentRow) -> AppResult<Treatment> {
        let time_zone = row.time_zone.parse().map_err(|_| {
            AppError::Internal(anyhow::anyhow!(
                "treatment {} has an unknown time zone {:?}",
                row.id,
                row.time_zone
            ))
        })?;
        Ok(Treatment {
            id: row.id,
            patient_id: row.patient_id,
            practitioner_id: row.practitioner_id,
            treated_at_local: row.treated_at_local,
            treated_at: row.treated_at,
            time_zone,
            device: row.device,
            products: row.products,
            internal_notes: row.internal_notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
            location_id: row.location_id,
        })
    }
}

/// A treated area with its needle depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub area_id: String,
    pub depth_mm: f64,
}

impl From<AreaRow> for Area {
    fn from(row: AreaRow) -> Area {
        Area {
            area_id: row.area_id,
            depth_mm: row.depth_mm,
        }
    }
}

/// Treatments with something alongside (a name), as views.
fn views_with<T>(rows: Vec<(TreatmentRow, T)>) -> AppResult<Vec<(Treatment, T)>> {
    rows.into_iter()
        .map(|(t, with)| Ok((Treatment::try_from(t)?, with)))
        .collect()
}

/// A live treatment's row by its id (404 when there is none, or it was deleted).
fn stored(conn: &mut DbConn, id: i64) -> AppResult<TreatmentRow> {
    store::treatments::find(conn, id)?.ok_or(AppError::NotFound)
}

/// The clinic as a patient's latest treatment's location shows it (the first location when
/// they have none): the lines a page about all their emails gives them.
pub fn clinic_of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Clinic> {
    match store::treatments::latest_location(conn, patient_id)? {
        Some(location) => clinic::for_location(conn, location),
        None => clinic::get(conn),
    }
}

/// A live treatment by its id (404 when there is none, or it was deleted).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn get(conn: &mut DbConn, id: i64) -> AppResult<Treatment> {
    stored(conn, id)?.try_into()
}

/// Everything a sheet or the treatment page shows.
pub struct TreatmentView {
    pub treatment: Treatment,
    pub patient: Patient,
    pub practitioner: String,
    pub clinic: Clinic,
    pub plan: Plan,
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn view(conn: &mut DbConn, id: i64) -> AppResult<TreatmentView> {
    let (treatment, _, practitioner) =
        store::treatments::find_with_names(conn, id)?.ok_or(AppError::NotFound)?;
    let patient = patients::get(conn, treatment.patient_id)?;
    let clinic = clinic::for_location(conn, treatment.location_id)?;
    let plan: Plan = serde_json::from_str(&treatment.plan_json).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "treatment {id} has an unreadable plan: {e}"
        ))
    })?;
    Ok(TreatmentView {
        treatment: treatment.try_into()?,
        patient,
        practitioner,
        clinic,
        plan,
    })
}

/// A treatment as the patient's own links show it (the online sheet, its calendar files, the
/// check-in page): 404 once the patient was erased, though staff still see the treatment.
pub fn view_for_patient(conn: &mut DbConn, id: i64) -> AppResult<TreatmentView> {
    Some(view(conn, id)?)
        .filter(|v| !v.patient.is_erased())
        .ok_or(AppError::NotFound)
}

/// A treatment's page: the treatment with its reminders as staff see them.
pub fn page(
    conn: &mut DbConn,
    id: i64,
    at: reminders::Timing,
) -> AppResult<(TreatmentView, Vec<reminders::ReminderView>)> {
    let view = view(conn, id)?;
    let tz = view.treatment.time_zone;
    let reminders = reminders::for_treatment(conn, id, &view.patient.name, tz, at)?;
    Ok((view, reminders))
}
