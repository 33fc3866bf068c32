//! A reminder as staff preview it from a treatment's page: the email exactly as the patient
//! gets it, whom it goes to, and why it will not reach them, when it will not.

use super::view;
use crate::error::AppResult;
use crate::usecases::reminders;
use crate::usecases::store::DbConn;

/// One of the treatment's reminder emails, exactly as the patient gets it.
pub fn reminder_preview(
    conn: &mut DbConn,
    links: &crate::usecases::links::Links,
    treatment_id: i64,
    reminder_id: i64,
) -> AppResult<ReminderPreview> {
    let row = reminders::of_treatment(conn, treatment_id, reminder_id)?;
    let view = view(conn, treatment_id)?;
    let patient = &view.patient;
    let email = reminders::compose_for(&row, &view.plan, &view.clinic, &patient.name, links);
    let not_sent = if patient.is_erased() {
        Some(reminders::Blocked::PatientErased.note())
    } else if !patient.can_be_emailed() {
        Some(reminders::Blocked::CannotBeEmailed.note())
    } else {
        None
    };
    Ok(ReminderPreview {
        to: patient
            .email
            .as_deref()
            .map(|address| crate::mail::to_line(&patient.name, address)),
        not_sent,
        email,
    })
}

/// A reminder as staff preview it: the email, and whom it goes to.
pub struct ReminderPreview {
    pub email: crate::mail::reminder::ReminderEmail,
    /// The To line as the email carries it; `None` when the patient has no address.
    pub to: Option<String>,
    /// Why it will not reach the patient, when it will not.
    pub not_sent: Option<&'static str>,
}
