//! From a treatment and a protocol to the patient's whole aftercare plan.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::protocol::{
    format_mm, sign_day_refs, NormalSignSpec, Protocol, Tailor, Urgency, DAY, GAP, MAX_DEPTH_MM,
    MIN_DEPTH_MM, TONIGHT,
};
use super::schedule::{at_local_hour, offset_changes, utc_to_local};

/// Treatments outside these years are refused: far outside any real use, and the bound keeps
/// every date computed from them safely inside chrono's range.
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2200;

/// What was done, as the practitioner records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreatmentInput {
    pub areas: Vec<TreatedArea>,
    /// Local wall time in the clinic's zone.
    pub treated_at: NaiveDateTime,
    /// IANA zone of the clinic, e.g. "Europe/London".
    pub time_zone: String,
    /// Local hour (0..=23) at which the clinic's reminder emails go out.
    pub send_hour: u32,
    /// What the practitioner tailored for this session; empty for an untailored plan.
    #[serde(default, skip_serializing_if = "Tailoring::is_empty")]
    pub tailoring: Tailoring,
}

/// How a practitioner tailored one plan, kept in the plan so a reprint shows exactly this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tailoring {
    /// Restriction key (a timed_avoid id, or `active-<id>`) → hours or days chosen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub adjustments: BTreeMap<String, u32>,
    /// Add-on ids, in protocol order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_ons: Vec<String>,
    /// Consideration ids, in protocol order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub considerations: Vec<String>,
    /// Plain text for the patient, shown under "From your practitioner".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub patient_note: String,
}

impl Tailoring {
    pub fn is_empty(&self) -> bool {
        *self == Tailoring::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreatedArea {
    pub area_id: String,
    pub depth_mm: f64,
}

/// Why a treatment cannot be planned. [`PlanError::field`] names the input field for the form.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("choose at least one treated area")]
    NoAreas,
    #[error("\"{id}\" is not an area in the protocol")]
    UnknownArea { index: usize, id: String },
    #[error("\"{id}\" is listed twice; give each area once with its deepest depth")]
    DuplicateArea { index: usize, id: String },
    #[error(
        "needle depth {} mm must be between {} and {} mm",
        format_mm(*.depth),
        format_mm(MIN_DEPTH_MM),
        format_mm(MAX_DEPTH_MM)
    )]
    DepthOutOfRange { index: usize, depth: f64 },
    #[error("\"{0}\" is not a known time zone (use an IANA name such as Europe/London)")]
    UnknownTimeZone(String),
    /// The local time does not exist in the zone: the clocks jump over it. Refused rather than
    /// shifted, because a treatment cannot happen at a time the clinic's clock never showed, so
    /// it is a typo, and silently moving it would store a time nobody entered.
    #[error("{local} does not exist in {zone}: the clocks skip it for daylight saving")]
    TreatedAtSkipped { local: NaiveDateTime, zone: String },
    #[error("the treatment date must be between {FIRST_YEAR} and {LAST_YEAR}")]
    TreatedAtOutOfRange,
    #[error("send hour {0} must be between 0 and 23")]
    SendHour(u32),
    #[error("\"{0}\" cannot be adjusted in this protocol")]
    NotAdjustable(String),
    #[error("choose from {min} to {max} {unit} (the default is {default})")]
    AdjustmentOutOfRange {
        key: String,
        min: u32,
        max: u32,
        default: u32,
        unit: &'static str,
    },
    /// Each choice is in range, but with a week between actives one would come back so late
    /// that its email would go out after the plan ends. `field` is the practitioner's choice to
    /// change (or `add_ons` when only add-ons and considerations moved the actives).
    #[error(
        "with a week between products, {name} would come back on day {day}, but this plan \
         can bring products back until day {last} at the latest: choose an earlier day"
    )]
    ActivesPastPlanEnd {
        field: String,
        name: String,
        day: u32,
        last: u32,
    },
    #[error("\"{0}\" is not a session add-on in the protocol")]
    UnknownAddOn(String),
    #[error("\"{0}\" is not a skin consideration in the protocol")]
    UnknownConsideration(String),
}

impl PlanError {
    /// The input field at fault, e.g. `areas`, `areas[1].depth_mm`, `time_zone`, `treated_at`,
    /// `send_hour`.
    pub fn field(&self) -> String {
        match self {
            PlanError::NoAreas => "areas".into(),
            PlanError::UnknownArea { index, .. } | PlanError::DuplicateArea { index, .. } => {
                format!("areas[{index}].area_id")
            }
            PlanError::DepthOutOfRange { index, .. } => format!("areas[{index}].depth_mm"),
            PlanError::UnknownTimeZone(_) => "time_zone".into(),
            PlanError::TreatedAtSkipped { .. } | PlanError::TreatedAtOutOfRange => {
                "treated_at".into()
            }
            PlanError::SendHour(_) => "send_hour".into(),
            PlanError::NotAdjustable(key) | PlanError::AdjustmentOutOfRange { key, .. } => {
                format!("adjust_{key}")
            }
            PlanError::ActivesPastPlanEnd { field, .. } => field.clone(),
            PlanError::UnknownAddOn(_) => "add_ons".into(),
            PlanError::UnknownConsideration(_) => "considerations".into(),
        }
    }
}

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
    pub time_zone: String,
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
    /// "hours" or "days".
    pub unit: String,
    pub default: u32,
    pub value: u32,
    /// "practitioner", "add-on <id>" or "consideration <id>": whatever set the final length.
    pub by: String,
    /// A timed restriction's items, as in [`Plan::avoid_until`]; empty for an active, whose
    /// label is its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
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

/// What one email says, decided here so that the mail layer only formats it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailContent<'a> {
    /// The reminder, if `key` is still in the plan.
    pub reminder: Option<&'a Reminder>,
    /// The evening email's Tonight list; empty in every other email.
    pub tonight: &'a [String],
    /// The phase in force when the email goes out (the last phase once all are over).
    pub phase: Option<&'a Phase>,
    /// "What is normal": the signs still in their window on the email's day (older plans: the
    /// box, in the plan's first `normal_emails` emails only).
    pub normal: Vec<String>,
    /// The phase's avoid list without the timed items that have ended by `send_at` (an
    /// adjusted restriction may end inside a phase).
    pub avoid_items: Vec<String>,
    /// The area notes that apply on the email's day (hands, scalp, body …).
    pub area_notes: Vec<&'a AreaNotes>,
}

impl Plan {
    pub fn normal_signs(&self) -> &[NormalSign] {
        &self.normal_signs
    }

    /// The whole "What is normal" box, as the sheet shows it: every sign with its window (the
    /// old box for plans stored before windows).
    pub fn normal_texts(&self) -> Vec<String> {
        if self.normal_signs.is_empty() {
            return self.normal.clone();
        }
        self.normal_signs.iter().map(|s| s.text.clone()).collect()
    }

    /// Signs normal on `day` (day <= last_day), and signs past their window (day > last_day).
    pub fn normal_on(&self, day: u32) -> (Vec<&NormalSign>, Vec<&NormalSign>) {
        self.normal_signs.iter().partition(|s| day <= s.last_day)
    }

    /// The local calendar day after the treatment day on which `at` falls (0 before).
    pub fn day_at(&self, at: DateTime<Utc>) -> u32 {
        let tz: Tz = self.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let days = (utc_to_local(tz, at).date() - self.treated_at.local.date()).num_days();
        u32::try_from(days).unwrap_or(0)
    }

    /// The phase in progress at an instant; `None` before the treatment or after the last phase.
    pub fn phase_at(&self, at: DateTime<Utc>) -> Option<&Phase> {
        find_phase(&self.phases, at)
    }

    /// The phase an email sent at `send_at` describes: the one in progress when as many hours
    /// have passed as the clinic's clock shows (see [`by_clock`]). Plans stored before clock
    /// changes were recorded keep the phase in progress at `send_at`, as their emails had.
    pub fn email_phase(&self, send_at: DateTime<Utc>) -> Option<&Phase> {
        if self.clock_changes.is_empty() {
            return self.phase_at(send_at);
        }
        let tz: Tz = self.time_zone.parse().unwrap_or(chrono_tz::UTC);
        self.phase_at(by_clock(self.treated_at, utc_to_local(tz, send_at)))
    }

    /// The content of the email for reminder `key`, sent at `send_at`. The evening email always
    /// carries the Tonight list, since the first phase may be over before the evening.
    pub fn email_content(&self, key: &str, send_at: DateTime<Utc>) -> EmailContent<'_> {
        let position = self.reminders.iter().position(|r| r.key == key);
        let reminder = position.map(|i| &self.reminders[i]);
        let evening = reminder.is_some_and(|r| r.kind == ReminderKind::Evening);
        let early = position.is_some_and(|i| i < self.normal_emails as usize);
        let day = reminder.map_or_else(|| self.day_at(send_at), |r| r.day);
        let normal = if self.normal_signs.is_empty() {
            if early {
                self.normal.clone()
            } else {
                Vec::new()
            }
        } else {
            self.normal_on(day)
                .0
                .into_iter()
                .map(|s| s.text.clone())
                .collect()
        };
        let phase = self.email_phase(send_at).or_else(|| self.phases.last());
        let ended: Vec<&String> = self
            .avoid_until
            .iter()
            .filter(|a| a.until.utc <= send_at)
            .flat_map(|a| &a.items)
            .collect();
        EmailContent {
            reminder,
            tonight: if evening { &self.tonight } else { &[] },
            phase,
            normal,
            area_notes: self
                .area_notes
                .iter()
                .filter(|n| self.area_notes_in_emails && n.last_day.is_none_or(|last| day <= last))
                .collect(),
            avoid_items: phase
                .map(|p| {
                    p.avoid_items
                        .iter()
                        .filter(|i| !ended.contains(i))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The instant as long after the treatment as the clinic's clock shows at `send_local`. Morning
/// emails go out 24 clock hours apart, so across a clock change (a 25-hour night) each whole-day
/// phase still gets one (review M7); with no change in between, this is the send time itself.
fn by_clock(treated: Moment, send_local: NaiveDateTime) -> DateTime<Utc> {
    treated.utc + (send_local - treated.local)
}

fn find_phase(phases: &[Phase], at: DateTime<Utc>) -> Option<&Phase> {
    phases
        .iter()
        .find(|p| p.starts_at.utc <= at && at < p.ends_at.utc)
}

/// A restriction the treatment form offers to adjust, with its default and range for a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustable {
    pub key: String,
    pub label: String,
    /// "hours" or "days".
    pub unit: &'static str,
    /// (band label, default, min, max): one entry when the areas are known, else one per band.
    pub ranges: Vec<(String, u32, u32, u32)>,
}

/// What the form's "Adjust for this session" section lists. With the treated areas known, the
/// defaults are this plan's own (band and healing factor applied); without, every band's.
pub fn adjustables(protocol: &Protocol, areas: &[TreatedArea]) -> Vec<Adjustable> {
    let input = TreatmentInput {
        areas: areas.to_vec(),
        treated_at: NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default(),
        time_zone: "UTC".into(),
        send_hour: 9,
        tailoring: Tailoring::default(),
    };
    let known = resolve(protocol, &input).ok();
    let band_indexes: Vec<(usize, usize, f64)> = match &known {
        Some(r) => vec![(r.band, r.actives_band, r.healing_factor)],
        None => (0..protocol.bands().len()).map(|i| (i, i, 1.0)).collect(),
    };
    let mut out = Vec::new();
    for t in protocol
        .timed_avoid()
        .iter()
        .filter(|t| !t.adjust.is_empty())
    {
        let ranges = band_indexes
            .iter()
            .map(|&(b, _, f)| {
                let band = &protocol.bands()[b];
                let [lo, hi] = t.adjust[&band.id];
                let s = |h: u32| stretch_hours(h, f) as u32;
                (band.label.clone(), s(t.until_hours[&band.id]), s(lo), s(hi))
            })
            .collect();
        out.push(Adjustable {
            key: t.id.clone(),
            label: t.label.clone(),
            unit: "hours",
            ranges,
        });
    }
    for a in protocol.actives().iter().filter(|a| !a.adjust.is_empty()) {
        let ranges = band_indexes
            .iter()
            .map(|&(_, b, _)| {
                let band = &protocol.bands()[b];
                let [lo, hi] = a.adjust[&band.id];
                (band.label.clone(), a.days[&band.id], lo, hi)
            })
            .collect();
        out.push(Adjustable {
            key: format!("active-{}", a.id),
            label: a.name.clone(),
            unit: "days",
            ranges,
        });
    }
    out
}

/// The treatment's input after checking, with everything the plan is derived from.
struct Resolved<'p> {
    tz: Tz,
    treated_utc: DateTime<Utc>,
    treated_date: NaiveDate,
    areas: Vec<(&'p super::protocol::Area, f64)>,
    band: usize,
    actives_band: usize,
    healing_factor: f64,
    daily_days: u32,
    /// The next-session window, stretched by the healing factor.
    next_session_days: [u32; 2],
    send_hour: u32,
}

/// Computes the plan. Pure: the same protocol and input always give the same plan.
///
/// Rules: the deepest depth picks the band; the slowest-healing class (largest healing factor)
/// stretches every phase and the next-session window, and adds its extra morning emails; a class
/// with `actives_band` (body) makes actives follow at least that band.
///
/// Time: phase boundaries are the treatment instant plus the protocol's hours, added in absolute
/// time and then shown on the clinic's clock. Healing runs on elapsed hours, not on the clock: a
/// 24-hour phase lasts 24 hours even on a daylight-saving night, and a boundary can never fall in
/// a skipped or repeated local hour. So across a DST change, boundaries show the local time of
/// day shifted by the change (a 14:30 treatment's later boundaries read 15:30 after spring
/// forward). Dates of actives, the next-session window and emails are local calendar days;
/// emails go out at the send hour local time (DST rule: see [`super::schedule`]).
pub fn compute_plan(protocol: &Protocol, input: &TreatmentInput) -> Result<Plan, PlanError> {
    let r = resolve(protocol, input)?;
    let applied = apply(protocol, &r, &input.tailoring)?;
    let phases = phases(protocol, &r, &applied);
    let healed_by = phases[phases.len() - 1].starts_at;
    let reminders = reminders(protocol, &r, &phases, &applied);
    let [from, to] = r.next_session_days;
    let band = &protocol.bands()[r.band];
    let normal_signs = normal_signs(protocol, &r, &applied);
    let clock_changes = offset_changes(r.tz, r.treated_utc, phases[phases.len() - 1].ends_at.utc)
        .into_iter()
        .map(|(at, minutes)| ClockChange {
            at: moment(r.tz, at),
            minutes,
        })
        .collect();
    let fill_days = |text: &str| {
        let mut out = text.to_string();
        for id in sign_day_refs(text) {
            if let Some(sign) = normal_signs.iter().find(|s| s.id == id) {
                out = out.replace(&format!("{{day:{id}}}"), &sign.last_day.to_string());
            }
        }
        out
    };
    let mut plan = Plan {
        protocol_name: protocol.name().to_string(),
        protocol_version: protocol.version().to_string(),
        disclaimer: protocol.disclaimer().to_string(),
        tonight: replaced(protocol, &r, TONIGHT, &protocol.tonight().items),
        normal: Vec::new(),
        normal_emails: 0,
        avoid_until: protocol
            .timed_avoid()
            .iter()
            .zip(&applied.timed_hours)
            .map(|(t, &hours)| AvoidUntil {
                until: after_hours(&r, hours),
                items: t.items.clone(),
            })
            .collect(),
        band: PlanBand {
            id: band.id.clone(),
            label: band.label.clone(),
        },
        time_zone: input.time_zone.clone(),
        send_hour: input.send_hour,
        treated_at: moment(r.tz, r.treated_utc),
        areas: r
            .areas
            .iter()
            .map(|(area, depth)| PlanArea {
                id: area.id.clone(),
                label: area.label.clone(),
                depth_mm: *depth,
            })
            .collect(),
        actives: actives(protocol, &r, &applied),
        area_notes: area_notes(protocol, &r),
        area_notes_in_emails: true,
        red_flags: RedFlagList {
            intro: String::new(),
            items: Vec::new(),
            groups: protocol
                .red_flags()
                .iter()
                .map(|g| RedFlagGroup {
                    urgency: g.id,
                    title: g.title.clone(),
                    items: g.items.iter().map(|i| fill_days(i)).collect(),
                })
                .collect(),
        },
        next_session: NextSession {
            from: add_days(r.treated_date, from),
            to: add_days(r.treated_date, to),
            note: protocol
                .next_session()
                .note
                .replace(GAP, &gap_text(from, to)),
        },
        healed_by,
        phases,
        reminders,
        tailoring: input.tailoring.clone(),
        added_items: applied
            .tailors
            .iter()
            .flat_map(|t| t.do_items.iter().chain(&t.avoid_items).cloned())
            .collect(),
        session_notes: applied
            .tailors
            .iter()
            .filter(|t| !t.notes.is_empty())
            .map(|t| AreaNotes {
                label: t.patient_label.clone().unwrap_or_else(|| t.label.clone()),
                notes: t.notes.clone(),
                last_day: None,
            })
            .collect(),
        adjusted: applied.adjusted,
        normal_signs,
        clock_changes,
    };
    link_red_flags(protocol, &mut plan);
    Ok(plan)
}

/// Links each sign to the red flag that names its last day (`{day:<sign>}`), when that flag is
/// at least as urgent as the sign past its window: the flag then says all the sign would.
fn link_red_flags(protocol: &Protocol, plan: &mut Plan) {
    for (group, spec) in plan.red_flags.groups.iter().zip(protocol.red_flags()) {
        for (shown, item) in group.items.iter().zip(&spec.items) {
            for id in sign_day_refs(item) {
                let sign = plan.normal_signs.iter_mut().find(|s| s.id == id);
                if let Some(sign) = sign.filter(|s| group.urgency <= s.past_urgency) {
                    sign.red_flag = Some(shown.clone());
                }
            }
        }
    }
}

/// The plan's normal signs: the protocol's (those for its areas), then those of its add-ons and
/// considerations, each window stretched by the healing factor and lengthened, never shortened,
/// by an add-on or consideration.
fn normal_signs(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<NormalSign> {
    let band = &protocol.bands()[r.band].id;
    let treated = |spec: &NormalSignSpec| {
        spec.areas.is_empty() || r.areas.iter().any(|(a, _)| spec.areas.contains(&a.id))
    };
    protocol
        .normal_signs()
        .iter()
        .chain(applied.tailors.iter().flat_map(|t| &t.normal_signs))
        .filter(|spec| treated(spec))
        .map(|spec| {
            // Every band has a text and a day: checked when the protocol was loaded.
            let own = spec.last_day.get(band).copied().unwrap_or(1);
            let last_day = applied
                .tailors
                .iter()
                .filter_map(|t| t.normal_last_day.get(&spec.id).copied())
                .fold(stretch_days(own, r.healing_factor), u32::max);
            let day = last_day.to_string();
            NormalSign {
                id: spec.id.clone(),
                text: spec
                    .text
                    .get(band)
                    .cloned()
                    .unwrap_or_default()
                    .replace(DAY, &day),
                last_day,
                past_text: spec.past_text.replace(DAY, &day),
                past_urgency: spec.past_urgency,
                red_flag: None,
            }
        })
        .collect()
}

/// The tailoring checked and applied: which add-ons and considerations apply, and every
/// restriction's final length.
struct Applied<'p> {
    /// Add-ons, then considerations, in protocol order; only those that apply to these areas.
    tailors: Vec<&'p Tailor>,
    /// Per timed_avoid, in protocol order: its end in hours after the treatment, stretched.
    timed_hours: Vec<i64>,
    /// Per active, in protocol order: the day it may come back.
    active_days: Vec<u32>,
    adjusted: Vec<Adjusted>,
}

/// The length of one restriction: the practitioner's choice within range (or the default), then
/// lengthened, never shortened, by any add-on or consideration that asks for more.
#[allow(clippy::too_many_arguments)]
fn restriction(
    key: &str,
    label: &str,
    items: &[String],
    unit: &'static str,
    default: u32,
    range: Option<[u32; 2]>,
    tailoring: &Tailoring,
    tailors: &[(&str, &Tailor)],
    adjusted: &mut Vec<Adjusted>,
) -> Result<u32, PlanError> {
    let (mut value, mut by) = (default, String::new());
    if let Some(&chosen) = tailoring.adjustments.get(key) {
        let [min, max] = range.ok_or_else(|| PlanError::NotAdjustable(key.to_string()))?;
        if !(min..=max).contains(&chosen) {
            return Err(PlanError::AdjustmentOutOfRange {
                key: key.to_string(),
                min,
                max,
                default,
                unit,
            });
        }
        (value, by) = (chosen, "practitioner".to_string());
    }
    for (kind, t) in tailors {
        if let Some(&least) = t.at_least.get(key) {
            if least > value {
                (value, by) = (least, format!("{kind} {}", t.id));
            }
        }
    }
    if value != default {
        adjusted.push(Adjusted {
            key: key.to_string(),
            label: label.to_string(),
            unit: unit.to_string(),
            default,
            value,
            by,
            items: items.to_vec(),
        });
    }
    Ok(value)
}

/// Actives of one kind, (weaker, stronger) by id: the stronger never comes back before the
/// weaker (review L2: shop retinol first, then prescription retinoids, even when a practitioner
/// moves shop retinol later than the prescription day).
const WEAKER_FIRST: &[(&str, &str)] = &[("retinol", "prescription-retinoids")];

/// Keeps actives a week apart after tailoring moved some (clinical review, item 2: one product
/// at a time, so a reaction can be traced), and each stronger active of a [`WEAKER_FIRST`] pair
/// after its weaker one. Only ever moves an active later.
fn stagger(protocol: &Protocol, days: &mut [u32], adjusted: &mut Vec<Adjusted>) {
    let index = |id: &str| protocol.actives().iter().position(|a| a.id == id);
    let weaker_of = |i: usize| {
        WEAKER_FIRST
            .iter()
            .filter(|(_, stronger)| index(stronger) == Some(i))
            .find_map(|(weaker, _)| index(weaker))
    };
    // A stronger active sorts after its weaker one; days then only grow along the order.
    let sort_key = |i: usize| match weaker_of(i) {
        Some(w) => (days[i].max(days[w]), 1, i),
        None => (days[i], 0, i),
    };
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by_key(|&i| sort_key(i));
    for k in 1..order.len() {
        let (before, i) = (days[order[k - 1]], order[k]);
        let earliest = before + super::protocol::MIN_ACTIVE_GAP_DAYS;
        if days[i] < earliest {
            let key = format!("active-{}", protocol.actives()[i].id);
            match adjusted.iter_mut().find(|a| a.key == key) {
                Some(a) => a.value = earliest,
                None => adjusted.push(Adjusted {
                    key,
                    label: protocol.actives()[i].name.clone(),
                    unit: "days".into(),
                    default: days[i],
                    value: earliest,
                    by: "one active a week".into(),
                    items: Vec::new(),
                }),
            }
            days[i] = earliest;
        }
    }
}

/// Refuses a tailoring whose actives, a week apart, run past the plan: every active's email must
/// go out before the last phase ends, with the loader's spare days (so the answer does not
/// depend on the time of day of the treatment or the send hour). The loader guarantees this for
/// any choice in range on its own; only the week between actives can push one past it.
fn actives_fit(
    protocol: &Protocol,
    r: &Resolved,
    tailoring: &Tailoring,
    days: &[u32],
) -> Result<(), PlanError> {
    let band = &protocol.bands()[r.band].id;
    let last_phase = &protocol.phases()[protocol.phases().len() - 1];
    let end_hours = stretch_hours(last_phase.hours[band][1], r.healing_factor);
    let last = u32::try_from(end_hours / 24)
        .unwrap_or(0)
        .saturating_sub(super::protocol::EMAIL_SPARE_DAYS);
    let Some((late, &day)) = protocol
        .actives()
        .iter()
        .zip(days)
        .filter(|(_, &day)| day > last)
        .max_by_key(|(_, &day)| day)
    else {
        return Ok(());
    };
    let key = |id: &str| format!("active-{id}");
    // The practitioner's choice to change: the late active's own, else their latest one.
    let field = if tailoring.adjustments.contains_key(&key(&late.id)) {
        Some(key(&late.id))
    } else {
        protocol
            .actives()
            .iter()
            .filter_map(|a| Some((tailoring.adjustments.get(&key(&a.id))?, key(&a.id))))
            .max()
            .map(|(_, k)| k)
    };
    Err(PlanError::ActivesPastPlanEnd {
        field: field.map_or_else(|| "add_ons".to_string(), |k| format!("adjust_{k}")),
        name: late.name.clone(),
        day,
        last,
    })
}

/// Decision D2 on this plan: whatever moved the acids later (a consideration, the week between
/// actives), peels and laser end no sooner than the acids' day plus the decision's offset.
fn peels_after_acids(
    protocol: &Protocol,
    band: &str,
    active_days: &[u32],
    timed_hours: &mut [i64],
    adjusted: &mut Vec<Adjusted>,
) {
    let decision = &protocol.decisions().peels_after_acids;
    // The loader checked both ids and the offset for every band.
    let (Some(active), Some(timed), Some(offset)) = (
        protocol
            .actives()
            .iter()
            .position(|a| a.id == decision.active),
        protocol
            .timed_avoid()
            .iter()
            .position(|t| t.id == decision.restriction),
        decision.offset_days.get(band),
    ) else {
        return;
    };
    let floor = i64::from(active_days[active] + offset) * 24;
    if timed_hours[timed] >= floor {
        return;
    }
    let spec = &protocol.timed_avoid()[timed];
    let value = u32::try_from(floor).unwrap_or(u32::MAX);
    match adjusted.iter_mut().find(|a| a.key == spec.id) {
        Some(a) => (a.value, a.by) = (value, "not before the acids".into()),
        None => adjusted.push(Adjusted {
            key: spec.id.clone(),
            label: if spec.label.is_empty() {
                spec.id.clone()
            } else {
                spec.label.clone()
            },
            unit: "hours".into(),
            default: u32::try_from(timed_hours[timed]).unwrap_or(0),
            value,
            by: "not before the acids".into(),
            items: spec.items.clone(),
        }),
    }
    timed_hours[timed] = floor;
}

fn apply<'p>(
    protocol: &'p Protocol,
    r: &Resolved,
    tailoring: &Tailoring,
) -> Result<Applied<'p>, PlanError> {
    for id in &tailoring.add_ons {
        if !protocol.add_ons().iter().any(|t| &t.id == id) {
            return Err(PlanError::UnknownAddOn(id.clone()));
        }
    }
    for id in &tailoring.considerations {
        if !protocol.considerations().iter().any(|t| &t.id == id) {
            return Err(PlanError::UnknownConsideration(id.clone()));
        }
    }
    let timed_keys = protocol.timed_avoid().iter().map(|t| t.id.clone());
    let active_keys = protocol
        .actives()
        .iter()
        .map(|a| format!("active-{}", a.id));
    let known: Vec<String> = timed_keys.chain(active_keys).collect();
    if let Some(key) = tailoring.adjustments.keys().find(|k| !known.contains(k)) {
        return Err(PlanError::NotAdjustable(key.clone()));
    }
    // A consideration about the lips means nothing for a treatment of the thighs.
    let applies =
        |t: &Tailor| t.areas.is_empty() || r.areas.iter().any(|(a, _)| t.areas.contains(&a.id));
    let chosen = |list: &'p [Tailor], ids: &[String], kind: &'static str| {
        list.iter()
            .filter(move |t| ids.contains(&t.id))
            .filter(move |t| applies(t))
            .map(move |t| (kind, t))
            .collect::<Vec<_>>()
    };
    let mut tailors = chosen(protocol.add_ons(), &tailoring.add_ons, "add-on");
    tailors.extend(chosen(
        protocol.considerations(),
        &tailoring.considerations,
        "consideration",
    ));

    let band = &protocol.bands()[r.band].id;
    let mut adjusted = Vec::new();
    let stretch = |h: u32| stretch_hours(h, r.healing_factor) as u32;
    let mut timed_hours = Vec::new();
    for t in protocol.timed_avoid() {
        let range = t
            .adjust
            .get(band)
            .map(|[lo, hi]| [stretch(*lo), stretch(*hi)]);
        let label = if t.label.is_empty() { &t.id } else { &t.label };
        let default = stretch(t.until_hours[band]);
        let hours = restriction(
            &t.id,
            label,
            &t.items,
            "hours",
            default,
            range,
            tailoring,
            &tailors,
            &mut adjusted,
        )?;
        timed_hours.push(i64::from(hours));
    }
    let actives_band = &protocol.bands()[r.actives_band].id;
    let mut active_days = Vec::new();
    for a in protocol.actives() {
        let key = format!("active-{}", a.id);
        let range = a.adjust.get(actives_band).copied();
        let day = restriction(
            &key,
            &a.name,
            &[],
            "days",
            a.days[actives_band],
            range,
            tailoring,
            &tailors,
            &mut adjusted,
        )?;
        active_days.push(day);
    }
    stagger(protocol, &mut active_days, &mut adjusted);
    actives_fit(protocol, r, tailoring, &active_days)?;
    peels_after_acids(
        protocol,
        band,
        &active_days,
        &mut timed_hours,
        &mut adjusted,
    );
    Ok(Applied {
        tailors: tailors.into_iter().map(|(_, t)| t).collect(),
        timed_hours,
        active_days,
        adjusted,
    })
}

fn resolve<'p>(protocol: &'p Protocol, input: &TreatmentInput) -> Result<Resolved<'p>, PlanError> {
    if input.send_hour > 23 {
        return Err(PlanError::SendHour(input.send_hour));
    }
    let tz: Tz = input
        .time_zone
        .parse()
        .map_err(|_| PlanError::UnknownTimeZone(input.time_zone.clone()))?;
    if input.areas.is_empty() {
        return Err(PlanError::NoAreas);
    }
    let mut areas = Vec::with_capacity(input.areas.len());
    let mut band = 0;
    for (index, treated) in input.areas.iter().enumerate() {
        let id = &treated.area_id;
        let area = protocol.area(id).ok_or_else(|| PlanError::UnknownArea {
            index,
            id: id.clone(),
        })?;
        if input.areas[..index].iter().any(|a| &a.area_id == id) {
            return Err(PlanError::DuplicateArea {
                index,
                id: id.clone(),
            });
        }
        let depth = treated.depth_mm;
        let depth_band = protocol
            .band_index_for_depth(depth)
            .ok_or(PlanError::DepthOutOfRange { index, depth })?;
        band = band.max(depth_band);
        areas.push((area, depth));
    }
    let year = input.treated_at.year();
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(PlanError::TreatedAtOutOfRange);
    }
    // A repeated local time (clocks going back) is taken as the earlier instant, like emails.
    let treated_utc = tz
        .from_local_datetime(&input.treated_at)
        .earliest()
        .ok_or_else(|| PlanError::TreatedAtSkipped {
            local: input.treated_at,
            zone: input.time_zone.clone(),
        })?
        .with_timezone(&Utc);

    let classes: Vec<_> = areas
        .iter()
        .filter_map(|(area, _)| protocol.class(&area.class))
        .collect();
    let healing_factor = classes.iter().map(|c| c.healing_factor).fold(1.0, f64::max);
    let extra_days = classes
        .iter()
        .map(|c| c.daily_reminder_extra_days)
        .max()
        .unwrap_or(0);
    let actives_band = classes
        .iter()
        .filter_map(|c| c.actives_band.as_deref())
        .filter_map(|id| protocol.band_index(id))
        .fold(band, usize::max);
    let band_id = &protocol.bands()[band].id;
    let daily_days = protocol.reminders().daily_days[band_id] + extra_days;
    let next_session_days =
        protocol.next_session().days[band_id].map(|d| stretch_days(d, healing_factor));
    Ok(Resolved {
        tz,
        treated_utc,
        treated_date: input.treated_at.date(),
        areas,
        band,
        actives_band,
        healing_factor,
        daily_days,
        next_session_days,
        send_hour: input.send_hour,
    })
}

fn moment(tz: Tz, utc: DateTime<Utc>) -> Moment {
    Moment {
        local: utc_to_local(tz, utc),
        utc,
    }
}

/// The first day's length: an offset within it stays within it when stretched.
const FIRST_DAY_HOURS: i64 = 24;

/// Hours stretched by the healing factor. Every boundary goes through this same function, so
/// phases stay contiguous, and it never shrinks (factor >= 1) or reorders them. An offset within
/// the first 24 hours is stretched no further than 24 hours (review L4): the slower body skin
/// lengthens what comes after, while "the first day" never runs into day 2's email.
fn stretch_hours(hours: u32, factor: f64) -> i64 {
    let stretched = (f64::from(hours) * factor).round() as i64;
    if i64::from(hours) <= FIRST_DAY_HOURS {
        stretched.min(FIRST_DAY_HOURS)
    } else {
        stretched
    }
}

/// The moment `hours` (stretched by the healing factor) after the treatment.
fn at_hours(r: &Resolved, hours: u32) -> Moment {
    after_hours(r, stretch_hours(hours, r.healing_factor))
}

/// The moment `hours` (already stretched) after the treatment.
fn after_hours(r: &Resolved, hours: i64) -> Moment {
    moment(r.tz, r.treated_utc + Duration::hours(hours))
}

fn stretch_days(days: u32, factor: f64) -> u32 {
    (f64::from(days) * factor).round() as u32
}

/// "4 to 6 weeks" when the window is in whole weeks, otherwise "30 to 45 days".
fn gap_text(from: u32, to: u32) -> String {
    if from.is_multiple_of(7) && to.is_multiple_of(7) {
        format!("{} to {} weeks", from / 7, to / 7)
    } else {
        format!("{from} to {to} days")
    }
}

/// The protocol and the input's year range bound every offset, so this cannot overflow.
fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date + Days::new(u64::from(days))
}

fn phases(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<Phase> {
    let band = &protocol.bands()[r.band].id;
    let at = |hours: u32| at_hours(r, hours);
    protocol
        .phases()
        .iter()
        .map(|spec| {
            // Every phase and timed list has hours for every band: checked when loading.
            let [start, end] = spec.hours[band];
            // A timed list joins every phase that starts before it ends. A default end is a phase
            // boundary, so it covers whole phases; an adjusted one may end inside a phase, which
            // then carries it whole (the stricter reading), while the sheet and emails give the
            // exact end.
            let start_hours = stretch_hours(start, r.healing_factor);
            let timed = protocol
                .timed_avoid()
                .iter()
                .zip(&applied.timed_hours)
                .filter(|(_, &until)| start_hours < until)
                .flat_map(|(t, _)| t.items.iter().cloned());
            let joins: Vec<&Tailor> = applied
                .tailors
                .iter()
                .copied()
                .filter(|t| t.phases.contains(&spec.id))
                .collect();
            let added_do = joins.iter().flat_map(|t| t.do_items.iter().cloned());
            let added_avoid = joins.iter().flat_map(|t| t.avoid_items.iter().cloned());
            Phase {
                id: spec.id.clone(),
                name: spec.name.clone(),
                starts_at: at(start),
                ends_at: at(end),
                skin: spec.skin.clone(),
                do_items: replaced(protocol, r, &spec.id, &spec.do_items)
                    .into_iter()
                    .chain(added_do)
                    .collect(),
                avoid_items: replaced(protocol, r, &spec.id, &spec.avoid_items)
                    .into_iter()
                    .chain(timed)
                    .chain(added_avoid)
                    .collect(),
                headline: spec.headline.clone(),
            }
        })
        .collect()
}

fn actives(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<ActiveReturn> {
    protocol
        .actives()
        .iter()
        .zip(&applied.active_days)
        .map(|(a, &day)| ActiveReturn {
            key: format!("active-{}", a.id),
            name: a.name.clone(),
            day,
            from: add_days(r.treated_date, day),
            how: a.how.clone(),
        })
        .collect()
}

/// One list (a phase's do or avoid list, or Tonight: `scope`) after the treated areas' own rules
/// (clinical review M2, M3): a line every treated area replaces becomes the area's line, or goes
/// when it has none; a line only some areas replace stays, followed by each area's own line under
/// its label ("Backs of the hands: …").
fn replaced(protocol: &Protocol, r: &Resolved, scope: &str, items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in items {
        let per_area: Vec<Option<(&str, &str)>> = r
            .areas
            .iter()
            .map(|(area, _)| {
                let own = area.replaces.iter().map(|x| (area.label.as_str(), x));
                let class = protocol.class(&area.class);
                let of_class = class
                    .into_iter()
                    .flat_map(|c| c.replaces.iter().map(move |x| (c.label.as_str(), x)));
                own.chain(of_class)
                    .find(|(_, x)| x.phase == scope && &x.line == line)
                    .map(|(label, x)| (label, x.with.as_str()))
            })
            .collect();
        if per_area.iter().all(Option::is_none) {
            out.push(line.clone());
            continue;
        }
        let every = per_area.iter().all(Option::is_some);
        let mut withs: Vec<(&str, &str)> = Vec::new();
        for (label, with) in per_area.into_iter().flatten() {
            if !with.is_empty() && !withs.iter().any(|(_, w)| *w == with) {
                withs.push((label, with));
            }
        }
        if every && withs.len() <= 1 {
            out.extend(withs.iter().map(|(_, w)| w.to_string()));
        } else {
            if !every {
                out.push(line.clone());
            }
            out.extend(withs.iter().map(|(label, w)| format!("{label}: {w}")));
        }
    }
    out
}

fn area_notes(protocol: &Protocol, r: &Resolved) -> Vec<AreaNotes> {
    let mut notes = Vec::new();
    let mut classes_seen = Vec::new();
    for (area, _) in &r.areas {
        if let Some(class) = protocol.class(&area.class) {
            if !classes_seen.contains(&class.id) {
                classes_seen.push(class.id.clone());
                if !class.notes.is_empty() {
                    notes.push(AreaNotes {
                        label: class.label.clone(),
                        notes: class.notes.clone(),
                        last_day: class.notes_last_day,
                    });
                }
            }
        }
        if !area.notes.is_empty() {
            notes.push(AreaNotes {
                label: area.label.clone(),
                notes: area.notes.clone(),
                last_day: area.notes_last_day,
            });
        }
    }
    notes
}

/// Said after an email subject's one headline when the email has more news (review L11).
pub const AND_MORE: &str = ", and more";

/// The headline an email subject names: the first alone, so merged subjects stay short (review
/// L11: three joined headlines made a subject of over 100 characters), with "and more" when
/// the email says more.
fn subject_headline(headlines: &[&str]) -> String {
    match headlines {
        [] => String::new(),
        [one] => (*one).to_string(),
        [first, ..] => format!("{first}{AND_MORE}"),
    }
}

/// What goes out on one local day after the evening email.
#[derive(Default)]
struct DayEmail {
    daily: bool,
    /// (key, headline) in protocol order: actives, results, next session.
    milestones: Vec<(String, String)>,
}

/// The evening email, then one email per local day with a morning email or a milestone.
///
/// The evening email goes out `evening_delay_hours` after the treatment, or at
/// `evening_not_before_hour` (default: the send hour) local time on the treatment day if that is
/// later. A morning email that would go out at or before the evening email (a treatment late at
/// night) is dropped: the patient has just had the evening one. Milestones cannot be dropped
/// that way, since the protocol puts them on day 2 or later.
fn reminders(
    protocol: &Protocol,
    r: &Resolved,
    phases: &[Phase],
    applied: &Applied,
) -> Vec<Reminder> {
    let cadence = protocol.reminders();
    // The protocol makes the last phase outlast every email; the fallback only avoids a panic.
    // The phase an email describes (see [`Plan::email_phase`]).
    let treated = moment(r.tz, r.treated_utc);
    let phase_at = |at: DateTime<Utc>| {
        find_phase(phases, by_clock(treated, utc_to_local(r.tz, at)))
            .unwrap_or(&phases[phases.len() - 1])
    };
    let day_of = |utc: DateTime<Utc>| {
        let days = (utc_to_local(r.tz, utc).date() - r.treated_date).num_days();
        u32::try_from(days).unwrap_or(0)
    };

    let not_before_hour = cadence.evening_not_before_hour.unwrap_or(r.send_hour);
    let evening_at = (r.treated_utc + Duration::hours(i64::from(cadence.evening_delay_hours)))
        .max(at_local_hour(r.tz, r.treated_date, not_before_hour));
    let mut reminders = vec![Reminder {
        key: "evening".into(),
        kind: ReminderKind::Evening,
        day: day_of(evening_at),
        send_at: evening_at,
        phase_id: phase_at(evening_at).id.clone(),
        subject: cadence.evening_subject.clone(),
        milestones: Vec::new(),
    }];

    let mut days: BTreeMap<u32, DayEmail> = BTreeMap::new();
    for day in 1..=r.daily_days {
        days.entry(day).or_default().daily = true;
    }
    let mut milestone = |day: u32, key: String, headline: &str| {
        days.entry(day)
            .or_default()
            .milestones
            .push((key, headline.to_string()));
    };
    for (active, &day) in protocol.actives().iter().zip(&applied.active_days) {
        milestone(day, format!("active-{}", active.id), &active.headline);
    }
    if let Some(results) = phases.iter().find(|p| p.id == cadence.results_phase) {
        milestone(
            day_of(results.starts_at.utc),
            "results".into(),
            &results.headline,
        );
    }
    milestone(
        r.next_session_days[0],
        "next-session".into(),
        &protocol.next_session().headline,
    );

    for (day, email) in days {
        let send_at = at_local_hour(r.tz, add_days(r.treated_date, day), r.send_hour);
        if send_at <= evening_at {
            continue;
        }
        let phase = phase_at(send_at);
        // The news first: a milestone's headline before the phase's.
        let mut headlines: Vec<&str> = email.milestones.iter().map(|(_, h)| h.as_str()).collect();
        if email.daily {
            headlines.push(&phase.headline);
        }
        let key = match (email.daily, email.milestones.first()) {
            (false, Some((key, _))) => key.clone(),
            _ => format!("day-{day}"),
        };
        reminders.push(Reminder {
            key,
            kind: if email.daily {
                ReminderKind::Daily
            } else {
                ReminderKind::Milestone
            },
            day,
            send_at,
            phase_id: phase.id.clone(),
            subject: cadence
                .day_subject
                .replace("{day}", &day.to_string())
                .replace("{headline}", &subject_headline(&headlines)),
            milestones: email.milestones.into_iter().map(|(k, _)| k).collect(),
        });
    }
    // Days ascend, so this is already in order; sorting states the guarantee.
    reminders.sort_by_key(|r| r.send_at);
    reminders
}
