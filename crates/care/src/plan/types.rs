//! The plan: the one value a treatment's sheet, emails and check-ins are rendered from.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::protocol::Urgency;

use super::input::Tailoring;

/// One point in time, as the clinic's clock showed it and as a UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    pub local: NaiveDateTime,
    pub utc: DateTime<Utc>,
}

/// The patient's whole aftercare plan: the one value the sheet, the emails and the API render
/// from. It is stored with the treatment, so it is self-contained: every text is copied in from
/// the protocol, and a reprint years later shows what the patient was given even if the protocol
/// has changed since.
///
/// Fields added after protocol version 1 default to empty, so a plan stored under version 1 still
/// reads back, and renders as it did: an empty list or text is simply not shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub protocol_name: String,
    /// The protocol version the plan was computed with ("2"; "2026.1" for version 1 plans).
    pub protocol_version: String,
    /// Shown at the foot of the sheet and of every email.
    #[serde(default)]
    pub disclaimer: String,
    /// What to do tonight: in the evening email and on the sheet, whatever the treatment time.
    #[serde(default)]
    pub tonight: Vec<String>,
    /// Plans stored before normal signs had windows: the "What is normal" box, on the sheet
    /// and in the first `normal_emails` emails. Empty in later plans (see `normal_signs`).
    #[serde(default)]
    pub normal: Vec<String>,
    #[serde(default)]
    pub normal_emails: u32,
    /// "What is normal", each sign with its last normal day: an email shows the signs still in
    /// their window on its day. Empty in plans stored before windows existed.
    #[serde(default)]
    pub normal_signs: Vec<NormalSign>,
    /// What to avoid for a set time whatever the phase (heat and sweat, waxing …), with its end.
    /// The same items are also in the avoid list of every phase they cover.
    #[serde(default)]
    pub avoid_until: Vec<AvoidUntil>,
    /// The band of the deepest depth recorded.
    pub band: PlanBand,
    /// The clinic's zone, stored as its IANA name ("Europe/London"): a stored name that is not
    /// a zone is an error when the plan is read, never a silent UTC.
    pub time_zone: Tz,
    pub send_hour: u32,
    pub treated_at: Moment,
    pub areas: Vec<PlanArea>,
    /// Contiguous: the first starts at `treated_at`, each starts where the one before ends.
    pub phases: Vec<Phase>,
    pub actives: Vec<ActiveReturn>,
    /// Class notes once per class, then each area's own notes, in the order areas were given.
    pub area_notes: Vec<AreaNotes>,
    /// Whether emails carry the area notes of their day (plans from protocol version 3 on).
    /// Plans stored before are sent as they were written, without them.
    #[serde(default)]
    pub area_notes_in_emails: bool,
    pub red_flags: RedFlagList,
    pub next_session: NextSession,
    /// When the healing phases are over: the start of the last phase (the results phase).
    pub healed_by: Moment,
    /// Sorted by `send_at`; every `send_at` is unique and after the treatment.
    pub reminders: Vec<Reminder>,
    /// The tailoring this plan was computed with (empty before tailoring existed).
    #[serde(default, skip_serializing_if = "Tailoring::is_empty")]
    pub tailoring: Tailoring,
    /// Every restriction whose length differs from the protocol's default, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjusted: Vec<Adjusted>,
    /// Texts that add-ons and considerations put into phases: marked "Adjusted for you".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_items: Vec<String>,
    /// Notes of the add-ons and considerations, once each, under their label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_notes: Vec<AreaNotes>,
    /// The clock changes between the treatment and the end of the last phase, so the sheet and
    /// emails can say why later times read shifted (review L9). Empty in plans stored before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clock_changes: Vec<ClockChange>,
}

/// A sign that is normal up to a day of healing (redness, a tight feeling …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalSign {
    pub id: String,
    /// As the "What is normal" box shows it.
    pub text: String,
    /// Local calendar days after the treatment day: normal up to and including this day.
    pub last_day: u32,
    /// The check-in's label past the window, its day filled in.
    pub past_text: String,
    /// How a tick past the window triages: tell-us or call-now.
    pub past_urgency: Urgency,
    /// The red flag, as the plan words it, that names this sign's last day ("redness that has
    /// not faded by the end of day 2"), when it is at least as urgent: past the window the
    /// check-in offers that flag alone rather than both. None in plans stored before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_flag: Option<String>,
}

/// A daylight-saving (or other) change of the clinic's clocks while the skin heals: phase
/// boundaries after it read shifted on the clock, though the healing time is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockChange {
    /// When the clocks changed (the local time is the one after the change).
    pub at: Moment,
    /// How far the clocks moved: +60 forward, -60 back.
    pub minutes: i32,
}

/// A restriction this plan changed: from the default to `value`, by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjusted {
    /// A timed_avoid id, or `active-<id>` as in [`ActiveReturn::key`].
    pub key: String,
    pub label: String,
    pub unit: Unit,
    pub default: u32,
    pub value: u32,
    /// Whatever set the final length.
    pub by: SetBy,
    /// A timed restriction's items, as in [`Plan::avoid_until`]; empty for an active, whose
    /// label is its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// What set an adjusted restriction's length. Stored in plans as the text the audit log
/// shows ("practitioner", "add-on <id>", "consideration <id>", "one active a week", "not
/// before the acids"); a plan naming anything else does not load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SetBy {
    /// The practitioner chose it on the form.
    Practitioner,
    /// An add-on of the session asks for at least this long.
    AddOn(String),
    /// A skin consideration of the patient asks for at least this long.
    Consideration(String),
    /// Actives come back one a week, so two never start on the same day.
    OneActiveAWeek,
    /// A restriction kept until the acids are back (the protocol's decision).
    NotBeforeTheAcids,
}

impl std::fmt::Display for SetBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetBy::Practitioner => f.write_str("practitioner"),
            SetBy::AddOn(id) => write!(f, "add-on {id}"),
            SetBy::Consideration(id) => write!(f, "consideration {id}"),
            SetBy::OneActiveAWeek => f.write_str("one active a week"),
            SetBy::NotBeforeTheAcids => f.write_str("not before the acids"),
        }
    }
}

impl From<SetBy> for String {
    fn from(by: SetBy) -> String {
        by.to_string()
    }
}

impl TryFrom<String> for SetBy {
    type Error = String;

    fn try_from(text: String) -> Result<SetBy, String> {
        Ok(match text.as_str() {
            "practitioner" => SetBy::Practitioner,
            "one active a week" => SetBy::OneActiveAWeek,
            "not before the acids" => SetBy::NotBeforeTheAcids,
            _ => match text.split_once(' ') {
                Some(("add-on", id)) => SetBy::AddOn(id.to_string()),
                Some(("consideration", id)) => SetBy::Consideration(id.to_string()),
                _ => return Err(format!("unknown setter of a length: {text:?}")),
            },
        })
    }
}

/// What a restriction's length is counted in: a timed restriction in hours after the
/// treatment, an active in days. Stored in plans as "hours" or "days".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Hours,
    Days,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::Days => "days",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBand {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanArea {
    pub id: String,
    pub label: String,
    pub depth_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub id: String,
    pub name: String,
    pub starts_at: Moment,
    /// Exclusive: the next phase starts at this moment.
    pub ends_at: Moment,
    /// What the skin does.
    pub skin: String,
    pub do_items: Vec<String>,
    pub avoid_items: Vec<String>,
    /// The email headline ("gentle cleansing and SPF").
    pub headline: String,
}

/// Things to avoid until a moment, e.g. saunas until 72 hours after the treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvoidUntil {
    pub until: Moment,
    pub items: Vec<String>,
}

/// An active's key, `active-<id>`: in [`ActiveReturn::key`], [`Adjusted::key`], a reminder's
/// milestones and the practitioner's adjustments.
pub(super) fn active_key(id: &str) -> String {
    format!("active-{id}")
}

/// When an active may come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveReturn {
    /// `active-<id>`, as in [`Reminder::milestones`].
    pub key: String,
    pub name: String,
    /// Local calendar days after the treatment day.
    pub day: u32,
    /// The local date from which it may come back.
    pub from: NaiveDate,
    /// How to bring it back.
    pub how: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaNotes {
    /// The class label ("Body") for class notes, the area label ("Around the eyes") otherwise.
    pub label: String,
    pub notes: Vec<String>,
    /// Emails carry these notes on days 0 to this day; none: every email (and every note of a
    /// plan stored before emails carried them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<u32>,
}

/// Red flags. Version 1 plans have one list (`intro`, `items`); later ones have `groups`, most
/// urgent first, and leave the single list empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedFlagList {
    #[serde(default)]
    pub intro: String,
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub groups: Vec<RedFlagGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedFlagGroup {
    pub urgency: Urgency,
    /// May contain `{emergency_number}`, filled in with the clinic's number when shown.
    pub title: String,
    pub items: Vec<String>,
}

/// The window for booking the next session, as local dates (inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextSession {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReminderKind {
    /// The evening of the treatment: the sheet and the night-one rules.
    Evening,
    /// A morning email while the skin heals; may also announce milestones.
    Daily,
    /// A day with only milestones.
    Milestone,
}

impl ReminderKind {
    /// The name the outbox stores.
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::Evening => "evening",
            ReminderKind::Daily => "daily",
            ReminderKind::Milestone => "milestone",
        }
    }
}

/// Compares with a stored name (tests read rows as the outbox stores them).
impl PartialEq<&str> for ReminderKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// How a stored kind is read: an unknown one is an error, never a guess.
impl TryFrom<String> for ReminderKind {
    type Error = String;
    fn try_from(text: String) -> Result<ReminderKind, String> {
        [
            ReminderKind::Evening,
            ReminderKind::Daily,
            ReminderKind::Milestone,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| format!("unknown reminder kind {text:?}"))
    }
}

/// One email to send. Emails that fall on the same local day are merged into one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reminder {
    /// Stable and unique within a plan: "evening", "day-N" for morning emails, otherwise the key
    /// of its first milestone ("active-retinoids", "results", "next-session").
    pub key: String,
    pub kind: ReminderKind,
    /// Local calendar days after the treatment day.
    pub day: u32,
    pub send_at: DateTime<Utc>,
    /// The phase the patient is in at `send_at`.
    pub phase_id: String,
    pub subject: String,
    /// What this email announces: `active-<id>` (see [`Plan::actives`]), "results" (the last
    /// phase begins) and "next-session" (see [`Plan::next_session`]).
    pub milestones: Vec<String>,
}
