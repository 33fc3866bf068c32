//! A treatment's schedule in the outbox: written inside the treatment's own transaction,
//! brought in line with an edit, cancelled or re-opened as consent changes; and the "send the
//! sheet now" email, queued once per click.

use chrono::NaiveDateTime;

use super::{is_stale, Reason, Status, Timing};
use crate::care::{Plan, ReminderKind};
use crate::error::AppResult;
use crate::usecases::store::reminders::{self as store, NewReminder, ReminderRow, Scope};
use crate::usecases::store::DbConn;

/// Whom a treatment's reminders are for, as scheduling needs to know them.
#[derive(Debug, Clone, Copy)]
pub struct Recipient {
    pub patient_id: i64,
    /// Consented, has an address, has not unsubscribed.
    pub can_be_emailed: bool,
}

/// A stable, unique Message-ID for one reminder, in the sender's domain.
fn message_id(treatment_id: i64, key: &str, sender: &str) -> String {
    crate::mail::message_id(&format!("{treatment_id}.{key}"), sender)
}

fn new_row(
    treatment_id: i64,
    recipient: Recipient,
    r: &crate::care::Reminder,
    sender: &str,
    at: Timing,
) -> NewReminder {
    // A reminder whose time has passed but which is still current (the
    // evening email of a treatment recorded late) is due at once.
    let (status, reason) = if is_stale(r.kind, r.send_at.naive_utc(), at.now, at.stale_after) {
        (Status::Skipped, Some(&Reason::PassedWhenScheduled))
    } else if !recipient.can_be_emailed {
        (Status::Cancelled, Some(&Reason::NoConsent))
    } else {
        (Status::Pending, None)
    };
    let message_id = message_id(treatment_id, &r.key, sender);
    NewReminder::new(
        treatment_id,
        recipient.patient_id,
        r,
        status,
        reason,
        message_id,
        at.now,
    )
}

/// Writes a new treatment's whole schedule. Call inside the treatment's transaction.
pub fn schedule(
    conn: &mut DbConn,
    treatment_id: i64,
    recipient: Recipient,
    plan: &Plan,
    sender: &str,
    at: Timing,
) -> AppResult<()> {
    insert(
        conn,
        treatment_id,
        recipient,
        plan.reminders.iter(),
        sender,
        at,
    )
}

/// Writes these reminders of a treatment into the outbox, in one statement.
fn insert<'a>(
    conn: &mut DbConn,
    treatment_id: i64,
    recipient: Recipient,
    reminders: impl Iterator<Item = &'a crate::care::Reminder>,
    sender: &str,
    at: Timing,
) -> AppResult<()> {
    let rows: Vec<NewReminder> = reminders
        .map(|r| new_row(treatment_id, recipient, r, sender, at))
        .collect();
    store::insert_all(conn, &rows)?;
    Ok(())
}

/// The key prefix of a "send the sheet now" email. Each click carries its own
/// nonce after it, so a click's form sent twice (a double click, a browser
/// resend) queues one email and each new click one more.
pub use crate::usecases::store::reminders::SHEET_NOW;

/// Whether a reminder key is a "send the sheet now" email (not part of the plan).
pub fn is_sheet_now(key: &str) -> bool {
    key.starts_with(SHEET_NOW)
}

/// Queues the email with the sheet's link, due now. Call inside the caller's
/// transaction, with a patient who may be emailed. `click` names the click
/// (a nonce from the page, or "record" for the form's option). Returns false
/// when that click was already queued.
pub fn queue_sheet_now(
    conn: &mut DbConn,
    treatment_id: i64,
    recipient: Recipient,
    subject: &str,
    sender: &str,
    click: &str,
    at: Timing,
) -> AppResult<bool> {
    let key = format!("{SHEET_NOW}-{click}");
    if store::key_taken(conn, treatment_id, &key)? {
        return Ok(false);
    }
    let message_id = message_id(treatment_id, &key, sender);
    let row = NewReminder {
        treatment_id,
        patient_id: recipient.patient_id,
        reminder_key: key,
        // A milestone is never stale: the link is as good an hour late.
        kind: ReminderKind::Milestone.as_str(),
        day: 0,
        subject: subject.to_string(),
        send_at: at.now,
        next_attempt_at: at.now,
        status: Status::Pending.as_str(),
        reason: None,
        message_id,
        updated_at: at.now,
    };
    store::insert(conn, &row)?;
    Ok(true)
}

/// Why a treatment's schedule changes: what becomes of a pending reminder whose new time is
/// past for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The treatment was edited: cancelled, no longer in the plan.
    Edited,
    /// Its location's zone or send hour changed: skipped, as the worker skips stale mail.
    Retimed,
}

/// Brings an edited treatment's pending reminders in line with its new plan:
/// same key → moved; no longer in the plan → cancelled; new key → added.
/// Rows already sent (or failed, skipped, cancelled) are never touched.
/// A reminder whose new time has passed is moved (and so due at once) while
/// it is still current, by the same stale rule as the worker's.
pub fn reschedule(
    conn: &mut DbConn,
    treatment_id: i64,
    recipient: Recipient,
    plan: &Plan,
    sender: &str,
    at: Timing,
    change: Change,
) -> AppResult<()> {
    let now = at.now;
    let current =
        |r: &crate::care::Reminder| !is_stale(r.kind, r.send_at.naive_utc(), now, at.stale_after);
    let existing = store::for_treatment(conn, treatment_id)?;
    // A "send the sheet now" email is not part of the plan: an edit leaves it to go.
    let planned = |r: &&ReminderRow| r.status == Status::Pending && !is_sheet_now(&r.reminder_key);
    for row in existing.iter().filter(planned) {
        match plan.reminders.iter().find(|r| r.key == row.reminder_key) {
            Some(r) if current(r) => {
                store::reschedule(
                    conn,
                    row.id,
                    r.send_at.naive_utc(),
                    &r.subject,
                    r.day as i32,
                    now,
                )?;
            }
            Some(_) if change == Change::Retimed => {
                let reason = Reason::PassedWhenRetimed;
                store::finish(
                    conn,
                    row.id,
                    &[Status::Pending],
                    Status::Skipped,
                    &reason,
                    now,
                )?;
            }
            _ => {
                store::cancel(
                    conn,
                    row.id,
                    &[Status::Pending],
                    &Reason::NoLongerInPlan,
                    now,
                )?;
            }
        }
    }
    let is_new = |key: &str| {
        !existing
            .iter()
            .any(|row| row.reminder_key == key && row.status != Status::Cancelled)
    };
    let added = plan
        .reminders
        .iter()
        .filter(|r| is_new(&r.key) && current(r));
    insert(conn, treatment_id, recipient, added, sender, at)
}

/// Cancels every pending reminder of a treatment (deleted) or a patient
/// (unsubscribed), with the reason.
pub fn cancel_pending(
    conn: &mut DbConn,
    scope: Scope,
    reason: &Reason,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(store::cancel_pending(conn, scope, reason, now)?)
}

/// After a patient's consent changes: withdrawn → cancel; given → re-open
/// future reminders that were held back for lack of consent.
pub fn consent_changed(
    conn: &mut DbConn,
    recipient: Recipient,
    now: NaiveDateTime,
) -> AppResult<()> {
    if recipient.can_be_emailed {
        store::reopen_for_patient(conn, recipient.patient_id, &Reason::NoConsent, now)?;
    } else {
        store::cancel_pending(
            conn,
            Scope::Patient(recipient.patient_id),
            &Reason::NoConsent,
            now,
        )?;
    }
    Ok(())
}
