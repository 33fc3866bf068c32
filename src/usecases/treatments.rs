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
mod sheet_link;

use super::{clinic, patients, reminders};
use crate::care::Plan;
use crate::error::{AppError, AppResult};
use crate::usecases::clinic::Clinic;
use crate::usecases::store::{self, treatments::TreatmentRow, DbConn};
pub use form::{
    form_context, form_datetime, unusual_depths, AreaRowInput, TreatmentForm, DEPTH_IS_RIGHT,
    FORM_ROWS, MAX_ROWS, PATIENT_NOTE_MAX,
};
pub use lists::{dashboard, patient_page, Dashboard, PatientPage};
use patients::Patient;
pub use preview::{reminder_preview, ReminderPreview};
pub use recording::{delete, edit, for_editing, may_change, record};
pub use records::{erase_free_text, records_of_patient, TreatmentRecord};
pub use sheet_link::{send_sheet_now, sheet_opened, sheet_version, Reader, SheetVersion};

/// A live treatment by its id (404 when there is none, or it was deleted).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn get(conn: &mut DbConn, id: i64) -> AppResult<TreatmentRow> {
    store::treatments::find(conn, id)?.ok_or(AppError::NotFound)
}

/// Everything a sheet or the treatment page shows.
pub struct TreatmentView {
    pub treatment: TreatmentRow,
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
    let clinic = clinic::get(conn)?;
    let plan: Plan = serde_json::from_str(&treatment.plan_json).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "treatment {id} has an unreadable plan: {e}"
        ))
    })?;
    Ok(TreatmentView {
        treatment,
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

/// The zone a treatment was recorded in (stored with it, so its dates never
/// move when the clinic's setting changes).
pub fn zone(t: &TreatmentRow) -> AppResult<chrono_tz::Tz> {
    t.time_zone.parse().map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "treatment {} has an unknown time zone {:?}",
            t.id,
            t.time_zone
        ))
    })
}

/// A treatment's page: the treatment with its reminders as staff see them.
pub fn page(
    conn: &mut DbConn,
    id: i64,
    at: reminders::Timing,
) -> AppResult<(TreatmentView, Vec<reminders::ReminderView>)> {
    let view = view(conn, id)?;
    let tz = zone(&view.treatment)?;
    let reminders = reminders::for_treatment(conn, id, &view.patient.name, tz, at)?;
    Ok((view, reminders))
}
