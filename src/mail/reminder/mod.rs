//! One reminder email, composed from the stored plan. Pure: the same plan,
//! key and links always give the same email.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::care::{Plan, ReminderKind};
use crate::dates::Locale;
use crate::documents::clinic::Clinic;
use crate::documents::sheet::{clock_notes, flag_groups, FlagGroup};

pub struct Milestone {
    pub title: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "email/reminder.txt")]
pub struct ReminderText<'a> {
    pub email: &'a ReminderEmail,
}

#[derive(Template)]
#[template(path = "email/reminder.html")]
pub struct ReminderHtml<'a> {
    pub email: &'a ReminderEmail,
    /// Staff's preview only: the bar above the email (never in what is sent).
    pub preview: Option<&'a PreviewBar>,
}

/// What staff see above an email they preview: its envelope and the way back.
pub struct PreviewBar {
    pub subject: String,
    /// The To line, or why there is none.
    pub to: String,
    /// Why it will not reach the patient, when it will not.
    pub not_sent: Option<String>,
    /// Where to go back to: (address, label).
    pub links: Vec<(String, String)>,
}

pub struct ReminderEmail {
    pub clinic: Clinic,
    pub greeting: String,
    pub subject: String,
    pub intro: String,
    /// Why the sheet's times after a clock change read shifted: in the first email after it.
    pub clock_notes: Vec<String>,
    pub phase_name: String,
    pub phase_skin: String,
    pub do_items: Vec<String>,
    pub avoid_items: Vec<String>,
    pub milestones: Vec<Milestone>,
    /// The evening email only (and never for version 1 plans, which have no such list).
    pub tonight: Vec<String>,
    /// "What is normal": the signs still in their window on the email's day.
    pub normal: Vec<String>,
    /// "For your treated areas": (label, notes) that apply on the email's day.
    pub area_notes: Vec<(String, Vec<String>)>,
    /// Version 1 plans: one list of red flags.
    pub red_flags_intro: String,
    pub red_flags: Vec<String>,
    /// Later plans: red flags by urgency, with the clinic's emergency number filled in.
    pub red_flag_groups: Vec<FlagGroup>,
    pub disclaimer: String,
    pub sheet_url: String,
    pub unsubscribe_url: String,
    /// The email staff send from the treatment page: the link, the red flags and
    /// the contact line, without a day's advice.
    pub sheet_only: bool,
    /// (what, .ics address) for the dates this email announces.
    pub calendars: Vec<(String, String)>,
    /// "From your practitioner"; empty when there is none.
    pub patient_note: String,
    /// "Adjusted for you": each changed restriction still in force, with its date, then the
    /// add-on and consideration notes.
    pub adjusted: Vec<String>,
    /// The patient's other treatments whose emails fall at the same time: one email covers
    /// them all (see [`compose_combined`]). Empty in an email for one treatment.
    pub also: Vec<AlsoTreatment>,
    /// "How is your skin today?": the patient's check-in page; empty leaves the question out.
    pub checkin_url: String,
}

/// Another treatment's part of a combined email: where its healing is and what to do for it.
/// What to avoid is in the email's one Avoid list, which covers every treatment.
pub struct AlsoTreatment {
    pub heading: String,
    pub intro: String,
    pub phase_name: String,
    pub phase_skin: String,
    pub do_items: Vec<String>,
    pub milestones: Vec<Milestone>,
    pub patient_note: String,
    /// This treatment's own "Adjusted for you" lines: kept in its section, so the patient
    /// can tell which treatment a changed date or a session note belongs to.
    pub adjusted: Vec<String>,
    pub sheet_url: String,
}

impl ReminderEmail {
    /// The email with the check-in question, its answers linking to `url`.
    pub fn with_checkin(mut self, url: String) -> ReminderEmail {
        self.checkin_url = url;
        self
    }

    /// The check-in page with one answer chosen (the patient still confirms there).
    pub fn checkin_answer(&self, answer: &str) -> String {
        format!("{}?answer={answer}", self.checkin_url)
    }

    pub fn text(&self) -> Result<String, super::RenderError> {
        super::render_part("text", &ReminderText { email: self })
    }
    pub fn html(&self) -> Result<String, super::RenderError> {
        super::render_part(
            "HTML",
            &ReminderHtml {
                email: self,
                preview: None,
            },
        )
    }
    /// The email as [`ReminderEmail::html`] gives it, with staff's bar above it.
    pub fn preview_html(&self, bar: &PreviewBar) -> Result<String, super::RenderError> {
        super::render_part(
            "HTML",
            &ReminderHtml {
                email: self,
                preview: Some(bar),
            },
        )
    }
    /// The clinic's contact line, as one sentence.
    pub fn contact_line(&self) -> String {
        let c = &self.clinic;
        let mut parts = vec![c.display_name()];
        if !c.phone.is_empty() {
            parts.push(c.phone.clone());
        }
        if !c.email.is_empty() {
            parts.push(c.email.clone());
        }
        if !c.opening_hours.is_empty() {
            parts.push(c.opening_hours.clone());
        }
        parts.join(" · ")
    }
}

fn milestone(plan: &Plan, key: &str, l: Locale) -> Option<Milestone> {
    if let Some(active) = plan.actives.iter().find(|a| a.key == key) {
        return Some(Milestone {
            title: format!("From today: {}", active.name),
            text: active.how.clone(),
        });
    }
    match key {
        "next-session" => Some(Milestone {
            title: "Time to book your next session".into(),
            text: format!(
                "The best time is between {} and {}. {}",
                l.long_date(plan.next_session.from),
                l.long_date(plan.next_session.to),
                plan.next_session.note
            ),
        }),
        _ => plan.phases.iter().find(|p| p.id == key).map(|p| Milestone {
            title: p.name.clone(),
            text: p.skin.clone(),
        }),
    }
}

/// The protocol version of plans stored before calendars existed: their
/// emails stay as they were sent (tests/fixtures/v1).
const BEFORE_CALENDARS: &str = "2026.1";

/// The calendar files an email announcing `milestones` links to.
fn calendars(plan: &Plan, milestones: &[String], sheet_url: &str) -> Vec<(String, String)> {
    if plan.protocol_version == BEFORE_CALENDARS {
        return vec![];
    }
    let mut out = Vec::new();
    if milestones.iter().any(|m| m.starts_with("active-")) {
        out.push((
            "When your skincare can come back".to_string(),
            crate::documents::calendar::actives_url(sheet_url),
        ));
    }
    if milestones.iter().any(|m| m == "next-session") {
        out.push((
            "Your next session window".to_string(),
            crate::documents::calendar::next_session_url(sheet_url),
        ));
    }
    out
}

/// What an email says under "Adjusted for you" at `send_at`: restrictions that changed and
/// have not ended yet, with their dates, then the session's notes.
fn adjusted_lines(plan: &Plan, send_at: DateTime<Utc>, l: Locale) -> Vec<String> {
    let mut lines = Vec::new();
    for a in &plan.adjusted {
        if let Some(active) = plan.actives.iter().find(|x| x.key == a.key) {
            if send_at.date_naive() < active.from {
                lines.push(format!(
                    "{}: not before {}.",
                    a.label,
                    l.long_date(active.from)
                ));
            }
        } else if let Some(until) = plan.avoid_until.iter().find(|u| u.items == a.items) {
            if send_at < until.until.utc {
                lines.push(format!(
                    "Until {}: {}",
                    l.short_moment(until.until.local),
                    a.items.join(" ")
                ));
            }
        }
    }
    for n in &plan.session_notes {
        lines.push(format!("{}: {}", n.label, n.notes.join(" ")));
    }
    lines
}

/// The clock notes (see [`clock_notes`]) of the email for reminder `key`: the first email the
/// plan sends after each change carries its note.
fn clock_notes_for(plan: &Plan, key: &str, l: Locale) -> Vec<String> {
    clock_notes(plan, l)
        .into_iter()
        .filter(|(at, _)| {
            plan.reminders
                .iter()
                .find(|r| r.send_at >= *at)
                .is_some_and(|r| r.key == key)
        })
        .map(|(_, note)| note)
        .collect()
}

/// Composes the email for the reminder `key` of `plan`, sent at `send_at`, or, when
/// `sheet_only`, the email that only brings the sheet's link (sent on request, not in the plan).
/// `fallback_subject` is used if the key is no longer in the plan.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    plan: &Plan,
    key: &str,
    sheet_only: bool,
    fallback_subject: &str,
    send_at: DateTime<Utc>,
    clinic: &Clinic,
    patient_name: &str,
    sheet_url: String,
    unsubscribe_url: String,
) -> ReminderEmail {
    let l = clinic.locale;
    let content = plan.email_content(key, send_at);
    let reminder = content.reminder;
    let phase = content.phase.cloned();
    let treated = format!(
        "{} at {}",
        l.long_date(plan.treated_at.local),
        l.time(plan.treated_at.local)
    );
    let intro = match reminder.map(|r| (&r.kind, r.day)) {
        _ if sheet_only => format!(
            "As promised at the clinic, here is the link to your aftercare sheet for your \
             treatment on {treated}. It is the same plan as the printed copy, with your own dates, \
             and you can open it on your phone whenever you need it."
        ),
        Some((ReminderKind::Evening, _)) => format!(
            "Thank you for coming in today ({treated}). Here is what to do tonight. Your full aftercare sheet is online at the link below."
        ),
        Some((_, day)) => format!("Today is day {day} after your treatment on {treated}."),
        None => format!("A reminder about your treatment on {treated}."),
    };
    let milestones = reminder
        .map(|r| {
            r.milestones
                .iter()
                .filter_map(|m| milestone(plan, m, l))
                .collect()
        })
        .unwrap_or_default();
    let first_name = patient_name
        .split_whitespace()
        .next()
        .unwrap_or(patient_name);
    let calendars = reminder.map_or_else(Vec::new, |r| calendars(plan, &r.milestones, &sheet_url));
    ReminderEmail {
        clinic: clinic.clone(),
        greeting: format!("Hello {first_name},"),
        subject: reminder.map_or_else(|| fallback_subject.to_string(), |r| r.subject.clone()),
        intro,
        clock_notes: if sheet_only {
            Vec::new()
        } else {
            clock_notes_for(plan, key, l)
        },
        phase_name: phase.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        phase_skin: phase.as_ref().map(|p| p.skin.clone()).unwrap_or_default(),
        do_items: phase
            .as_ref()
            .map(|p| p.do_items.clone())
            .unwrap_or_default(),
        avoid_items: content.avoid_items.clone(),
        milestones,
        tonight: content.tonight.to_vec(),
        normal: content.normal.clone(),
        area_notes: content
            .area_notes
            .iter()
            .map(|n| (n.label.clone(), n.notes.clone()))
            .collect(),
        red_flags_intro: plan.red_flags.intro.clone(),
        red_flags: plan.red_flags.items.clone(),
        red_flag_groups: flag_groups(&plan.red_flags.groups, clinic),
        disclaimer: plan.disclaimer.clone(),
        sheet_url,
        unsubscribe_url,
        sheet_only,
        calendars,
        patient_note: plan.tailoring.patient_note.clone(),
        adjusted: adjusted_lines(plan, send_at, l),
        also: Vec::new(),
        checkin_url: String::new(),
    }
}

/// One treatment's share of an email: its plan, its reminder's key and subject, its sheet.
pub struct Part<'a> {
    pub plan: &'a Plan,
    pub key: &'a str,
    /// The email that only brings the sheet's link (see [`compose`]).
    pub sheet_only: bool,
    pub fallback_subject: &'a str,
    pub sheet_url: String,
}

/// The local date `send_at` falls on in a plan's zone.
fn local_day(plan: &Plan, send_at: DateTime<Utc>) -> chrono::NaiveDate {
    send_at.with_timezone(&plan.time_zone).date_naive()
}

/// A part's milestones in a combined email. The stricter rule wins: an active another
/// treatment still keeps away is not announced as back; it says when it may come back.
fn strict_milestones(
    parts: &[Part<'_>],
    i: usize,
    send_at: DateTime<Utc>,
    l: Locale,
) -> Vec<Milestone> {
    let plan = parts[i].plan;
    let Some(reminder) = plan.reminders.iter().find(|r| r.key == parts[i].key) else {
        return Vec::new();
    };
    reminder
        .milestones
        .iter()
        .filter_map(|key| {
            let later = plan.actives.iter().find(|a| &a.key == key).and_then(|a| {
                parts
                    .iter()
                    .filter_map(|p| p.plan.actives.iter().find(|b| b.name == a.name))
                    .map(|b| b.from)
                    .filter(|from| *from > local_day(plan, send_at))
                    .max()
                    .map(|from| (a, from))
            });
            match later {
                Some((active, from)) => Some(Milestone {
                    title: format!("Not yet: {}", active.name),
                    text: format!(
                        "Your other treatment needs more time. Wait until {} to use it.",
                        l.long_date(from)
                    ),
                }),
                None => milestone(plan, key, l),
            }
        })
        .collect()
}

fn push_new(into: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !into.contains(i) {
            into.push(i.clone());
        }
    }
}

/// One email for a patient's reminders that fall at the same time, one part per treatment
/// (the newest first). The first part's email leads; each other treatment adds its own
/// section, with its own note and "Adjusted for you" lines, so the patient can tell which
/// treatment they belong to. The stricter rule wins: one Avoid list holds whatever any treatment still
/// avoids, and an active comes back only when every treatment allows it. With one part
/// this is exactly [`compose`].
pub fn compose_combined(
    parts: &[Part<'_>],
    send_at: DateTime<Utc>,
    clinic: &Clinic,
    patient_name: &str,
    unsubscribe_url: String,
) -> Option<ReminderEmail> {
    let one = |p: &Part<'_>| {
        compose(
            p.plan,
            p.key,
            p.sheet_only,
            p.fallback_subject,
            send_at,
            clinic,
            patient_name,
            p.sheet_url.clone(),
            unsubscribe_url.clone(),
        )
    };
    let (first, others) = parts.split_first()?;
    let mut email = one(first);
    if others.is_empty() {
        return Some(email);
    }
    email.milestones = strict_milestones(parts, 0, send_at, clinic.locale);
    email.subject = "Your aftercare for today".into();
    email.intro = format!(
        "{} This email covers all your treatments that are still healing.",
        email.intro
    );
    for (i, part) in others.iter().enumerate() {
        let other = one(part);
        push_new(&mut email.avoid_items, &other.avoid_items);
        push_new(&mut email.tonight, &other.tonight);
        push_new(&mut email.normal, &other.normal);
        push_new(&mut email.clock_notes, &other.clock_notes);
        for note in other.area_notes {
            if !email.area_notes.contains(&note) {
                email.area_notes.push(note);
            }
        }
        let plan = part.plan;
        email.also.push(AlsoTreatment {
            heading: format!(
                "Your treatment on {}: {}",
                clinic.locale.long_date(plan.treated_at.local.date()),
                plan.areas
                    .iter()
                    .map(|a| a.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            intro: other.intro,
            phase_name: other.phase_name,
            phase_skin: other.phase_skin,
            do_items: other.do_items,
            milestones: strict_milestones(parts, i + 1, send_at, clinic.locale),
            patient_note: other.patient_note,
            adjusted: other.adjusted,
            sheet_url: other.sheet_url,
        });
    }
    Some(email)
}

#[cfg(test)]
mod tests;
