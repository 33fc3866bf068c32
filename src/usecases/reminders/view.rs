//! One email as staff see it in a list (the outbox, a treatment's page): its times in the
//! clinic's zone, and the buttons its state allows, with why one is not offered.

use chrono::NaiveDateTime;

use super::{is_stale, Status, Timing};
use crate::usecases::store::reminders::ReminderRow;

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
    /// Its treatment's location, when the clinic has several (the outbox names it).
    pub location: String,
}

impl ReminderView {
    pub(super) fn new(
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
            location: String::new(),
        }
    }
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
pub(super) fn retry_action(row: &ReminderRow, at: Timing) -> Option<RetryAction> {
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
