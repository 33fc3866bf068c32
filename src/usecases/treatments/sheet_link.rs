//! A treatment's sheet as it is opened and sent: the versions it was made from (the rendered
//! sheet's key), who may open it, the audit row for each opening, and emailing the patient
//! its link.

use chrono::NaiveDateTime;

use super::get;
use crate::error::{AppError, AppResult};
use crate::usecases::audit::audit;
use crate::usecases::audit_writer::AuditEntry;
use crate::usecases::reminders::Timing;
use crate::usecases::store::{self, write_tx, DbConn};
use crate::usecases::{clinic, patients, reminders};

/// What a treatment's sheet was made from: the treatment, its patient and the
/// clinic settings, each by its version. Equal versions give the same sheet,
/// on any instance, so a rendered sheet is reused while they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SheetVersion {
    pub treatment: i64,
    pub patient: i64,
    pub clinic: i64,
}

/// Who opens a sheet: staff still print an erased patient's sheet (the clinic keeps the
/// treatment); the patient's link stops working when they are erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Staff,
    Patient,
}

/// The current versions behind a live treatment's sheet (one small read, no plan).
pub fn sheet_version(conn: &mut DbConn, id: i64, reader: Reader) -> AppResult<SheetVersion> {
    let (treatment, patient, erased, clinic) =
        store::treatments::sheet_versions(conn, id)?.ok_or(AppError::NotFound)?;
    if erased && reader == Reader::Patient {
        return Err(AppError::NotFound);
    }
    Ok(SheetVersion {
        treatment,
        patient,
        clinic,
    })
}

/// Emails the patient the link to their sheet now, through the outbox.
/// Refused (nothing queued) when the patient may not be emailed. `click` names
/// the click, so the same click sent twice queues one email; returns the
/// address it goes to, or `None` when that click was already queued.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn send_sheet_now(
    conn: &mut DbConn,
    actor: &crate::usecases::audit::Actor,
    id: i64,
    click: &str,
    at: Timing,
) -> AppResult<Option<String>> {
    let click_ok = !click.is_empty()
        && click.len() <= 40
        && click
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !click_ok {
        return Err(AppError::BadRequest(
            "The button's form is incomplete.".into(),
        ));
    }
    write_tx(conn, |conn| {
        let t = get(conn, id)?;
        let patient = patients::get(conn, t.patient_id)?;
        let recipient = patients::recipient(&patient);
        if !recipient.can_be_emailed {
            return Err(AppError::invalid(
                "send_now",
                "Not sent: this patient has not agreed to aftercare emails, has no email \
                 address, or unsubscribed.",
            ));
        }
        let clinic = clinic::for_location(conn, t.location_id)?;
        let subject = format!("Your aftercare sheet from {}", clinic.display_name());
        let queued = reminders::queue_sheet_now(
            conn,
            id,
            recipient,
            &subject,
            &clinic.sender_email,
            click,
            at,
        )?;
        if !queued {
            return Ok(None);
        }
        audit(
            conn,
            actor,
            "sheet.sent_now",
            &format!("treatment {id}"),
            &format!("patient {}: the sheet's link, by email now", patient.id),
            at.now,
        )?;
        Ok(patient.email)
    })
}

/// The audit row for who opened a sheet (staff printing, or the patient by link).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn sheet_opened(
    actor: crate::usecases::audit::Actor,
    action: &'static str,
    id: i64,
    now: NaiveDateTime,
) -> AuditEntry {
    AuditEntry {
        at: now,
        actor,
        action,
        subject: format!("treatment {id}"),
    }
}
