//! Validation of a parsed protocol file: every check names the entry and the problem, and the
//! caller adds the file name.
//!
//! - `entries`: what every list entry shares (ids, texts, sources), and which sources each cites.
//! - `timing`: the hours and days: bands tile the depths, phases follow each other, nothing
//!   comes sooner for a deeper band.
//! - `content`: what the patient reads and what it names: Tonight, normal signs, red flags,
//!   add-ons and considerations, the areas' replaced lines, the consistency tests' tags.
//!
//! [`validate`] runs them in the file's order, checks classes, areas and sources itself, and
//! what spans sections: every email falls inside the plan's phases.

use super::checks::*;
use super::types::*;
use super::{EMAIL_SPARE_DAYS, MAX_DEPTH_MM, MIN_DEPTH_MM};

mod content;
mod entries;
mod timing;

use content::{
    check_normal_signs, check_red_flags, check_replaces, check_tags, check_tailors, check_tonight,
};
use entries::check_list;
pub(super) use entries::cited;
use timing::{
    check_actives, check_adjustable, check_bands, check_cadence, check_next_session, check_phases,
    check_timed_avoid,
};

/// Hours above this are surely a typo, like days above [`MAX_DAYS`].
const MAX_HOURS: u32 = MAX_DAYS * 24;
/// The healing factor may lengthen a plan up to this many times.
const MAX_HEALING_FACTOR: f64 = 3.0;

pub(super) fn validate(f: &ProtocolFile) -> Check {
    check_filled(
        "protocol",
        vec![
            ("name".into(), f.name.as_str()),
            ("disclaimer".into(), f.disclaimer.as_str()),
        ],
    )?;
    if f.version == 0 {
        return fail("protocol", "version must be 1 or more");
    }
    check_sources(&f.sources)?;
    check_bands(&f.bands)?;
    let bands = &f.bands;
    let class_names = check_list("classes", &f.classes)?;
    for (class, entry) in f.classes.iter().zip(&class_names) {
        let factor = class.healing_factor;
        if !(1.0..=MAX_HEALING_FACTOR).contains(&factor) {
            return fail(
                entry,
                format!("healing_factor {factor} must be between 1.0 and {MAX_HEALING_FACTOR}"),
            );
        }
        at_most(
            entry,
            "daily_reminder_extra_days",
            class.daily_reminder_extra_days,
            MAX_DAYS,
        )?;
        if let Some(band) = &class.actives_band {
            known_band(entry, "actives_band", band, bands)?;
        }
        check_replaces(entry, &class.replaces, f)?;
    }
    let area_names = check_list("areas", &f.areas)?;
    for (area, entry) in f.areas.iter().zip(&area_names) {
        check_replaces(entry, &area.replaces, f)?;
        if !f.classes.iter().any(|c| c.id == area.class) {
            return fail(
                entry,
                format!("class \"{}\" is not one of the classes", area.class),
            );
        }
        if let Some([low, high]) = area.typical_mm {
            if !(MIN_DEPTH_MM <= low && low < high && high <= MAX_DEPTH_MM) {
                return fail(
                    entry,
                    format!(
                        "typical_mm [{low}, {high}] must go upwards within {MIN_DEPTH_MM}–{MAX_DEPTH_MM} mm"
                    ),
                );
            }
        }
    }
    check_tonight(&f.tonight)?;
    check_normal_signs("normal_signs", &f.normal_signs, f)?;
    let phase_ends = check_phases(&f.phases, bands)?;
    check_timed_avoid(&f.timed_avoid, &f.phases, bands)?;
    let mut max_active_day = check_actives(&f.actives, bands)?;
    check_adjustable(f, bands)?;
    check_tags(f)?;
    for (list, tailors) in [
        ("add_ons", &f.add_ons),
        ("considerations", &f.considerations),
    ] {
        max_active_day = max_active_day.max(check_tailors(f, list, tailors)?);
    }
    // An adjusted active's milestone email must still fall inside the phases.
    for active in &f.actives {
        for [_, max] in active.adjust.values() {
            max_active_day = max_active_day.max(*max);
        }
    }
    check_red_flags(&f.red_flags, &f.normal_signs)?;
    let next_from = check_next_session(&f.next_session, bands)?;
    let daily_days = check_cadence(&f.reminders, &f.phases, bands)?;

    // Every email must fall inside the plan's phases, so the last phase must run past the last
    // milestone, with two days to spare for the send hour and a daylight-saving shift.
    let max_extra = f
        .classes
        .iter()
        .map(|c| c.daily_reminder_extra_days)
        .max()
        .unwrap_or(0);
    let last = f.phases.len() - 1;
    for (i, band) in bands.iter().enumerate() {
        let last_day = max_active_day
            .max(next_from[i])
            .max(daily_days[i] + max_extra);
        let needed = (last_day + EMAIL_SPARE_DAYS) * 24;
        if phase_ends[i] < needed {
            return fail(
                &entry_name("phases", last, &f.phases[last].id),
                format!(
                    "ends at {} h for band \"{}\", but emails run to day {last_day}; \
                     it must end at {needed} h or later",
                    phase_ends[i], band.id
                ),
            );
        }
    }
    super::decisions::check(f)?;
    check_citations(f)
}

/// Source ids are unique, and a public reference carries a title and a web address.
fn check_sources(sources: &[Source]) -> Check {
    let names = check_list("sources", sources)?;
    for (source, entry) in sources.iter().zip(&names) {
        let url = source.url.as_deref().unwrap_or("").trim();
        match source.kind {
            SourceKind::Reference
                if !(url.starts_with("https://") || url.starts_with("http://")) =>
            {
                return fail(
                    entry,
                    "a reference needs its web address: url = \"https://…\"",
                );
            }
            SourceKind::Guide if !url.is_empty() => {
                return fail(entry, "a guide has no url; make it a reference instead");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every id an entry cites is declared in [[sources]], so a typo cannot pass for a source.
fn check_citations(f: &ProtocolFile) -> Check {
    for (entry, ids) in cited(f) {
        if let Some(id) = ids
            .iter()
            .find(|id| !f.sources.iter().any(|s| &s.id == *id))
        {
            return fail(
                &entry,
                format!("cites source \"{id}\", which is not declared in [[sources]]"),
            );
        }
    }
    Ok(())
}
