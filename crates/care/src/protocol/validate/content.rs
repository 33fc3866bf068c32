//! What the patient reads and what it names: Tonight, the normal signs, the red flags, add-ons
//! and considerations, the lines an area replaces, and the tags the consistency tests read.

use super::entries::list_texts;
use super::{check_list, MAX_HOURS};
use crate::protocol::checks::*;
use crate::protocol::types::*;

/// Each replaced line exists where it is said to be, so a reworded phase cannot leave an area's
/// rule silently beside the line it was meant to replace.
pub(super) fn check_replaces(entry: &str, replaces: &[Replace], f: &ProtocolFile) -> Check {
    for (i, r) in replaces.iter().enumerate() {
        let lines: Vec<&String> = if r.phase == TONIGHT {
            f.tonight.items.iter().collect()
        } else {
            match f.phases.iter().find(|p| p.id == r.phase) {
                Some(p) => p.do_items.iter().chain(&p.avoid_items).collect(),
                None => {
                    return fail(
                        entry,
                        format!("replaces[{i}] names unknown phase \"{}\"", r.phase),
                    )
                }
            }
        };
        if !lines.contains(&&r.line) {
            return fail(
                entry,
                format!(
                    "replaces[{i}]: \"{}\" is not a line of \"{}\"",
                    r.line, r.phase
                ),
            );
        }
        if !r.with.is_empty() && r.with.trim().is_empty() {
            return fail(entry, format!("replaces[{i}].with is blank"));
        }
    }
    Ok(())
}

pub(super) fn check_tonight(tonight: &Tonight) -> Check {
    not_empty("tonight", "items", &tonight.items)?;
    check_texts(
        "tonight",
        list_texts("items", &tonight.items),
        &tonight.sources,
    )
}

/// Normal signs: a text and a window for every band, never shorter for a deeper band; past
/// the window a sign triages at least as "tell us", so no late sign is ever called common.
pub(super) fn check_normal_signs(list: &str, signs: &[NormalSignSpec], f: &ProtocolFile) -> Check {
    let names = check_list(list, signs)?;
    for (sign, entry) in signs.iter().zip(&names) {
        by_band(entry, "text", &sign.text, &f.bands)?;
        let days: Vec<u32> = by_band(entry, "last_day", &sign.last_day, &f.bands)?
            .into_iter()
            .copied()
            .collect();
        for &d in &days {
            if d == 0 {
                return fail(
                    entry,
                    "last_day must be 1 or more (day 0 is the treatment day)",
                );
            }
            at_most(entry, "last_day", d, MAX_DAYS)?;
        }
        never_sooner(entry, "last_day", &days, &f.bands)?;
        if !sign.past_text.contains(DAY) {
            return fail(entry, "past_text must contain {day}, its last normal day");
        }
        if sign.past_urgency == Urgency::Emergency {
            return fail(
                entry,
                "past_urgency must be tell-us or call-now: an emergency sign is never normal",
            );
        }
        if let Some(area) = sign
            .areas
            .iter()
            .find(|a| !f.areas.iter().any(|x| &x.id == *a))
        {
            return fail(entry, format!("areas names unknown area \"{area}\""));
        }
    }
    Ok(())
}

/// Add-ons and considerations: their areas, phases and restrictions exist, and what they
/// lengthen stays inside the plan. Returns the latest active day they can set.
pub(super) fn check_tailors(
    f: &ProtocolFile,
    list: &str,
    tailors: &[Tailor],
) -> Result<u32, Invalid> {
    if tailors.is_empty() {
        return Ok(0);
    }
    let names = check_list(list, tailors)?;
    let mut latest = 0;
    for (t, entry) in tailors.iter().zip(&names) {
        if t.do_items.is_empty()
            && t.avoid_items.is_empty()
            && t.notes.is_empty()
            && t.normal_signs.is_empty()
            && t.normal_last_day.is_empty()
        {
            return fail(
                entry,
                "give it at least one text: do, avoid, notes or a normal sign",
            );
        }
        if !t.normal_signs.is_empty() {
            check_normal_signs(&format!("{entry}: normal_signs"), &t.normal_signs, f)?;
        }
        for (id, &day) in &t.normal_last_day {
            let known = f
                .normal_signs
                .iter()
                .chain(&t.normal_signs)
                .any(|s| &s.id == id);
            if !known {
                return fail(
                    entry,
                    format!("normal_last_day names unknown normal sign \"{id}\""),
                );
            }
            at_most(entry, &format!("normal_last_day.{id}"), day, MAX_DAYS)?;
        }
        if let Some(area) = t
            .areas
            .iter()
            .find(|a| !f.areas.iter().any(|x| &x.id == *a))
        {
            return fail(entry, format!("areas names unknown area \"{area}\""));
        }
        if let Some(phase) = t
            .phases
            .iter()
            .find(|p| !f.phases.iter().any(|x| &x.id == *p))
        {
            return fail(entry, format!("phases names unknown phase \"{phase}\""));
        }
        if t.phases.is_empty() && !(t.do_items.is_empty() && t.avoid_items.is_empty()) {
            return fail(entry, "do and avoid need the phases they join");
        }
        for (key, &value) in &t.at_least {
            if let Some(active) = key.strip_prefix("active-") {
                if !f.actives.iter().any(|a| a.id == active) {
                    return fail(entry, format!("at_least names unknown active \"{active}\""));
                }
                at_most(entry, &format!("at_least.{key}"), value, MAX_DAYS)?;
                latest = latest.max(value);
            } else if f.timed_avoid.iter().any(|a| &a.id == key) {
                at_most(entry, &format!("at_least.{key}"), value, MAX_HOURS)?;
            } else {
                return fail(
                    entry,
                    format!("at_least names \"{key}\", neither a timed_avoid id nor active-<id>"),
                );
            }
        }
    }
    Ok(latest)
}

/// Groups come most urgent first, and the emergency group names the clinic's number.
pub(super) fn check_red_flags(groups: &[RedFlagGroupSpec], signs: &[NormalSignSpec]) -> Check {
    let names = check_list("red_flags", groups)?;
    for (i, (group, entry)) in groups.iter().zip(&names).enumerate() {
        not_empty(entry, "items", &group.items)?;
        for (j, item) in group.items.iter().enumerate() {
            for id in crate::protocol::sign_day_refs(item) {
                if !signs.iter().any(|s| s.id == id && s.areas.is_empty()) {
                    return fail(
                        entry,
                        format!(
                            "items[{j}] names {{day:{id}}}, but no normal sign \"{id}\" applies to every patient"
                        ),
                    );
                }
            }
        }
        if i > 0 && group.id < groups[i - 1].id {
            return fail(
                entry,
                format!(
                    "comes after {}; list the groups most urgent first (emergency, call-now, tell-us)",
                    names[i - 1]
                ),
            );
        }
        let has_number = group.title.contains(EMERGENCY_NUMBER);
        if (group.id == Urgency::Emergency) != has_number {
            let problem = if has_number {
                format!("only the emergency group's title may contain {EMERGENCY_NUMBER}")
            } else {
                format!("title must contain {EMERGENCY_NUMBER}, the clinic's emergency number")
            };
            return fail(entry, problem);
        }
    }
    if !groups.iter().any(|g| g.id == Urgency::Emergency) {
        return fail(
            "red_flags",
            "there is no emergency group: severe allergic reactions need one",
        );
    }
    Ok(())
}

/// The tags the consistency tests read name what exists: `keeps_off` and `comes_after` name
/// actives (never the entry itself), `pressed_when_sleeping_on` names sleeping positions.
pub(super) fn check_tags(f: &ProtocolFile) -> Check {
    let actives = |entry: &str, field: &str, own: &str, ids: &[String]| -> Check {
        for id in ids {
            if id == own || !f.actives.iter().any(|a| &a.id == id) {
                return fail(
                    entry,
                    format!("{field} names \"{id}\", which is not another active"),
                );
            }
        }
        Ok(())
    };
    for (i, phase) in f.phases.iter().enumerate() {
        let entry = entry_name("phases", i, &phase.id);
        actives(&entry, "keeps_off", "", &phase.keeps_off)?;
    }
    for (i, timed) in f.timed_avoid.iter().enumerate() {
        let entry = entry_name("timed_avoid", i, &timed.id);
        actives(&entry, "comes_after", "", &timed.comes_after)?;
    }
    for (i, active) in f.actives.iter().enumerate() {
        let entry = entry_name("actives", i, &active.id);
        actives(&entry, "comes_after", &active.id, &active.comes_after)?;
    }
    for (i, area) in f.areas.iter().enumerate() {
        if let Some(position) = area
            .pressed_when_sleeping_on
            .iter()
            .find(|p| !SLEEPING_POSITIONS.contains(&p.as_str()))
        {
            return fail(
                &entry_name("areas", i, &area.id),
                format!(
                    "pressed_when_sleeping_on names \"{position}\"; use one of {SLEEPING_POSITIONS:?}"
                ),
            );
        }
    }
    Ok(())
}
