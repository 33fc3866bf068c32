//! Use cases for reminder emails: writing a treatment's schedule into the
//! outbox (inside the treatment's own transaction), keeping it in step with
//! edits, consent and unsubscribes, and the outbox page's actions.

use chrono::{Duration, NaiveDateTime};

use crate::accounts::{audit, Actor};
use crate::auth::tokens::random_token;
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
const PASSED: &str = "its day of healing had passed when it was scheduled";
pub const MILESTONE: &str = "milestone";
/// The outbox's states, as the web layer names them.
pub use crate::store::reminders::status::{
    ALL as STATUSES, FAILED as STATUS_FAILED, PENDING as STATUS_PENDING,
};

/// "Now" for the use cases that schedule reminders, with the stale rule's
/// threshold (`AFTERCARE_REMINDER_STALE_HOURS`).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub now: NaiveDateTime,
    pub stale_after: Duration,
}

/// The stale rule, shared by the worker, scheduling and Retry: a daily (or
/// evening) email more than `stale_after` past its time is no longer that
/// day's advice, so it is not sent; a milestone is still true later.
pub fn is_stale(
    kind: &str,
    send_at: NaiveDateTime,
    now: NaiveDateTime,
    stale_after: Duration,
) -> bool {
    kind != MILESTONE && now - send_at > stale_after
}

pub fn kind_name(kind: &ReminderKind) -> &'static str {
    match kind {
        ReminderKind::Evening => "evening",
        ReminderKind::Daily => "daily",
        ReminderKind::Milestone => MILESTONE,
    }
}

/// Whether the patient can be emailed at all.
pub fn can_email(patient: &Patient) -> bool {
    patient.email_consent && patient.email.is_some() && patient.unsubscribed_at.is_none()
}

/// A stable, unique Message-ID for one reminder, in the sender's domain.
fn message_id(treatment_id: i64, key: &str, sender: &str) -> String {
    let domain = sender
        .rsplit_once('@')
        .map_or("aftercare.invalid", |(_, d)| d);
    format!(
        "<aftercare.{treatment_id}.{key}.{}@{domain}>",
        &random_token()[..16]
    )
}

fn new_row(
    treatment_id: i64,
    patient: &Patient,
    r: &crate::care::Reminder,
    sender: &str,
    at: Timing,
) -> NewReminder {
    let send_at = r.send_at.naive_utc();
    let now = at.now;
    // A reminder whose time has passed but which is still current (the
    // evening email of a treatment recorded late) is due at once.
    let (state, reason) = if is_stale(kind_name(&r.kind), send_at, now, at.stale_after) {
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
    at: Timing,
) -> AppResult<()> {
    let rows: Vec<NewReminder> = plan
        .reminders
        .iter()
        .map(|r| new_row(treatment_id, patient, r, sender, at))
        .collect();
    outbox::insert_all(conn, &rows)?;
    Ok(())
}

/// Brings an edited treatment's pending reminders in line with its new plan:
/// same key → moved; no longer in the plan → cancelled; new key → added.
/// Rows already sent (or failed, skipped, cancelled) are never touched.
/// A reminder whose new time has passed is moved (and so due at once) while
/// it is still current, by the same stale rule as the worker's.
pub fn reschedule(
    conn: &mut DbConn,
    treatment_id: i64,
    patient: &Patient,
    plan: &Plan,
    sender: &str,
    at: Timing,
) -> AppResult<()> {
    let now = at.now;
    let current = |r: &crate::care::Reminder| {
        !is_stale(
            kind_name(&r.kind),
            r.send_at.naive_utc(),
            now,
            at.stale_after,
        )
    };
    let existing = outbox::for_treatment(conn, treatment_id)?;
    for row in existing.iter().filter(|r| r.status == status::PENDING) {
        match plan.reminders.iter().find(|r| r.key == row.reminder_key) {
            Some(r) if current(r) => {
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
        .filter(|r| is_new(&r.key) && current(r))
        .map(|r| new_row(treatment_id, patient, r, sender, at))
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
pub fn unsubscribe(
    conn: &mut DbConn,
    patient_id: i64,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<bool> {
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

/// What the outbox page asks for: a status and the clinic's calendar days.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    pub status: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub page: i64,
}

/// One email as the outbox lists it.
pub struct OutboxEntry {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub patient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    /// Why it is in its state (an error, a skip or a cancellation).
    pub reason: Option<String>,
    /// When it is (or was) due, in the clinic's zone.
    pub due_local: chrono::DateTime<chrono_tz::Tz>,
    pub retry: Option<RetryAction>,
}

pub struct OutboxPage {
    pub rows: Vec<OutboxEntry>,
    pub counts: Vec<(String, i64)>,
    pub page: i64,
    pub has_more: bool,
}

pub fn outbox_page(conn: &mut DbConn, query: &OutboxQuery, at: Timing) -> AppResult<OutboxPage> {
    if query
        .status
        .as_deref()
        .is_some_and(|s| !status::ALL.contains(&s))
    {
        return Err(AppError::BadRequest("Unknown status filter.".into()));
    }
    let tz = crate::clinic::zone(&crate::clinic::get(conn)?);
    // Day filters are the clinic's calendar days.
    let day_start =
        |d: chrono::NaiveDate| crate::care::schedule::at_local_hour(tz, d, 0).naive_utc();
    let filter = OutboxFilter {
        status: query.status.clone(),
        from: query.from.map(day_start),
        to: query.to.and_then(|d| d.succ_opt()).map(day_start),
    };
    let page = query.page.max(1);
    let mut rows = outbox::outbox(
        conn,
        &filter,
        (page - 1) * OUTBOX_PAGE_SIZE,
        OUTBOX_PAGE_SIZE + 1,
    )?;
    let has_more = rows.len() as i64 > OUTBOX_PAGE_SIZE;
    rows.truncate(OUTBOX_PAGE_SIZE as usize);
    let counts = outbox::counts(conn)?;
    let rows = rows
        .into_iter()
        .map(|(row, patient, treatment_deleted)| OutboxEntry {
            retry: retry_action(&row, at).filter(|_| !treatment_deleted),
            due_local: row.send_at.and_utc().with_timezone(&tz),
            id: row.id,
            treatment_id: row.treatment_id,
            patient_id: row.patient_id,
            patient,
            subject: row.subject,
            status: row.status,
            attempts: row.attempts,
            reason: row.last_error,
        })
        .collect();
    Ok(OutboxPage {
        rows,
        counts,
        page,
        has_more,
    })
}

/// What Retry does with a failed, skipped or cancelled reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Its time is ahead: back in the queue, to go at its own time.
    Restore,
    /// Its time has passed but its advice still holds: send it now.
    SendNow,
    /// A daily email whose day has passed: sending it would give the patient
    /// the wrong day's advice.
    TooLate,
}

impl RetryAction {
    /// The button's label: it says what will happen.
    pub fn label(self) -> &'static str {
        match self {
            RetryAction::Restore => "Restore",
            RetryAction::SendNow => "Send now",
            RetryAction::TooLate => "",
        }
    }
}

/// What Retry would do with this row now; `None` when the row's status has
/// nothing to retry (pending, sending, sent).
pub fn retry_action(row: &ReminderRow, at: Timing) -> Option<RetryAction> {
    if ![status::FAILED, status::SKIPPED, status::CANCELLED].contains(&row.status.as_str()) {
        return None;
    }
    Some(if row.send_at > at.now {
        RetryAction::Restore
    } else if is_stale(&row.kind, row.send_at, at.now, at.stale_after) {
        RetryAction::TooLate
    } else {
        RetryAction::SendNow
    })
}

/// Staff retry a failed, skipped or cancelled reminder: it goes back in the
/// queue at its own time, or now when that has passed and it is still current.
/// A reminder is never sent before its time.
pub fn retry(conn: &mut DbConn, actor: &Actor, id: i64, at: Timing) -> AppResult<RetryAction> {
    let now = at.now;
    write_tx(conn, |conn| {
        let row = outbox::find(conn, id)?.ok_or(AppError::NotFound)?;
        if outbox::treatment_deleted(conn, row.treatment_id)? {
            return Err(AppError::invalid(
                "reminder",
                "This email's treatment was deleted, so it is not sent.",
            ));
        }
        let patient = crate::patients::get(conn, row.patient_id)?;
        if !can_email(&patient) {
            return Err(AppError::invalid(
                "reminder",
                "This patient cannot be emailed (no consent, no email, or they unsubscribed).",
            ));
        }
        let action = retry_action(&row, at).ok_or_else(|| {
            AppError::invalid(
                "reminder",
                "Only a failed, skipped or cancelled email can be tried again.",
            )
        })?;
        let next_attempt_at = match action {
            RetryAction::Restore => row.send_at,
            RetryAction::SendNow => now,
            RetryAction::TooLate => {
                return Err(AppError::invalid(
                    "reminder",
                    &format!(
                    "Not sent: this is the email for day {} of healing, and that day has passed. \
                         Sent now it would give the patient the wrong day's advice; \
                         the email for today goes out as planned.",
                    row.day
                ),
                ))
            }
        };
        if outbox::requeue(conn, id, next_attempt_at, now)? == 0 {
            return Err(AppError::invalid(
                "reminder",
                "Only a failed, skipped or cancelled email can be tried again.",
            ));
        }
        let detail = match action {
            RetryAction::Restore => "restored, to go at its own time",
            _ => "to be sent now",
        };
        audit(
            conn,
            actor,
            "reminder.retried",
            &format!("reminder {id}"),
            &format!("{}: {detail}", row.subject),
            now,
        )?;
        Ok(action)
    })
}

/// Staff cancel a pending or failed reminder.
pub fn cancel(conn: &mut DbConn, actor: &Actor, id: i64, now: NaiveDateTime) -> AppResult<()> {
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
