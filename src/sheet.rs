//! The aftercare sheet as people read it: the stored plan, formatted with
//! real weekdays and dates. Pure formatting; the same view feeds the printed
//! sheet and the patient's online copy.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::care::protocol::format_mm;
use crate::care::Plan;
use crate::clinic::Clinic;

pub struct Sheet {
    pub clinic: Clinic,
    pub patient_name: String,
    pub treated_on: String,
    pub areas: Vec<String>,
    pub band: String,
    pub phases: Vec<SheetPhase>,
    pub actives: Vec<SheetActive>,
    pub area_notes: Vec<(String, Vec<String>)>,
    pub red_flags_intro: String,
    pub red_flags: Vec<String>,
    pub next_session: String,
    pub next_session_note: String,
    /// The patient's own link to this sheet online.
    pub online_url: String,
    pub protocol: String,
}

pub struct SheetPhase {
    pub name: String,
    pub when: String,
    pub skin: String,
    pub do_items: Vec<String>,
    pub avoid_items: Vec<String>,
}

pub struct SheetActive {
    pub name: String,
    pub from: String,
    pub how: String,
}

pub fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

pub fn short_date(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

fn short_moment(t: NaiveDateTime) -> String {
    t.format("%a %-d %b, %H:%M").to_string()
}

/// A stored UTC time in a zone, as staff pages show it: "Mon 3 Mar 2025, 14:30".
pub fn local_moment(utc: NaiveDateTime, tz: chrono_tz::Tz) -> String {
    utc.and_utc()
        .with_timezone(&tz)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// Short phases show times; longer ones show the days.
fn phase_span(start: NaiveDateTime, end: NaiveDateTime) -> String {
    if end - start <= Duration::hours(48) {
        if start.date() == end.date() {
            format!("{} – {}", short_moment(start), end.format("%H:%M"))
        } else {
            format!("{} – {}", short_moment(start), short_moment(end))
        }
    } else {
        format!("{} – {}", short_date(start.date()), short_date(end.date()))
    }
}

pub fn build(plan: &Plan, clinic: &Clinic, patient_name: &str, online_url: String) -> Sheet {
    Sheet {
        clinic: clinic.clone(),
        patient_name: patient_name.to_string(),
        treated_on: format!(
            "{} at {}",
            long_date(plan.treated_at.local.date()),
            plan.treated_at.local.format("%H:%M")
        ),
        areas: plan
            .areas
            .iter()
            .map(|a| format!("{} ({} mm)", a.label, format_mm(a.depth_mm)))
            .collect(),
        band: plan.band.label.clone(),
        phases: plan
            .phases
            .iter()
            .map(|p| SheetPhase {
                name: p.name.clone(),
                when: phase_span(p.starts_at.local, p.ends_at.local),
                skin: p.skin.clone(),
                do_items: p.do_items.clone(),
                avoid_items: p.avoid_items.clone(),
            })
            .collect(),
        actives: plan
            .actives
            .iter()
            .map(|a| SheetActive {
                name: a.name.clone(),
                from: long_date(a.from),
                how: a.how.clone(),
            })
            .collect(),
        area_notes: plan
            .area_notes
            .iter()
            .map(|n| (n.label.clone(), n.notes.clone()))
            .collect(),
        red_flags_intro: plan.red_flags.intro.clone(),
        red_flags: plan.red_flags.items.clone(),
        next_session: format!(
            "between {} and {}",
            long_date(plan.next_session.from),
            long_date(plan.next_session.to)
        ),
        next_session_note: plan.next_session.note.clone(),
        online_url,
        protocol: format!("{} v{}", plan.protocol_name, plan.protocol_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn phase_spans_read_naturally() {
        assert_eq!(
            phase_span(at("2026-11-24 14:30"), at("2026-11-24 20:30")),
            "Tue 24 Nov, 14:30 – 20:30"
        );
        assert_eq!(
            phase_span(at("2026-11-24 14:30"), at("2026-11-25 14:30")),
            "Tue 24 Nov, 14:30 – Wed 25 Nov, 14:30"
        );
        assert_eq!(
            phase_span(at("2026-11-27 14:30"), at("2026-12-01 14:30")),
            "Fri 27 Nov – Tue 1 Dec"
        );
    }
}
