//! The reminder outbox: a reminder's row and state, and the two plain reads every part needs.
//! Writing a schedule and cancelling it (`schedule`), the worker's claim and its outcomes
//! (`worker`), the outbox page's queries (`outbox`), and a patient's records and how long they
//! are kept (`records`) are apart.

mod outbox;
mod records;
mod schedule;
mod worker;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::reminders;
use super::DbConn;
use crate::care::ReminderKind;
pub use outbox::{
    counts, find_with_recipient, held_for_settings, last_sent_at, outbox, requeue, OutboxFilter,
    OutboxOrder,
};
pub use records::{delete_finished_before, for_patient, pending_count, set_last_error};
pub use schedule::{
    cancel, cancel_pending, finish, insert, insert_all, key_taken, reopen_for_patient, reschedule,
    Scope,
};
pub use worker::{
    claim, finish_claimed, hold, load_jobs, mark_retry, mark_sent, oldest_due, release, renew, Job,
};

/// A reminder's state. `Sending` carries a lease; an expired lease makes the
/// row claimable again. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Sending,
    Sent,
    Failed,
    Skipped,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Sending,
        Status::Sent,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with a stored name (tests read rows as the outbox stores them).
impl PartialEq<&str> for Status {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// How a stored status is read: an unknown one is an error, never a guess.
impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(text: String) -> Result<Status, String> {
        Status::parse(&text).ok_or_else(|| format!("unknown reminder status {text:?}"))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = reminders)]
pub struct ReminderRow {
    pub id: i64,
    pub treatment_id: i64,
    pub patient_id: i64,
    pub reminder_key: String,
    #[diesel(deserialize_as = String)]
    pub kind: ReminderKind,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    pub attempts: i32,
    /// What the mail server or the message builder last said.
    pub last_error: Option<String>,
    /// Why the row is cancelled or skipped.
    pub reason: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub message_id: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reminders, treat_none_as_default_value = false)]
pub struct NewReminder {
    pub treatment_id: i64,
    pub patient_id: i64,
    pub reminder_key: String,
    pub kind: &'static str,
    pub day: i32,
    pub subject: String,
    pub send_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub status: &'static str,
    pub reason: Option<String>,
    pub message_id: String,
    pub updated_at: NaiveDateTime,
}

impl NewReminder {
    pub fn new(
        treatment_id: i64,
        patient_id: i64,
        r: &crate::care::Reminder,
        status: Status,
        reason: Option<&Reason>,
        message_id: String,
        now: NaiveDateTime,
    ) -> NewReminder {
        let send_at = r.send_at.naive_utc();
        NewReminder {
            treatment_id,
            patient_id,
            reminder_key: r.key.clone(),
            kind: r.kind.as_str(),
            day: r.day as i32,
            subject: r.subject.clone(),
            send_at,
            next_attempt_at: send_at,
            status: status.as_str(),
            reason: reason.map(|r| r.stored().into_owned()),
            message_id,
            updated_at: now,
        }
    }
}

fn names(statuses: &[Status]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// Why an email was cancelled, skipped or held rather than sent. Stored in its row's `reason`
/// as the sentence staff read in the outbox: [`Reason::stored`] is the one mapping, and the
/// reasons the app looks rows up by (consent, held for the settings) are compared through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No consent to aftercare emails (re-opened if the patient gives it).
    NoConsent,
    Unsubscribed,
    TreatmentDeleted,
    /// The patient's data was erased at their request.
    Erased,
    /// An edit of the treatment took it out of the plan.
    NoLongerInPlan,
    /// Its day of healing had passed when it was scheduled.
    PassedWhenScheduled,
    /// Its location's new time zone or send hour would have sent it too late.
    PassedWhenRetimed,
    /// The worker found it this many hours late (the app was not sending).
    Late {
        hours: i64,
    },
    /// Cancelled by a member of staff, as the audit log names them.
    CancelledBy(String),
    /// Held for a configuration error (the error itself is in `last_error`). Sending, failing
    /// or cancelling it replaces it.
    HeldForSettings,
}

impl Reason {
    pub fn stored(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Reason::NoConsent => "no consent to aftercare emails".into(),
            Reason::Unsubscribed => "the patient unsubscribed".into(),
            Reason::TreatmentDeleted => "the treatment was deleted".into(),
            Reason::Erased => "the patient's data was erased at their request".into(),
            Reason::NoLongerInPlan => "no longer in the plan after an edit".into(),
            Reason::PassedWhenScheduled => {
                "its day of healing had passed when it was scheduled".into()
            }
            Reason::PassedWhenRetimed => {
                "its location's new send time had passed for its day of healing; skipped so \
                 the next reminder goes on time"
                    .into()
            }
            Reason::Late { hours } => format!(
                "{} late (the app was not sending); skipped so the next reminder goes on time",
                crate::words::counted(*hours, "hour")
            )
            .into(),
            Reason::CancelledBy(who) => format!("cancelled by {who}").into(),
            Reason::HeldForSettings => "held until the mail settings are fixed".into(),
        }
    }
}

/// The key prefix of a "send the sheet now" email (see `usecases::reminders`).
pub const SHEET_NOW: &str = "sheet-now";

pub fn for_treatment(conn: &mut DbConn, treatment_id: i64) -> QueryResult<Vec<ReminderRow>> {
    reminders::table
        .filter(reminders::treatment_id.eq(treatment_id))
        .order((reminders::send_at.asc(), reminders::id.asc()))
        .select(ReminderRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<ReminderRow>> {
    reminders::table
        .find(id)
        .select(ReminderRow::as_select())
        .get_result(conn)
        .optional()
}
