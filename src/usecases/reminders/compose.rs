//! The email a reminder row stands for: the worker's, and the preview staff open from a
//! treatment's page.

use crate::care::Plan;
use crate::error::{AppError, AppResult};
use crate::mail::reminder::ReminderEmail;
use crate::usecases::links::Links;
use crate::usecases::store::reminders as store;
use crate::usecases::store::DbConn;

use super::{is_sheet_now, Reminder};

/// The email a reminder row stands for (used by the worker and the preview).
pub fn compose_for(
    row: &Reminder,
    plan: &Plan,
    clinic: &crate::usecases::clinic::Clinic,
    patient_name: &str,
    links: &Links,
) -> ReminderEmail {
    crate::mail::reminder::compose(
        plan,
        &row.key,
        is_sheet_now(&row.key),
        &row.subject,
        row.send_at.and_utc(),
        clinic,
        patient_name,
        links.sheet(row.treatment_id),
        links.unsubscribe(row.patient_id),
    )
    .with_checkin(links.checkin(row.treatment_id))
}

/// The one email for a patient's reminders due at the same time (one row per
/// treatment), newest treatment first; `None` for no rows.
pub fn compose_group(
    rows: &[(&Reminder, &Plan)],
    clinic: &crate::usecases::clinic::Clinic,
    patient_name: &str,
    links: &Links,
) -> Option<ReminderEmail> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|(row, plan)| std::cmp::Reverse((plan.treated_at.utc, row.treatment_id)));
    let parts: Vec<crate::mail::reminder::Part<'_>> = rows
        .iter()
        .map(|(row, plan)| crate::mail::reminder::Part {
            plan,
            key: &row.key,
            sheet_only: is_sheet_now(&row.key),
            fallback_subject: &row.subject,
            sheet_url: links.sheet(row.treatment_id),
        })
        .collect();
    let (row, _) = rows.first()?;
    // The check-in asks about the newest treatment, which leads the email.
    crate::mail::reminder::compose_combined(
        &parts,
        row.send_at.and_utc(),
        clinic,
        patient_name,
        links.unsubscribe(row.patient_id),
    )
    .map(|email| email.with_checkin(links.checkin(row.treatment_id)))
}

/// One of a treatment's reminders (the preview's), or 404.
pub fn of_treatment(conn: &mut DbConn, treatment_id: i64, reminder_id: i64) -> AppResult<Reminder> {
    store::find(conn, reminder_id)?
        .filter(|r| r.treatment_id == treatment_id)
        .map(Reminder::from)
        .ok_or(AppError::NotFound)
}
