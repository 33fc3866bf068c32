//! Use cases for reminder emails: writing a treatment's schedule into the
//! outbox (inside the treatment's own transaction), keeping it in step with
//! edits and consent, and the outbox page's actions.
//!
//! A bottom use case: it reads and writes only the outbox, and takes what it
//! needs of patients and treatments as arguments from the use cases above.
//!
//! In parts: `schedule` (a treatment's schedule written, moved with edits and consent, and
//! "send the sheet now"), `outbox` (the outbox page's lists, Retry and Cancel; `view`, how one
//! email shows there), `compose` (the email a row stands for), `worker` (the worker's claim
//! and outcomes) and `records` (a patient's reminders as records, and retention).

mod compose;
mod outbox;
mod records;
mod schedule;
mod view;
mod worker;

use chrono::{Duration, NaiveDateTime};

use crate::care::ReminderKind;
/// Why an email was cancelled, skipped or held.
pub use crate::usecases::store::reminders::Reason;
pub use compose::{compose_for, compose_group, of_treatment};
pub use outbox::{
    cancel, count_by_status, count_by_status_at, failed_count, for_treatment, outbox_page, retry,
    smtp_config_error, OutboxPage, OutboxQuery, OutboxView, SmtpConfigError, OUTBOX_PAGE_SIZE,
};
pub use records::{of_patient, pending_count, prune_finished, scrub_errors, Reminder};
pub use schedule::{
    cancel_pending, consent_changed, is_sheet_now, queue_sheet_now, reschedule, schedule, Change,
    Recipient, SHEET_NOW,
};
pub use view::{Blocked, ReminderView, RetryAction};
pub use worker::*;

pub use crate::usecases::store::reminders::{Scope, Status};

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
