//! The protocol's hours and days: the bands tile the depths, the phases follow each other
//! from the treatment, and a deeper treatment never gets anything sooner.

use super::{check_list, MAX_HOURS};
use crate::protocol::checks::*;
use crate::protocol::types::*;
use crate::protocol::{MAX_DEPTH_MM, MIN_ACTIVE_GAP_DAYS, MIN_DEPTH_MM};

/// The evening email must come soon after the treatment, well before any day-2 email.
const MAX_EVENING_DELAY_HOURS: u32 = 12;

/// Bands must tile [MIN_DEPTH_MM, MAX_DEPTH_MM] shallowest first, with no gap or overlap.
pub(super) fn check_bands(bands: &[Band]) -> Check {
    let names = check_list("bands", bands)?;
    let mut expected_min = MIN_DEPTH_MM;
    for (band, entry) in bands.iter().zip(&names) {
        // Written this way round so that NaN (valid TOML) is refused too.
        if band.min_mm.is_nan() || band.max_mm.is_nan() || band.max_mm <= band.min_mm {
            return fail(
                entry,
                format!(
                    "max_mm {} must be greater than min_mm {}",
                    band.max_mm, band.min_mm
                ),
            );
        }
        if band.min_mm > expected_min {
            return fail(
                entry,
                format!(
                    "leaves a gap: starts at {} mm but depths from {expected_min} mm are not covered",
                    band.min_mm
                ),
            );
        }
        if band.min_mm < expected_min {
            return fail(
                entry,
                format!(
                    "overlaps: starts at {} mm but depths below {expected_min} mm are already covered",
                    band.min_mm
                ),
            );
        }
        expected_min = band.max_mm;
    }
    if expected_min != MAX_DEPTH_MM {
        let last = bands.len() - 1;
        return fail(
            &names[last],
            format!("max_mm must be {MAX_DEPTH_MM} so that every depth up to {MAX_DEPTH_MM} mm has a band (it is {expected_min})"),
        );
    }
    Ok(())
}

/// Phases must start at hour 0 and follow each other without gap, for every band. Returns the
/// last phase's end per band.
pub(super) fn check_phases(phases: &[PhaseSpec], bands: &[Band]) -> Result<Vec<u32>, Invalid> {
    let names = check_list("phases", phases)?;
    let mut previous_ends = vec![0u32; bands.len()];
    for (i, (phase, entry)) in phases.iter().zip(&names).enumerate() {
        let hours = per_band(entry, "hours", &phase.hours, bands)?;
        for (b, [start, end]) in hours.iter().map(|h| **h).enumerate() {
            let band = &bands[b].id;
            at_most(entry, "the end hour", end, MAX_HOURS)?;
            if end <= start {
                return fail(
                    entry,
                    format!("goes backwards for band \"{band}\": ends at {end} h, not after its start at {start} h"),
                );
            }
            if start != previous_ends[b] {
                let problem = if i == 0 {
                    format!(
                        "must start at 0 h (the treatment) for band \"{band}\", not at {start} h"
                    )
                } else {
                    format!(
                        "is not contiguous for band \"{band}\": starts at {start} h but {} ends at {} h",
                        names[i - 1],
                        previous_ends[b]
                    )
                };
                return fail(entry, problem);
            }
        }
        let ends: Vec<u32> = hours.iter().map(|h| h[1]).collect();
        never_sooner(entry, "the end hour", &ends, bands)?;
        previous_ends = ends;
    }
    Ok(previous_ends)
}

/// Each timed list ends on a phase boundary of its band, never sooner for a deeper band.
pub(super) fn check_timed_avoid(
    timed: &[TimedAvoid],
    phases: &[PhaseSpec],
    bands: &[Band],
) -> Check {
    if timed.is_empty() {
        return Ok(());
    }
    let names = check_list("timed_avoid", timed)?;
    for (item, entry) in timed.iter().zip(&names) {
        not_empty(entry, "items", &item.items)?;
        let until: Vec<u32> = per_band(entry, "until_hours", &item.until_hours, bands)?
            .into_iter()
            .copied()
            .collect();
        for (band, &hours) in bands.iter().zip(&until) {
            // Phases were checked first, so every phase has hours for every band.
            let boundaries: Vec<u32> = phases.iter().map(|p| p.hours[&band.id][1]).collect();
            if !boundaries.contains(&hours) {
                return fail(
                    entry,
                    format!(
                        "until_hours for band \"{}\" is {hours} h, which is not the end of a phase; \
                         use one of {boundaries:?}",
                        band.id
                    ),
                );
            }
        }
        never_sooner(entry, "until_hours", &until, bands)?;
    }
    Ok(())
}

/// Returns the latest reintroduction day over all actives and bands.
pub(super) fn check_actives(actives: &[Active], bands: &[Band]) -> Result<u32, Invalid> {
    let names = check_list("actives", actives)?;
    let mut latest = 0;
    let mut per_active: Vec<Vec<u32>> = Vec::with_capacity(actives.len());
    for (active, entry) in actives.iter().zip(&names) {
        let days: Vec<u32> = per_band(entry, "days", &active.days, bands)?
            .into_iter()
            .copied()
            .collect();
        for &day in &days {
            // Day 0 and 1 could fall before the evening email, which would then swallow them.
            if day < 2 {
                return fail(entry, format!("day {day} is too early: use day 2 or later"));
            }
            at_most(entry, "a day", day, MAX_DAYS)?;
            latest = latest.max(day);
        }
        never_sooner(entry, "the reintroduction day", &days, bands)?;
        if let Some(floor_band) = &active.not_before_band {
            known_band(entry, "not_before_band", floor_band, bands)?;
            let floor = active.days[floor_band];
            if let Some((band, day)) = bands.iter().zip(&days).find(|(_, d)| **d < floor) {
                return fail(
                    entry,
                    format!(
                        "day {day} for band \"{}\" is before day {floor}, the \"{floor_band}\" \
                         band's day, which not_before_band makes the earliest",
                        band.id
                    ),
                );
            }
        }
        per_active.push(days);
    }
    // One product at a time: within a band, any two actives are MIN_ACTIVE_GAP_DAYS apart.
    for (b, band) in bands.iter().enumerate() {
        for i in 0..actives.len() {
            for j in 0..i {
                let (earlier, later) = (per_active[j][b], per_active[i][b]);
                if earlier.abs_diff(later) < MIN_ACTIVE_GAP_DAYS {
                    return fail(
                        &names[i],
                        format!(
                            "comes back on day {later} for band \"{}\", {} day(s) from {} on day \
                             {earlier}; two actives must be at least {MIN_ACTIVE_GAP_DAYS} days apart",
                            band.id,
                            earlier.abs_diff(later),
                            names[j]
                        ),
                    );
                }
            }
        }
    }
    Ok(latest)
}

/// An adjustable restriction names itself for the form, and its range holds its default.
pub(super) fn check_adjustable(f: &ProtocolFile, bands: &[Band]) -> Check {
    let timed = f.timed_avoid.iter().enumerate().map(|(i, t)| {
        let mut entry = entry_name("timed_avoid", i, &t.id);
        if t.id == f.decisions.peels_after_acids.restriction {
            entry.push_str(" (its default is set by [decisions.peels_after_acids])");
        }
        (entry, &t.adjust, &t.until_hours, MAX_HOURS)
    });
    let actives = f.actives.iter().enumerate().map(|(i, a)| {
        let entry = entry_name("actives", i, &a.id);
        (entry, &a.adjust, &a.days, MAX_DAYS)
    });
    for (entry, adjust, defaults, max) in timed.chain(actives) {
        if adjust.is_empty() {
            continue;
        }
        let ranges = per_band(&entry, "adjust", adjust, bands)?;
        for (band, [low, high]) in bands.iter().zip(ranges) {
            // Defaults were checked first, so every band has one.
            let default = &defaults[&band.id];
            if !(low <= default && default <= high && *high <= max) {
                return fail(
                    &entry,
                    format!(
                        "adjust for band \"{}\" is [{low}, {high}]: it must hold the default \
                         {default} and end by {max}",
                        band.id
                    ),
                );
            }
        }
    }
    for (i, t) in f.timed_avoid.iter().enumerate() {
        if !t.adjust.is_empty() && t.label.trim().is_empty() {
            return fail(
                &entry_name("timed_avoid", i, &t.id),
                "an adjustable restriction needs a label for the form",
            );
        }
    }
    Ok(())
}

/// Returns the window's first day per band.
pub(super) fn check_next_session(
    next: &NextSessionSpec,
    bands: &[Band],
) -> Result<Vec<u32>, Invalid> {
    let entry = "next_session";
    check_texts(
        entry,
        vec![
            ("note".into(), next.note.as_str()),
            ("headline".into(), next.headline.as_str()),
        ],
        &next.sources,
    )?;
    if !next.note.contains(GAP) {
        return fail(
            entry,
            format!("note must contain {GAP}, filled in from the band's own window"),
        );
    }
    let windows = per_band(entry, "days", &next.days, bands)?;
    for (band, [from, to]) in bands.iter().zip(windows.iter().map(|w| **w)) {
        if from < 2 || to < from {
            return fail(
                entry,
                format!(
                    "days [{from}, {to}] for band \"{}\" must go upwards from day 2 or later",
                    band.id
                ),
            );
        }
        at_most(entry, "a day", to, MAX_DAYS)?;
    }
    let froms: Vec<u32> = windows.iter().map(|w| w[0]).collect();
    never_sooner(entry, "the window's first day", &froms, bands)?;
    Ok(froms)
}

/// Returns the daily-email days per band.
pub(super) fn check_cadence(
    cadence: &Cadence,
    phases: &[PhaseSpec],
    bands: &[Band],
) -> Result<Vec<u32>, Invalid> {
    let entry = "reminders";
    check_texts(
        entry,
        vec![
            ("evening_subject".into(), cadence.evening_subject.as_str()),
            ("day_subject".into(), cadence.day_subject.as_str()),
            ("results_phase".into(), cadence.results_phase.as_str()),
        ],
        &cadence.sources,
    )?;
    if !(1..=MAX_EVENING_DELAY_HOURS).contains(&cadence.evening_delay_hours) {
        return fail(
            entry,
            format!(
                "evening_delay_hours is {}; it must be 1 to {MAX_EVENING_DELAY_HOURS}",
                cadence.evening_delay_hours
            ),
        );
    }
    if let Some(hour) = cadence.evening_not_before_hour {
        at_most(entry, "evening_not_before_hour", hour, 23)?;
    }
    for placeholder in ["{day}", "{headline}"] {
        if !cadence.day_subject.contains(placeholder) {
            return fail(entry, format!("day_subject must contain {placeholder}"));
        }
    }
    let daily: Vec<u32> = per_band(entry, "daily_days", &cadence.daily_days, bands)?
        .into_iter()
        .copied()
        .collect();
    for &days in &daily {
        at_most(entry, "daily_days", days, MAX_DAYS)?;
    }
    let Some(results) = phases.iter().find(|p| p.id == cadence.results_phase) else {
        return fail(
            entry,
            format!(
                "results_phase \"{}\" is not one of the phases",
                cadence.results_phase
            ),
        );
    };
    // Like the actives: a results email on day 0 or 1 could clash with the evening email.
    if let Some((band, start)) = results
        .hours
        .iter()
        .map(|(band, h)| (band, h[0]))
        .find(|(_, start)| *start < 48)
    {
        return fail(
            entry,
            format!(
                "results_phase \"{}\" starts at {start} h for band \"{band}\"; it must start at 48 h or later",
                results.id
            ),
        );
    }
    Ok(daily)
}
