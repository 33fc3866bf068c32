//! The email days (the evening email, then one per local day with news), and what each email
//! says, decided here so that the mail layer only formats it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::protocol::Protocol;
use crate::schedule::{at_local_hour, utc_to_local};

use super::answers::{by_clock, find_phase};
use super::input::Resolved;
use super::tailoring::Applied;
use super::timing::{add_days, moment};
use super::types::{active_key, AreaNotes, Phase, Plan, Reminder, ReminderKind};

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
    /// The phase an email sent at `send_at` describes: the one in progress when as many hours
    /// have passed as the clinic's clock shows (see [`by_clock`]). Plans stored before clock
    /// changes were recorded keep the phase in progress at `send_at`, as their emails had.
    pub fn email_phase(&self, send_at: DateTime<Utc>) -> Option<&Phase> {
        if self.clock_changes.is_empty() {
            return self.phase_at(send_at);
        }
        self.phase_at(by_clock(
            self.treated_at,
            utc_to_local(self.time_zone, send_at),
        ))
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
pub(super) fn reminders(
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
        milestone(day, active_key(&active.id), &active.headline);
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
