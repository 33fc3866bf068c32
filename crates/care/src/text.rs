//! A plain-text rendering of a whole plan, for `aftercare protocol check FILE` and for debugging.

use std::fmt::Write;

use chrono::{NaiveDate, NaiveDateTime};

use super::plan::{Plan, TreatedArea, TreatmentInput};
use super::protocol::format_mm;
use super::schedule::utc_to_local;

/// A standard face treatment (cheeks and forehead at 1.0 mm, Europe/London, Friday 27 March 2026
/// at 14:30, emails at 09:00): the sample the CLI prints a plan for. The date makes the plan
/// cross the spring-forward change of 29 March 2026.
pub fn sample_input() -> TreatmentInput {
    let area = |id: &str| TreatedArea {
        area_id: id.to_string(),
        depth_mm: 1.0,
    };
    TreatmentInput {
        tailoring: Default::default(),
        areas: vec![area("cheeks"), area("forehead")],
        treated_at: NaiveDate::from_ymd_opt(2026, 3, 27)
            .and_then(|d| d.and_hms_opt(14, 30, 0))
            .unwrap_or_default(),
        time_zone: "Europe/London".to_string(),
        send_hour: 9,
    }
}

fn when(local: NaiveDateTime) -> String {
    local.format("%a %-d %b %Y %H:%M").to_string()
}

fn date(day: NaiveDate) -> String {
    day.format("%a %-d %b %Y").to_string()
}

fn bullets(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {title}");
    for item in items {
        let _ = writeln!(out, "    - {item}");
    }
}

/// Renders every part of the plan, times on the clinic's clock (emails also in UTC).
pub fn plan_as_text(plan: &Plan) -> String {
    // Writing to a String cannot fail, hence the ignored results.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "AFTERCARE PLAN ({} {})",
        plan.protocol_name, plan.protocol_version
    );
    let _ = writeln!(
        out,
        "Treated: {} ({})",
        when(plan.treated_at.local),
        plan.time_zone
    );
    let areas: Vec<String> = plan
        .areas
        .iter()
        .map(|a| format!("{} {} mm", a.label, format_mm(a.depth_mm)))
        .collect();
    let _ = writeln!(out, "Areas: {}", areas.join(", "));
    let _ = writeln!(
        out,
        "Depth band: {}, based on the deepest needle depth recorded",
        plan.band.label
    );

    let _ = writeln!(out, "\nYOUR HEALING, STEP BY STEP");
    for phase in &plan.phases {
        let _ = writeln!(
            out,
            "\n{}: {} to {}",
            phase.name,
            when(phase.starts_at.local),
            when(phase.ends_at.local)
        );
        let _ = writeln!(out, "  {}", phase.skin);
        bullets(&mut out, "Do:", &phase.do_items);
        bullets(&mut out, "Avoid:", &phase.avoid_items);
    }

    let _ = writeln!(out, "\nWHEN YOUR PRODUCTS CAN COME BACK");
    for active in &plan.actives {
        let _ = writeln!(
            out,
            "  - {}: from {} (day {}). {}",
            active.name,
            date(active.from),
            active.day,
            active.how
        );
    }

    if !plan.area_notes.is_empty() {
        let _ = writeln!(out, "\nNOTES FOR YOUR TREATED AREAS");
        for notes in &plan.area_notes {
            bullets(&mut out, &format!("{}:", notes.label), &notes.notes);
        }
    }

    let _ = writeln!(out, "\nYOUR NEXT SESSION");
    let _ = writeln!(
        out,
        "  Book it for between {} and {}. {}",
        date(plan.next_session.from),
        date(plan.next_session.to),
        plan.next_session.note
    );

    if !plan.tonight.is_empty() {
        let _ = writeln!(out, "\nTONIGHT");
        bullets(&mut out, "Whatever the time of treatment:", &plan.tonight);
    }
    let normal = plan.normal_texts();
    if !normal.is_empty() {
        let _ = writeln!(out, "\nWHAT IS NORMAL");
        bullets(&mut out, "In the first days:", &normal);
    }

    let _ = writeln!(out, "\nWHEN TO CALL US");
    bullets(&mut out, &plan.red_flags.intro, &plan.red_flags.items);
    for group in &plan.red_flags.groups {
        bullets(
            &mut out,
            &format!("[{}] {}", group.urgency.id(), group.title),
            &group.items,
        );
    }
    if !plan.disclaimer.is_empty() {
        let _ = writeln!(out, "\n{}", plan.disclaimer);
    }

    let _ = writeln!(
        out,
        "\nREMINDER EMAILS (send hour {:02}:00)",
        plan.send_hour
    );
    for reminder in &plan.reminders {
        let _ = writeln!(
            out,
            "  {:<18} {} ({} UTC)  {}",
            reminder.key,
            when(utc_to_local(plan.time_zone, reminder.send_at)),
            reminder.send_at.format("%Y-%m-%d %H:%M"),
            reminder.subject
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compute_plan, Protocol};

    #[test]
    fn sample_plan_renders_every_part() {
        let plan = compute_plan(&Protocol::default_protocol(), &sample_input()).unwrap();
        let text = plan_as_text(&plan);
        for part in [
            "Treated: Fri 27 Mar 2026 14:30 (Europe/London)",
            "Areas: Cheeks 1.0 mm, Forehead 1.0 mm",
            "Depth band: Standard (0.5 to under 1.5 mm), based on the deepest needle depth recorded",
            // The day-2 boundary is after the spring-forward change: 14:30 GMT shows as 15:30 BST.
            "Redness fades: Sat 28 Mar 2026 14:30 to Sun 29 Mar 2026 15:30",
            "Vitamin C serums: from Wed 1 Apr 2026 (day 5)",
            "Book it for between Fri 24 Apr 2026 and Fri 8 May 2026",
            "A fever or chills.",
            "TONIGHT",
            "A course is usually 3 to 6 sessions. For your skin, leave 4 to 6 weeks between them.",
            "day-2              Sun 29 Mar 2026 09:00 (2026-03-29 08:00 UTC)  Day 2 after your treatment: gentle cleansing and SPF",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }
}
