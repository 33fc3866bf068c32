//! `[decisions]`: the five choices the clinic owns (clinical review 2026-12-04). Each is read
//! here and written into the entries it governs before the file is validated, so the plan has
//! one source for each value; a file that sets one of them in its entry as well is refused.

use super::checks::{at_most, by_band, check_texts, entry_name, fail, Check, MAX_DAYS};
use super::types::*;
use super::Protocol;

const D1: &str = "decisions.prp_wash";
const D2: &str = "decisions.peels_after_acids";
const D3: &str = "decisions.redness_limit";
const D4: &str = "decisions.shortest_heat_ban";
const D5: &str = "decisions.actives_evidence";

/// Writes each decision's value into the entry it governs: the PRP add-on's phases (D1), the
/// end of the peels-and-laser restriction (D2), the redness sign's window (D3). Refuses an entry
/// that sets the value itself. Runs before validation, so it never assumes a band or phase is
/// complete: what it cannot fill, validation reports.
pub(super) fn apply(f: &mut ProtocolFile) -> Check {
    let d = &f.decisions.prp_wash;
    let Some(add_on) = f.add_ons.iter().position(|t| t.id == d.add_on) else {
        return fail(D1, format!("add_on names unknown add-on \"{}\"", d.add_on));
    };
    let Some(last) = f.phases.iter().position(|p| p.id == d.keep_on_through) else {
        return fail(
            D1,
            format!(
                "keep_on_through names unknown phase \"{}\"",
                d.keep_on_through
            ),
        );
    };
    if !f.add_ons[add_on].phases.is_empty() {
        return set_by_decision("add_ons", add_on, &f.add_ons[add_on].id, "phases", D1);
    }
    f.add_ons[add_on].phases = f.phases[..=last].iter().map(|p| p.id.clone()).collect();

    let d = &f.decisions.peels_after_acids;
    let Some(restriction) = f.timed_avoid.iter().position(|t| t.id == d.restriction) else {
        return fail(
            D2,
            format!(
                "restriction names unknown timed_avoid \"{}\"",
                d.restriction
            ),
        );
    };
    let Some(active) = f.actives.iter().find(|a| a.id == d.active) else {
        return fail(D2, format!("active names unknown active \"{}\"", d.active));
    };
    if !f.timed_avoid[restriction].until_hours.is_empty() {
        let id = &f.timed_avoid[restriction].id;
        return set_by_decision("timed_avoid", restriction, id, "until_hours", D2);
    }
    let mut until = std::collections::BTreeMap::new();
    for band in &f.bands {
        let (Some(day), Some(offset)) = (active.days.get(&band.id), d.offset_days.get(&band.id))
        else {
            continue;
        };
        at_most(D2, "offset_days", *offset, MAX_DAYS)?;
        let from_hours = (day + offset) * 24;
        // The end of the phase the day falls in, so no phase carries the rule for part of it.
        let end = f
            .phases
            .iter()
            .filter_map(|p| p.hours.get(&band.id))
            .map(|h| h[1])
            .filter(|&end| end >= from_hours)
            .min();
        let Some(end) = end else {
            return fail(
                D2,
                format!(
                    "for band \"{}\", day {day} of \"{}\" plus {offset} day(s) is day {}, after the \
                     last phase ends; lower offset_days or lengthen the last phase",
                    band.id,
                    active.id,
                    day + offset
                ),
            );
        };
        until.insert(band.id.clone(), end);
    }
    f.timed_avoid[restriction].until_hours = until;

    let d = &f.decisions.redness_limit;
    let Some(sign) = f.normal_signs.iter().position(|s| s.id == d.sign) else {
        return fail(D3, format!("sign names unknown normal sign \"{}\"", d.sign));
    };
    if !f.normal_signs[sign].last_day.is_unset() {
        let id = &f.normal_signs[sign].id;
        return set_by_decision("normal_signs", sign, id, "last_day", D3);
    }
    f.normal_signs[sign].last_day = d.last_day.clone();
    Ok(())
}

fn set_by_decision(list: &str, index: usize, id: &str, field: &str, decision: &str) -> Check {
    fail(
        &entry_name(list, index, id),
        format!("{field} is set by [{decision}]; remove it here and change it there"),
    )
}

/// The checks that need the whole, validated file: each decision's texts and sources, and that
/// its value keeps the plan safe.
pub(super) fn check(f: &ProtocolFile) -> Check {
    let decisions = &f.decisions;
    for (entry, d) in about(decisions) {
        check_texts(
            entry,
            vec![("decides".into(), d.decides), ("why".into(), d.why)],
            d.sources,
        )?;
    }

    // D1: the plasma stays on exactly while the plan forbids washing.
    let d = &decisions.prp_wash;
    check_texts(
        D1,
        vec![("no_wash_line".into(), &d.no_wash_line)],
        &d.sources,
    )?;
    let last = f
        .phases
        .iter()
        .position(|p| p.id == d.keep_on_through)
        .unwrap_or(0);
    let forbids_washing = |p: &PhaseSpec| p.avoid_items.contains(&d.no_wash_line);
    if let Some((i, p)) = f.phases[..=last]
        .iter()
        .enumerate()
        .find(|(_, p)| !forbids_washing(p))
    {
        return fail(
            D1,
            format!(
                "{} does not avoid \"{}\": the plasma would stay on while the plan lets the \
                 patient wash; keep_on_through must end the base no-wash window",
                entry_name("phases", i, &p.id),
                d.no_wash_line
            ),
        );
    }
    if let Some(next) = f.phases.get(last + 1).filter(|p| forbids_washing(p)) {
        return fail(
            D1,
            format!(
                "{} still avoids \"{}\": the plan would forbid washing after the plasma may come \
                 off; keep_on_through must be the last phase that forbids washing",
                entry_name("phases", last + 1, &next.id),
                d.no_wash_line
            ),
        );
    }

    // D2: offset per band (its values were range-checked when applied), and no practitioner
    // may bring peels and laser back before the acids' day plus the offset.
    let d = &decisions.peels_after_acids;
    let offsets = by_band(D2, "offset_days", &d.offset_days, &f.bands)?;
    let acids = f.actives.iter().find(|a| a.id == d.active);
    let peels = f
        .timed_avoid
        .iter()
        .enumerate()
        .find(|(_, t)| t.id == d.restriction);
    if let (Some(acids), Some((index, peels))) = (acids, peels) {
        for (band, offset) in f.bands.iter().zip(offsets) {
            let floor = (acids.days[&band.id] + offset) * 24;
            if let Some([low, _]) = peels.adjust.get(&band.id).filter(|[low, _]| *low < floor) {
                return fail(
                    &entry_name("timed_avoid", index, &peels.id),
                    format!(
                        "adjust for band \"{}\" starts at {low} h, before {floor} h, the day of \"{}\" \
                         plus offset_days ([{D2}])",
                        band.id, acids.id
                    ),
                );
            }
        }
    }

    // D3: the redness limit is a red flag for everyone, within the band's healing.
    let d = &decisions.redness_limit;
    let days = by_band(D3, "last_day", &d.last_day, &f.bands)?;
    let sign = f.normal_signs.iter().find(|s| s.id == d.sign);
    if let Some(sign) = sign {
        if !sign.areas.is_empty() || sign.past_urgency != Urgency::CallNow {
            return fail(
                D3,
                format!(
                    "normal sign \"{}\" must apply to every patient (no areas) and be call-now \
                     past its window: the limit is a red flag",
                    sign.id
                ),
            );
        }
    }
    let reference = format!("{{day:{}}}", d.sign);
    let in_red_flag = f
        .red_flags
        .iter()
        .filter(|g| g.id == Urgency::CallNow)
        .any(|g| g.items.iter().any(|item| item.contains(&reference)));
    if !in_red_flag {
        return fail(
            D3,
            format!("no call-now red flag names {reference}: the limit must reach the red flags"),
        );
    }
    let results = f.phases.iter().find(|p| p.id == f.reminders.results_phase);
    // An add-on or consideration may lengthen the window (PRP), within the same bounds.
    let lengthened = f
        .add_ons
        .iter()
        .chain(&f.considerations)
        .filter_map(|t| t.normal_last_day.get(&d.sign))
        .max();
    for (band, &day) in f.bands.iter().zip(days) {
        let healed_hours = results.map_or(u32::MAX, |p| p.hours[&band.id][0]);
        let day = lengthened.map_or(day, |&longer| day.max(longer));
        if day == 0 || day * 24 > healed_hours {
            return fail(
                D3,
                format!(
                    "last_day {day} for band \"{}\" (an add-on's normal_last_day included) must be \
                     from day 1 to the end of healing \
                     (the \"{}\" phase starts at {healed_hours} h)",
                    band.id, f.reminders.results_phase
                ),
            );
        }
    }

    // D4: the floor is no longer than the default, and no practitioner may go below it.
    let d = &decisions.shortest_heat_ban;
    let Some((index, heat)) = f
        .timed_avoid
        .iter()
        .enumerate()
        .find(|(_, t)| t.id == d.restriction)
    else {
        return fail(
            D4,
            format!(
                "restriction names unknown timed_avoid \"{}\"",
                d.restriction
            ),
        );
    };
    let floors = by_band(D4, "min_hours", &d.min_hours, &f.bands)?;
    for (band, &floor) in f.bands.iter().zip(floors) {
        let default = heat.until_hours[&band.id];
        if floor > default {
            return fail(
                D4,
                format!(
                    "min_hours {floor} for band \"{}\" is longer than the ban's default \
                     ({default} h, timed_avoid \"{}\")",
                    band.id, heat.id
                ),
            );
        }
        if let Some([low, _]) = heat.adjust.get(&band.id).filter(|[low, _]| *low < floor) {
            return fail(
                &entry_name("timed_avoid", index, &heat.id),
                format!(
                    "adjust for band \"{}\" starts at {low} h, below {floor} h, the shortest ban \
                     a practitioner may choose ([{D4}] min_hours)",
                    band.id
                ),
            );
        }
    }

    // D5: a clinician-authored schedule is cited by every active.
    let d = &decisions.actives_evidence;
    match (d.schedule, &d.schedule_source) {
        (EvidenceBasis::VendorGuides, None) => Ok(()),
        (EvidenceBasis::VendorGuides, Some(_)) => fail(
            D5,
            "schedule_source is for a clinician-authored schedule; remove it, or set \
             schedule = \"clinician-authored\"",
        ),
        (EvidenceBasis::ClinicianAuthored, None) => fail(
            D5,
            "a clinician-authored schedule needs schedule_source: the id of the signed \
             schedule in [[sources]]",
        ),
        (EvidenceBasis::ClinicianAuthored, Some(source)) => {
            if !f.sources.iter().any(|s| &s.id == source) {
                return fail(
                    D5,
                    format!("schedule_source \"{source}\" is not declared in [[sources]]"),
                );
            }
            match f
                .actives
                .iter()
                .enumerate()
                .find(|(_, a)| !a.sources.contains(source))
            {
                Some((i, a)) => fail(
                    &entry_name("actives", i, &a.id),
                    format!(
                        "does not cite \"{source}\", the clinician-authored schedule of [{D5}]"
                    ),
                ),
                None => Ok(()),
            }
        }
    }
}

/// What every decision says of itself.
pub(super) struct About<'a> {
    pub decides: &'a str,
    pub why: &'a str,
    pub sources: &'a [String],
}

/// Each decision's entry name (as in error messages) and what it says of itself, D1 to D5.
pub(super) fn about(d: &Decisions) -> [(&'static str, About<'_>); 5] {
    macro_rules! about {
        ($d:expr) => {
            About {
                decides: &$d.decides,
                why: &$d.why,
                sources: &$d.sources,
            }
        };
    }
    [
        (D1, about!(d.prp_wash)),
        (D2, about!(d.peels_after_acids)),
        (D3, about!(d.redness_limit)),
        (D4, about!(d.shortest_heat_ban)),
        (D5, about!(d.actives_evidence)),
    ]
}

/// "superficial 4 h, standard 6 h, deep 8 h".
fn per_band(protocol: &Protocol, value: impl Fn(&str) -> String) -> String {
    protocol
        .bands()
        .iter()
        .map(|b| format!("{} {}", b.id, value(&b.id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each decision's value in words, D1 to D5, with what it sets on the plans.
fn values(protocol: &Protocol) -> [String; 5] {
    let d = protocol.decisions();
    let phase_end = |band: &str| {
        protocol
            .phases()
            .iter()
            .find(|p| p.id == d.prp_wash.keep_on_through)
            .map_or(0, |p| p.hours[band][1])
    };
    let peels = &d.peels_after_acids;
    let peels_end = |band: &str| {
        protocol
            .timed_avoid()
            .iter()
            .find(|t| t.id == peels.restriction)
            .map_or(0, |t| t.until_hours[band])
    };
    let number = |v: &ByBand<u32>, band: &str| v.get(band).copied().unwrap_or(0);
    let each_band =
        |v: &ByBand<u32>, unit: fn(u32) -> String| per_band(protocol, |b| unit(number(v, b)));
    [
        format!(
            "keep_on_through = \"{}\": the {} add-on's plasma stays on, and washing waits, to {}",
            d.prp_wash.keep_on_through,
            d.prp_wash.add_on,
            per_band(protocol, |b| format!("{} h", phase_end(b)))
        ),
        format!(
            "offset_days = {} after \"{}\": \"{}\" ends at {}",
            each_band(&peels.offset_days, |days| days.to_string()),
            peels.active,
            peels.restriction,
            per_band(protocol, |b| format!(
                "{} h (day {})",
                peels_end(b),
                peels_end(b) / 24
            ))
        ),
        format!(
            "last_day = {}: \"{}\" is normal to the end of that day, then a call-now red flag",
            each_band(&d.redness_limit.last_day, |day| format!("day {day}")),
            d.redness_limit.sign
        ),
        format!(
            "min_hours = {} for \"{}\"",
            each_band(&d.shortest_heat_ban.min_hours, |hours| format!("{hours} h")),
            d.shortest_heat_ban.restriction
        ),
        match &d.actives_evidence.schedule_source {
            Some(source) => format!(
                "schedule = \"{}\" (schedule_source = \"{source}\")",
                d.actives_evidence.schedule.as_str()
            ),
            None => format!("schedule = \"{}\"", d.actives_evidence.schedule.as_str()),
        },
    ]
}

/// The decisions for `aftercare protocol show --decisions`, D1 to D5:
///
/// ```text
/// D1  decisions.prp_wash
///     value: keep_on_through = "first-hours": the prp add-on's plasma stays on, …
///     decides: When a patient treated with PRP may first wash.
///     why this default: …
///     sources: calista-prp (spa), 001 (clinic), 003 (skincare-vendor)
/// ```
pub fn decisions_as_text(protocol: &Protocol) -> String {
    let mut out = format!(
        "{} version {}: the clinic's decisions ([decisions] in the protocol file)\n",
        protocol.name(),
        protocol.version()
    );
    let publisher = |id: &String| {
        protocol
            .sources()
            .iter()
            .find(|s| &s.id == id)
            .map_or(id.clone(), |s| format!("{id} ({})", s.publisher.as_str()))
    };
    let decisions = about(protocol.decisions());
    for (n, ((entry, about), value)) in decisions.iter().zip(values(protocol)).enumerate() {
        let sources: Vec<String> = about.sources.iter().map(publisher).collect();
        out.push_str(&format!(
            "\nD{}  {entry}\n    value: {value}\n    decides: {}\n    why this default: {}\n    \
             sources: {}\n",
            n + 1,
            about.decides,
            about.why,
            sources.join(", ")
        ));
    }
    out
}

/// Every decision's entry name with the source ids it cites, for the citation check and
/// `protocol show --sources`.
pub(super) fn cited(d: &Decisions) -> Vec<(String, &[String])> {
    about(d)
        .into_iter()
        .map(|(entry, about)| (entry.to_string(), about.sources))
        .collect()
}
