//! Use cases for reminder emails: writing a treatment's schedule into the
//! outbox (inside the treatment's own transaction), keeping it in step with
//! edits, consent and unsubscribes, and the outbox page's actions.

use chrono::{NaiveDateTime, Utc};

use crate::accounts::{audit, Actor};
use crate::care::{Plan, ReminderKind};
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::mail::reminder::ReminderEmail;
use crate::patients::Patient;
use crate::store::reminders::{
    self as outbox, status, NewReminder, OutboxFilter, ReminderRow, Scope,
};
use crate::store::{self, write_tx, DbConn};

pub const NO_CONSENT: &str = "no consent to aftercare emails";
const PASSED: &str = "its time had passed when it was scheduled";

pub fn kind_name(kind: &ReminderKind) -> &'static str {
    match kind {
        ReminderKind::Evening => "evening",
        ReminderKind::Daily => "daily",
        ReminderKind::Milestone => "milestone",
    }
}

/// Whether the patient can be emailed at all.
pub fn can_email(patient: &Patient) -> bool {
    patient.email_consent && patient.email.is_some() && patient.unsubscribed_at.is_none()
}

/// A stable, unique Message-ID for one reminder, in the sender's domain.
fn message_id(treatment_id: i64, key: &str, sender: &str) -> String {
    crate::mail::message_id(&format!("{treatment_id}.{key}"), sender)
}

fn new_row(
    treatment_id: i64,
    patient: &Patient,
    r: &crate::care::Reminder,
    sender: &str,
    now: NaiveDateTime,
) -> NewReminder {
    let send_at = r.send_at.naive_utc();
    let (state, reason) = if send_at <= now {
        (status::SKIPPED, Some(PASSED))
    } else if !can_email(patient) {
        (status::CANCELLED, Some(NO_CONSENT))
    } else {
        (status::PENDING, None)
    };
    NewReminder {
        treatment_id,
        patient_id: patient.id,
        reminder_key: r.key.clone(),
        kind: kind_name(&r.kind).into(),
        day: r.day as i32,
        subject: r.subject.clone(),
        send_at,
        next_attempt_at: send_at,
        status: state.into(),
        last_error: reason.map(str::to_string),
        message_id: message_id(treatment_id, &r.key, sender),
        updated_at: now,
    }
}

/// Writes a new treatment's whole schedule. Call inside the treatment's transaction.
pub fn schedule(
    conn: &mut DbConn,
    treatment_id: i64,
    patient: &Patient,
    plan: &Plan,
    sender: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let rows: Vec<NewReminder> = plan
        .reminders
        .iter()
        .map(|r| new_row(treatment_id, patient, r, sender, now))
        .collect();
    outbox::insert_all(conn, &rows)?;
    Ok(())
}

/// Brings an edited treatment's pending reminders in line with its new plan:
/// same key → moved; no longer in the plan → cancelled; new key → added.
/// Rows already sent (or failed, skipped, cancelled) are never touched.
pub fn reschedule(
    conn: &mut DbConn,
    treatment_id: i64,
    patient: &Patient,
    plan: &Plan,
    sender: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let existing = outbox::for_treatment(conn, treatment_id)?;
    for row in existing.iter().filter(|r| r.status == status::PENDING) {
        match plan.reminders.iter().find(|r| r.key == row.reminder_key) {
            Some(r) if r.send_at.naive_utc() > now => {
                outbox::reschedule(
                    conn,
                    row.id,
                    r.send_at.naive_utc(),
                    &r.subject,
                    r.day as i32,
                    now,
                )?;
            }
            _ => {
                outbox::finish(
                    conn,
                    row.id,
                    &[status::PENDING],
                    status::CANCELLED,
                    Some("no longer in the plan after an edit"),
                    now,
                )?;
            }
        }
    }
    let is_new = |key: &str| {
        !existing
            .iter()
            .any(|row| row.reminder_key == key && row.status != status::CANCELLED)
    };
    let added: Vec<NewReminder> = plan
        .reminders
        .iter()
        .filter(|r| is_new(&r.key) && r.send_at.naive_utc() > now)
        .map(|r| new_row(treatment_id, patient, r, sender, now))
        .collect();
    outbox::insert_all(conn, &added)?;
    Ok(())
}

pub fn cancel_for_treatment(
    conn: &mut DbConn,
    treatment_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(outbox::cancel_pending(
        conn,
        Scope::Treatment(treatment_id),
        reason,
        now,
    )?)
}

/// After a patient's consent changes: withdrawn → cancel; given → re-open
/// future reminders that were held back for lack of consent.
pub fn consent_changed(conn: &mut DbConn, patient: &Patient, now: NaiveDateTime) -> AppResult<()> {
    if can_email(patient) {
        outbox::reopen_for_patient(conn, patient.id, NO_CONSENT, now)?;
    } else {
        outbox::cancel_pending(conn, Scope::Patient(patient.id), NO_CONSENT, now)?;
    }
    Ok(())
}

/// The patient's one click: no more reminders, at once.
pub fn unsubscribe(conn: &mut DbConn, patient_id: i64, ip: &str) -> AppResult<bool> {
    let now = store::now();
    write_tx(conn, |conn| {
        let patient = crate::patients::get(conn, patient_id)?;
        if patient.unsubscribed_at.is_some() {
            return Ok(false);
        }
        store::patients::set_unsubscribed(conn, patient_id, Some(now))?;
        let cancelled = outbox::cancel_pending(
            conn,
            Scope::Patient(patient_id),
            "the patient unsubscribed",
            now,
        )?;
        let actor = Actor::anonymous("patient (unsubscribe link)", ip);
        audit(
            conn,
            &actor,
            "patient.unsubscribed",
            &format!("patient {patient_id}"),
            &format!("{cancelled} reminders cancelled"),
            now,
        )?;
        Ok(true)
    })
}

/// The email a reminder row stands for (used by the worker and the preview).
pub fn compose_for(
    row: &ReminderRow,
    plan: &Plan,
    clinic: &crate::clinic::Clinic,
    patient: &Patient,
    links: &Links,
) -> ReminderEmail {
    crate::mail::reminder::compose(
        plan,
        &row.reminder_key,
        &row.subject,
        row.send_at.and_utc(),
        clinic,
        &patient.name,
        links.sheet(row.treatment_id),
        links.unsubscribe(patient.id),
    )
}

pub fn for_treatment(conn: &mut DbConn, treatment_id: i64) -> AppResult<Vec<ReminderRow>> {
    Ok(outbox::for_treatment(conn, treatment_id)?)
}

/// A reminder of a treatment as the patient would see it.
pub fn preview(
    conn: &mut DbConn,
    links: &Links,
    treatment_id: i64,
    reminder_id: i64,
) -> AppResult<ReminderEmail> {
    let row = outbox::find(conn, reminder_id)?
        .filter(|r| r.treatment_id == treatment_id)
        .ok_or(AppError::NotFound)?;
    let view = crate::treatments::view(conn, treatment_id)?;
    Ok(compose_for(
        &row,
        &view.plan,
        &view.clinic,
        &view.patient,
        links,
    ))
}

pub const OUTBOX_PAGE_SIZE: i64 = 50;

pub struct OutboxPage {
    pub rows: Vec<(ReminderRow, String)>,
    pub counts: Vec<(String, i64)>,
    pub page: i64,
    pub has_more: bool,
}

pub fn outbox_page(conn: &mut DbConn, filter: &OutboxFilter, page: i64) -> AppResult<OutboxPage> {
    let page = page.max(1);
    let mut rows = outbox::outbox(
        conn,
        filter,
        (page - 1) * OUTBOX_PAGE_SIZE,
        OUTBOX_PAGE_SIZE + 1,
    )?;
    let has_more = rows.len() as i64 > OUTBOX_PAGE_SIZE;
    rows.truncate(OUTBOX_PAGE_SIZE as usize);
    let counts = outbox::counts(conn)?;
    Ok(OutboxPage {
        rows,
        counts,
        page,
        has_more,
    })
}

/// Staff retry a failed (or skipped, or cancelled) reminder now.
pub fn retry(conn: &mut DbConn, actor: &Actor, id: i64) -> AppResult<()> {
    let now = Utc::now().naive_utc();
    write_tx(conn, |conn| {
        let row = outbox::find(conn, id)?.ok_or(AppError::NotFound)?;
        let patient = crate::patients::get(conn, row.patient_id)?;
        if !can_email(&patient) {
            return Err(AppError::invalid(
                "reminder",
                "This patient cannot be emailed (no consent, no email, or they unsubscribed).",
            ));
        }
        if outbox::requeue(conn, id, now)? == 0 {
            return Err(AppError::invalid(
                "reminder",
                "Only a failed, skipped or cancelled email can be tried again.",
            ));
        }
        audit(
            conn,
            actor,
            "reminder.retried",
            &format!("reminder {id}"),
            &row.subject,
            now,
        )
    })
}

/// Staff cancel a pending or failed reminder.
pub fn cancel(conn: &mut DbConn, actor: &Actor, id: i64) -> AppResult<()> {
    let now = Utc::now().naive_utc();
    write_tx(conn, |conn| {
        let row = outbox::find(conn, id)?.ok_or(AppError::NotFound)?;
        let reason = format!("cancelled by {}", actor.label);
        if outbox::finish(
            conn,
            id,
            &[status::PENDING, status::FAILED],
            status::CANCELLED,
            Some(&reason),
            now,
        )? == 0
        {
            return Err(AppError::invalid(
                "reminder",
                "Only a pending or failed email can be cancelled.",
            ));
        }
        audit(
            conn,
            actor,
            "reminder.cancelled",
            &format!("reminder {id}"),
            &row.subject,
            now,
        )
    })
}
