//! The aftercare plan as a `CarePlan`: one activity per healing phase (its period in the
//! patient's own dates, what to do and avoid), one per restriction (what not to do until
//! when), one per active ingredient (from which date it may come back) and the window for
//! the next session.

use chrono::{DateTime, NaiveDate, Utc};

use super::codes::{coding, system};
use super::resources::{Activity, ActivityDetail, Annotation, CarePlan, CodeableConcept, Period};
use super::{date_time, text, Ids, Record};

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn concept(system_name: &str, code: &str, display: &str) -> CodeableConcept {
    CodeableConcept {
        coding: vec![coding(system(system_name), code, display)],
        text: Some(display.to_string()),
    }
}

/// Where an activity stands at `now`, from its period's moments (None: open-ended).
fn status(starts: DateTime<Utc>, ends: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match ends {
        Some(end) if now >= end => "completed",
        _ if now >= starts => "in-progress",
        _ => "scheduled",
    }
}

/// "Do: a; b. Avoid: c." with the parts that have items.
fn lists(parts: &[(&str, &[String])]) -> String {
    parts
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(label, items)| format!("{label}: {}.", items.join("; ")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn care_plan(r: &Record, ids: &Ids) -> CarePlan {
    let plan = r.plan;
    let tz = plan.time_zone;
    let now = r.now;
    let treated = plan.treated_at.utc;
    let mut activity = Vec::new();
    for phase in &plan.phases {
        let mut description = format!("{}: {}", phase.name, phase.skin.trim());
        let todo = lists(&[("Do", &phase.do_items), ("Avoid", &phase.avoid_items)]);
        if !todo.is_empty() {
            description = format!("{description} {todo}");
        }
        activity.push(Activity {
            detail: ActivityDetail {
                code: concept("healing-phase", &phase.id, &phase.name),
                status: status(phase.starts_at.utc, Some(phase.ends_at.utc), now),
                do_not_perform: false,
                scheduled_period: Period {
                    start: Some(date_time(phase.starts_at.utc, tz)),
                    end: Some(date_time(phase.ends_at.utc, tz)),
                },
                description,
            },
        });
    }
    for restriction in &plan.avoid_until {
        for item in &restriction.items {
            activity.push(Activity {
                detail: ActivityDetail {
                    code: concept("restriction", "avoid", "Avoid for a set time"),
                    status: status(treated, Some(restriction.until.utc), now),
                    do_not_perform: true,
                    scheduled_period: Period {
                        start: Some(date_time(treated, tz)),
                        end: Some(date_time(restriction.until.utc, tz)),
                    },
                    description: item.clone(),
                },
            });
        }
    }
    for active in &plan.actives {
        let from = active
            .from
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .map_or(treated, |t| t.with_timezone(&Utc));
        let how = active.how.trim();
        activity.push(Activity {
            detail: ActivityDetail {
                code: concept("active-return", &active.key, &active.name),
                status: status(from, None, now),
                do_not_perform: false,
                scheduled_period: Period {
                    start: Some(date(active.from)),
                    end: None,
                },
                description: match how {
                    "" => format!("{} may come back from {}.", active.name, date(active.from)),
                    how => format!(
                        "{} may come back from {}: {how}",
                        active.name,
                        date(active.from)
                    ),
                },
            },
        });
    }
    let next = &plan.next_session;
    activity.push(Activity {
        detail: ActivityDetail {
            code: concept("next-session", "next-session", "Next session window"),
            status: "not-started",
            do_not_perform: false,
            scheduled_period: Period {
                start: Some(date(next.from)),
                end: Some(date(next.to)),
            },
            description: text(&next.note)
                .unwrap_or_else(|| "The window for booking the next session.".into()),
        },
    });
    let ends = plan.phases.last().map_or(treated, |p| p.ends_at.utc);
    CarePlan {
        id: ids.id("careplan"),
        status: if now >= ends { "completed" } else { "active" },
        intent: "plan",
        title: format!("Aftercare after microneedling ({})", plan.band.label),
        subject: ids.to("patient", Some(&r.patient.name)),
        period: Period {
            start: Some(date_time(treated, tz)),
            end: Some(date_time(ends, tz)),
        },
        author: ids.to("practitioner", Some(&r.practitioner.1)),
        supporting_info: vec![ids.to("procedure", None)],
        activity,
        note: text(&plan.tailoring.patient_note)
            .map(|text| Annotation { text })
            .into_iter()
            .collect(),
    }
}
