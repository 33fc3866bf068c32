//! The check-in page for a treatment on a day: the patient's day of healing in the clinic's
//! zone, the red flags by group, and the "normal" signs of that day; a sign past its window
//! is offered as "still there after day N" among the red flags of its urgency.

use chrono::{DateTime, Utc};

use super::{clinic, treatments, ItemRule};
use crate::care::protocol::Urgency;
use crate::care::Plan;
use crate::documents::sheet::{flag_groups, FlagGroup};
use crate::error::AppResult;
use crate::usecases::clinic::Clinic;
use crate::usecases::store::DbConn;

/// One box on the checklist. `id` is stable within a plan (`emergency-0`,
/// `normal-2`), so the form never carries the text itself.
pub struct CheckItem {
    pub id: String,
    pub text: String,
    /// What ticking it means to triage.
    pub rule: ItemRule,
}

/// A red-flag group as a checklist.
pub struct CheckGroup {
    pub urgency: &'static str,
    pub title: String,
    pub items: Vec<CheckItem>,
}

/// What the check-in page shows for a treatment today.
pub struct CheckinPage {
    pub clinic: Clinic,
    pub emergency_number: String,
    pub first_name: String,
    pub treated_on: String,
    /// Local calendar days after the treatment day.
    pub day: i64,
    pub phase_name: String,
    pub phase_skin: String,
    /// "What is normal" as boxes to tick: the signs normal on this day, or a plan's undated
    /// lines when it was stored before signs had windows.
    pub normal: Vec<CheckItem>,
    /// Whether the normal signs are those of this day (the plan has windows).
    pub normal_dated: bool,
    /// Working days the clinic takes to answer a check-in that waits for a reply.
    pub reply_days: i32,
    /// The red flags as boxes to tick, most urgent first.
    pub flags: Vec<CheckGroup>,
    /// The red flags as the sheet shows them: "when to worry".
    pub when_to_worry: Vec<FlagGroup>,
}

/// The check-in page for a treatment (404 when it was deleted, or its patient erased).
pub fn page(conn: &mut DbConn, treatment_id: i64, now: DateTime<Utc>) -> AppResult<CheckinPage> {
    let view = super::open_view(conn, treatment_id, now)?;
    let reply_days = view.clinic.reply_days;
    Ok(build_page(&view, reply_days, now))
}

pub(super) fn build_page(
    view: &treatments::TreatmentView,
    reply_days: i32,
    now: DateTime<Utc>,
) -> CheckinPage {
    page_of_plan(
        &view.plan,
        &view.clinic,
        &view.patient.name,
        reply_days,
        now,
    )
}

/// The check-in page of a plan at `now`, for a patient of that name: what [`page`] shows, from
/// the plan alone (the consistency tests render it for every day of every kind of plan).
pub fn page_of_plan(
    plan: &Plan,
    clinic: &Clinic,
    patient_name: &str,
    reply_days: i32,
    now: DateTime<Utc>,
) -> CheckinPage {
    let today = now.with_timezone(&plan.time_zone).date_naive();
    let day = (today - plan.treated_at.local.date()).num_days().max(0);
    let phase = plan.phase_at(now).or_else(|| plan.phases.last());
    let first_name = patient_name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let when_to_worry = flag_groups(&plan.red_flags.groups, clinic);
    let mut flags: Vec<(Urgency, CheckGroup)> = if plan.red_flags.groups.is_empty() {
        // Version 1 plans have one ungrouped list: each item is a "call now".
        vec![(
            Urgency::CallNow,
            CheckGroup {
                urgency: Urgency::CallNow.id(),
                title: plan.red_flags.intro.clone(),
                items: red_flags(Urgency::CallNow, &plan.red_flags.items),
            },
        )]
    } else {
        plan.red_flags
            .groups
            .iter()
            .zip(&when_to_worry)
            .map(|(g, shown)| {
                let group = CheckGroup {
                    urgency: shown.urgency,
                    title: shown.title.clone(),
                    items: red_flags(g.urgency, &g.items),
                };
                (g.urgency, group)
            })
            .collect()
    };
    let (normal, normal_dated, past) = normal_items(plan, day);
    // A sign past its window is offered among the red flags of its urgency.
    for (urgency, item) in past {
        match flags.iter_mut().find(|(u, _)| *u == urgency) {
            Some((_, group)) => group.items.push(item),
            None => flags.push((
                urgency,
                CheckGroup {
                    urgency: urgency.id(),
                    title: past_title(urgency).into(),
                    items: vec![item],
                },
            )),
        }
    }
    flags.sort_by_key(|(u, _)| *u);
    let flags = flags.into_iter().map(|(_, g)| g).collect();
    CheckinPage {
        emergency_number: clinic::emergency_number(clinic),
        clinic: clinic.clone(),
        first_name,
        treated_on: clinic.locale.long_date(plan.treated_at.local.date()),
        day,
        phase_name: phase.map(|p| p.name.clone()).unwrap_or_default(),
        phase_skin: phase.map(|p| p.skin.clone()).unwrap_or_default(),
        normal,
        normal_dated,
        reply_days,
        flags,
        when_to_worry,
    }
}

fn red_flags(urgency: Urgency, texts: &[String]) -> Vec<CheckItem> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| CheckItem {
            id: format!("{}-{i}", urgency.id()),
            text: text.clone(),
            rule: ItemRule::RedFlag(urgency),
        })
        .collect()
}

/// A group's title when a plan has no red-flag group of a past sign's urgency.
fn past_title(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Emergency | Urgency::CallNow => {
            "Call your clinic now, or urgent care if it is closed, if you have:"
        }
        Urgency::TellUs => "Tell us soon if you have:",
    }
}

/// The "normal" boxes on `day`: (signs normal today, whether they are dated, signs past
/// their window, offered as "still there after day N" with the urgency they then have, unless
/// a red flag names that window: the red flag wins). A
/// plan stored before signs had windows offers its old lines, undated: never "common".
fn normal_items(plan: &Plan, day: i64) -> (Vec<CheckItem>, bool, Vec<(Urgency, CheckItem)>) {
    if plan.normal_signs().is_empty() {
        let undated = plan
            .normal
            .iter()
            .enumerate()
            .map(|(i, text)| CheckItem {
                id: format!("normal-{i}"),
                text: text.clone(),
                rule: ItemRule::Undated,
            })
            .collect();
        return (undated, false, vec![]);
    }
    let (today, past) = plan.normal_on(u32::try_from(day).unwrap_or(0));
    let today = today
        .into_iter()
        .map(|s| CheckItem {
            id: format!("normal-{}", s.id),
            text: s.text.clone(),
            rule: ItemRule::Normal,
        })
        .collect();
    // A sign whose window a red flag already names ("redness that has not faded by the end of
    // day 2") is offered once, as that red flag, not as a second box saying the same.
    let flags: Vec<&String> = plan
        .red_flags
        .groups
        .iter()
        .flat_map(|g| &g.items)
        .collect();
    let past = past
        .into_iter()
        .filter(|s| !s.red_flag.as_ref().is_some_and(|f| flags.contains(&f)))
        .map(|s| {
            // "Tell us" at least: no urgency is less.
            let urgency = s.past_urgency;
            let item = CheckItem {
                id: format!("past-{}", s.id),
                text: s.past_text.clone(),
                rule: ItemRule::PastWindow {
                    sign: s.id.clone(),
                    last_day: s.last_day,
                    urgency,
                },
            };
            (urgency, item)
        })
        .collect();
    (today, true, past)
}
