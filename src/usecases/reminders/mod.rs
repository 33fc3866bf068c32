//! Use cases for reminder emails: writing a treatment's schedule into the
//! outbox (inside the treatment's own transaction), keeping it in step with
//! edits and consent, and the outbox page's actions.
//!
//! A bottom use case: it reads and writes only the outbox, and takes what it
//! needs of patients and treatments as arguments from the use cases above.

use chrono::{Duration, NaiveDateTime};

use crate::care::{Plan, ReminderKind};
use crate::error::{AppError, AppResult};
use crate::mail::reminder::ReminderEmail;
use crate::usecases::audit::{audit, Actor};
use crate::usecases::links::Links;
pub use crate::usecases::store::reminders::Scope;
use crate::usecases::store::reminders::{self as outbox, NewReminder, OutboxFilter, ReminderRow};
pub use crate::usecases::store::reminders::{Job, Status};
use crate::usecases::store::{write_tx, DbConn};

pub const NO_CONSENT: &str = "no consent to aftercare emails";
const PASSED: &str = "its day of healing had passed when it was scheduled";

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
    kind: ReminderKind,
    send_at: NaiveDateTime,
    now: NaiveDateTime,
    stale_after: Duration,
) -> bool {
    kind != ReminderKind::Milestone && now - send_at > stale_after
}

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
        (Status::Skipped, Some(PASSED))
    } else if !recipient.can_be_emailed {
        (Status::Cancelled, Some(NO_CONSENT))
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
    outbox::insert_all(conn, &rows)?;
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
    if outbox::key_taken(conn, treatment_id, &key)? {
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
    outbox::insert(conn, &row)?;
    Ok(true)
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
) -> AppResult<()> {
    let now = at.now;
    let current =
        |r: &crate::care::Reminder| !is_stale(r.kind, r.send_at.naive_utc(), now, at.stale_after);
    let existing = outbox::for_treatment(conn, treatment_id)?;
    // A "send the sheet now" email is not part of the plan: an edit leaves it to go.
    let planned = |r: &&ReminderRow| r.status == Status::Pending && !is_sheet_now(&r.reminder_key);
    for row in existing.iter().filter(planned) {
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
                    &[Status::Pending],
                    Status::Cancelled,
                    "no longer in the plan after an edit",
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
    reason: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(outbox::cancel_pending(conn, scope, reason, now)?)
}

/// After a patient's consent changes: withdrawn → cancel; given → re-open
/// future reminders that were held back for lack of consent.
pub fn consent_changed(
    conn: &mut DbConn,
    recipient: Recipient,
    now: NaiveDateTime,
) -> AppResult<()> {
    if recipient.can_be_emailed {
        outbox::reopen_for_patient(conn, recipient.patient_id, NO_CONSENT, now)?;
    } else {
        outbox::cancel_pending(conn, Scope::Patient(recipient.patient_id), NO_CONSENT, now)?;
    }
    Ok(())
}

/// The email a reminder row stands for (used by the worker and the preview).
pub fn compose_for(
    row: &ReminderRow,
    plan: &Plan,
    clinic: &crate::usecases::clinic::Clinic,
    patient_name: &str,
    links: &Links,
) -> ReminderEmail {
    crate::mail::reminder::compose(
        plan,
        &row.reminder_key,
        is_sheet_now(&row.reminder_key),
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
    rows: &[(&ReminderRow, &Plan)],
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
            key: &row.reminder_key,
            sheet_only: is_sheet_now(&row.reminder_key),
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
pub fn of_treatment(
    conn: &mut DbConn,
    treatment_id: i64,
    reminder_id: i64,
) -> AppResult<ReminderRow> {
    outbox::find(conn, reminder_id)?
        .filter(|r| r.treatment_id == treatment_id)
        .ok_or(AppError::NotFound)
}

/// Why emails are not going out, when the mail settings are wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfigError {
    /// What the worker met, plainly: "the SMTP server's certificate is not
    /// trusted: …" or "the SMTP server refused the user name or password: …".
    pub message: String,
    /// When a worker last met it.
    pub seen_at: NaiveDateTime,
    /// How many emails are held until it is fixed.
    pub held: i64,
}

/// The current SMTP configuration error, if any (the outbox's banner and the
/// System page): the newest one a worker held an email for, unless an email
/// has gone out since (the settings were fixed).
pub fn smtp_config_error(conn: &mut DbConn) -> AppResult<Option<SmtpConfigError>> {
    let Some((message, seen_at, held)) = outbox::held_for_settings(conn)? else {
        return Ok(None);
    };
    let fixed_since = outbox::last_sent_at(conn)?.is_some_and(|sent| sent > seen_at);
    Ok((!fixed_since).then_some(SmtpConfigError {
        message,
        seen_at,
        held,
    }))
}

/// How many emails could not be sent (the start page's warning).
pub fn failed_count(conn: &mut DbConn) -> AppResult<i64> {
    Ok(outbox::counts(conn)?
        .into_iter()
        .find(|(s, _)| *s == Status::Failed)
        .map_or(0, |(_, n)| n))
}

/// How many reminders are in each state, every state named (0 when none).
pub fn count_by_status(conn: &mut DbConn) -> AppResult<Vec<(Status, i64)>> {
    let counts = outbox::counts(conn)?;
    Ok(Status::ALL
        .into_iter()
        .map(|status| {
            let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |c| c.1);
            (status, n)
        })
        .collect())
}

pub const OUTBOX_PAGE_SIZE: i64 = 50;

/// Which emails the outbox lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboxView {
    /// What is still to go (pending, sending, or failed once and waiting to be tried
    /// again), soonest first: the desk's default.
    #[default]
    DueNext,
    /// Everything due on the clinic's today, whatever became of it, in the day's order.
    Today,
    /// Every email, newest first.
    All,
    /// The emails in one state, newest first.
    Only(Status),
}

impl OutboxView {
    /// The states "due next" lists: a failed attempt waiting for its retry is pending.
    pub const UNSENT: [Status; 2] = [Status::Pending, Status::Sending];
}

/// What the outbox page asks for: a view and the clinic's calendar days.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    pub view: OutboxView,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub page: i64,
}

/// Why the outbox offers no button to send an email again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    TreatmentDeleted,
    /// Nothing is left to send to: no button at all.
    PatientErased,
    /// No consent, no address, or unsubscribed: it could only be cancelled.
    CannotBeEmailed,
}

impl Blocked {
    pub fn note(self) -> &'static str {
        match self {
            Blocked::TreatmentDeleted => "Its treatment was deleted: not sent.",
            Blocked::PatientErased => {
                "The patient's data was erased: nothing more is sent to them."
            }
            Blocked::CannotBeEmailed => {
                "The patient cannot be emailed (no consent, no address, or unsubscribed)."
            }
        }
    }
}

/// One email as the outbox and a treatment's page list it.
pub struct ReminderView {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub patient: String,
    pub subject: String,
    pub status: Status,
    pub attempts: i32,
    /// Why it is in its state: what failed, or why it was skipped or cancelled.
    pub reason: Option<String>,
    /// When it is (or was) due, in the clinic's zone.
    pub due_local: chrono::DateTime<chrono_tz::Tz>,
    pub sent_local: Option<chrono::DateTime<chrono_tz::Tz>>,
    /// When the worker tries again, for one that failed and waits to be tried again.
    pub next_try_local: Option<chrono::DateTime<chrono_tz::Tz>>,
    pub retry: Option<RetryAction>,
    pub can_cancel: bool,
    /// Why Retry is not offered when its state would allow it.
    pub blocked: Option<Blocked>,
}

impl ReminderView {
    fn new(
        row: ReminderRow,
        patient: String,
        blocked: Option<Blocked>,
        tz: chrono_tz::Tz,
        at: Timing,
    ) -> ReminderView {
        let local = |t: NaiveDateTime| t.and_utc().with_timezone(&tz);
        let retry = retry_action(&row, at);
        // Only a reason that hides a button the row's state would offer is worth saying.
        let blocked = blocked.filter(|_| retry.is_some() || row.status == Status::Failed);
        let cancellable = [Status::Pending, Status::Failed].contains(&row.status);
        ReminderView {
            retry: retry.filter(|_| blocked.is_none()),
            can_cancel: cancellable && blocked != Some(Blocked::PatientErased),
            blocked,
            due_local: local(row.send_at),
            sent_local: row.sent_at.map(local),
            next_try_local: (row.status == Status::Pending && row.attempts > 0)
                .then(|| local(row.next_attempt_at)),
            id: row.id,
            treatment_id: row.treatment_id,
            patient_id: row.patient_id,
            patient,
            subject: row.subject,
            status: row.status,
            attempts: row.attempts,
            reason: row.last_error.or(row.reason),
        }
    }
}

pub struct OutboxPage {
    /// Why nothing is going out, shown above the list.
    pub config_error: Option<SmtpConfigError>,
    pub rows: Vec<ReminderView>,
    pub counts: Vec<(Status, i64)>,
    /// The clinic's calendar day now (the Today view's).
    pub today: chrono::NaiveDate,
    pub page: i64,
    pub has_more: bool,
}

impl OutboxPage {
    /// How many emails are in one of these states.
    pub fn count_of(&self, statuses: &[Status]) -> i64 {
        self.counts
            .iter()
            .filter(|(s, _)| statuses.contains(s))
            .map(|(_, n)| n)
            .sum()
    }
}

pub fn outbox_page(conn: &mut DbConn, query: &OutboxQuery, at: Timing) -> AppResult<OutboxPage> {
    use crate::usecases::store::reminders::OutboxOrder;
    let tz = crate::usecases::clinic::get(conn)?.zone();
    let today = at.now.and_utc().with_timezone(&tz).date_naive();
    // Day filters are the clinic's calendar days.
    let day_start =
        |d: chrono::NaiveDate| crate::care::schedule::at_local_hour(tz, d, 0).naive_utc();
    let (from, to) = match query.view {
        OutboxView::Today => (Some(today), Some(today)),
        _ => (query.from, query.to),
    };
    let (statuses, order) = match query.view {
        OutboxView::DueNext => (OutboxView::UNSENT.to_vec(), OutboxOrder::NextAttemptFirst),
        OutboxView::Today => (Vec::new(), OutboxOrder::EarliestFirst),
        OutboxView::All => (Vec::new(), OutboxOrder::NewestFirst),
        OutboxView::Only(status) => (vec![status], OutboxOrder::NewestFirst),
    };
    let filter = OutboxFilter {
        statuses,
        from: from.map(day_start),
        to: to.and_then(|d| d.succ_opt()).map(day_start),
        order,
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
        .map(|(row, patient, treatment_deleted)| {
            let blocked = if patient.is_erased() {
                Some(Blocked::PatientErased)
            } else if treatment_deleted {
                Some(Blocked::TreatmentDeleted)
            } else if !patient.can_be_emailed() {
                Some(Blocked::CannotBeEmailed)
            } else {
                None
            };
            ReminderView::new(row, patient.name, blocked, tz, at)
        })
        .collect();
    Ok(OutboxPage {
        config_error: smtp_config_error(conn)?,
        rows,
        counts,
        today,
        page,
        has_more,
    })
}

/// A treatment's reminders, in the zone it was recorded in.
pub fn for_treatment(
    conn: &mut DbConn,
    treatment_id: i64,
    patient: &str,
    tz: chrono_tz::Tz,
    at: Timing,
) -> AppResult<Vec<ReminderView>> {
    Ok(outbox::for_treatment(conn, treatment_id)?
        .into_iter()
        .map(|row| ReminderView::new(row, patient.to_string(), None, tz, at))
        .collect())
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
    if ![Status::Failed, Status::Skipped, Status::Cancelled].contains(&row.status) {
        return None;
    }
    Some(if row.send_at > at.now {
        RetryAction::Restore
    } else if is_stale(row.kind, row.send_at, at.now, at.stale_after) {
        RetryAction::TooLate
    } else {
        RetryAction::SendNow
    })
}

fn refused(message: &str) -> AppError {
    AppError::invalid("reminder", message)
}

/// Staff retry a failed, skipped or cancelled reminder: it goes back in the
/// queue at its own time, or now when that has passed and it is still current.
/// A reminder is never sent before its time.
pub fn retry(conn: &mut DbConn, actor: &Actor, id: i64, at: Timing) -> AppResult<RetryAction> {
    let now = at.now;
    write_tx(conn, |conn| {
        let (row, deliverable) =
            outbox::find_with_recipient(conn, id)?.ok_or(AppError::NotFound)?;
        if deliverable.treatment_deleted {
            return Err(refused(
                "This email's treatment was deleted, so it is not sent.",
            ));
        }
        if deliverable.patient_erased {
            return Err(refused(Blocked::PatientErased.note()));
        }
        if !deliverable.patient_can_be_emailed {
            return Err(refused(
                "This patient cannot be emailed (no consent, no email, or they unsubscribed).",
            ));
        }
        let only_these = "Only a failed, skipped or cancelled email can be tried again.";
        let action = retry_action(&row, at).ok_or_else(|| refused(only_these))?;
        let next_attempt_at = match action {
            RetryAction::Restore => row.send_at,
            RetryAction::SendNow => now,
            RetryAction::TooLate => {
                return Err(refused(&format!(
                    "Not sent: this is the email for day {} of healing, and that day has passed. \
                     Sent now it would give the patient the wrong day's advice; \
                     the email for today goes out as planned.",
                    row.day
                )))
            }
        };
        if outbox::requeue(conn, id, next_attempt_at, now)? == 0 {
            return Err(refused(only_these));
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
        let from = [Status::Pending, Status::Failed];
        if outbox::finish(conn, id, &from, Status::Cancelled, &reason, now)? == 0 {
            return Err(refused("Only a pending or failed email can be cancelled."));
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

mod worker;
pub use worker::*;

// --- a patient's records, and how long they are kept ------------------------------

pub use crate::usecases::store::reminders::ReminderRow as Reminder;

/// Every reminder of a patient (an export's), in the order they were due.
pub fn of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<Reminder>> {
    Ok(outbox::for_patient(conn, patient_id)?)
}

/// How many of a patient's reminders are still to go.
pub fn pending_count(conn: &mut DbConn, patient_id: i64) -> AppResult<i64> {
    Ok(outbox::pending_count(conn, patient_id)?)
}

/// Rewrites what mail servers said about a patient's reminders (their replies may quote the
/// address): `scrub` gets each message and answers it as it should be.
pub fn scrub_errors(
    conn: &mut DbConn,
    patient_id: i64,
    scrub: impl Fn(&str) -> String,
) -> AppResult<()> {
    for row in outbox::for_patient(conn, patient_id)? {
        if let Some(error) = &row.last_error {
            let scrubbed = scrub(error);
            if scrubbed != *error {
                outbox::set_last_error(conn, row.id, &scrubbed)?;
            }
        }
    }
    Ok(())
}

/// Deletes up to `limit` records of emails sent, failed, skipped or cancelled, of plans whose
/// last email was due before `before` (the retention setting). Pending ones stay.
pub fn prune_finished(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> AppResult<usize> {
    Ok(outbox::delete_finished_before(conn, before, limit)?)
}
