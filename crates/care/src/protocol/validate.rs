//! Validation of a parsed protocol file: every check names the entry and the problem, and the
//! caller adds the file name.

use std::collections::HashMap;

use super::checks::*;
use super::types::*;
use super::{EMAIL_SPARE_DAYS, MAX_DEPTH_MM, MIN_ACTIVE_GAP_DAYS, MIN_DEPTH_MM};

const MAX_HOURS: u32 = MAX_DAYS * 24;
/// The healing factor may lengthen a plan up to this many times.
const MAX_HEALING_FACTOR: f64 = 3.0;
/// The evening email must come soon after the treatment, well before any day-2 email.
const MAX_EVENING_DELAY_HOURS: u32 = 12;

/// What every list entry shares, so ids, texts and sources are checked in one place.
trait Entry {
    fn id(&self) -> &str;
    fn sources(&self) -> &[String];
    /// (field name, text) for every patient- or staff-facing text of the entry.
    fn texts(&self) -> Vec<(String, &str)>;
}

fn list_texts<'a>(field: &str, items: &'a [String]) -> Vec<(String, &'a str)> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{field}[{i}]"), t.as_str()))
        .collect()
}

macro_rules! entry_impl {
    ($ty:ty, |$s:ident| $texts:expr) => {
        impl Entry for $ty {
            fn id(&self) -> &str {
                &self.id
            }
            fn sources(&self) -> &[String] {
                &self.sources
            }
            fn texts(&self) -> Vec<(String, &str)> {
                let $s = self;
                $texts
            }
        }
    };
}

entry_impl!(Band, |b| vec![("label".into(), b.label.as_str())]);
entry_impl!(AreaClass, |c| {
    let mut t = vec![("label".into(), c.label.as_str())];
    t.extend(list_texts("notes", &c.notes));
    t
});
entry_impl!(Area, |a| {
    let mut t = vec![("label".into(), a.label.as_str())];
    t.extend(list_texts("notes", &a.notes));
    t
});

/// Each replaced line exists where it is said to be, so a reworded phase cannot leave an area's
/// rule silently beside the line it was meant to replace.
fn check_replaces(entry: &str, replaces: &[Replace], f: &ProtocolFile) -> Check {
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
entry_impl!(PhaseSpec, |p| {
    let mut t = vec![
        ("name".into(), p.name.as_str()),
        ("skin".into(), p.skin.as_str()),
        ("headline".into(), p.headline.as_str()),
    ];
    t.extend(list_texts("do", &p.do_items));
    t.extend(list_texts("avoid", &p.avoid_items));
    t
});
entry_impl!(Active, |a| vec![
    ("name".into(), a.name.as_str()),
    ("how".into(), a.how.as_str()),
    ("headline".into(), a.headline.as_str()),
]);
entry_impl!(TimedAvoid, |t| list_texts("items", &t.items));
entry_impl!(Tailor, |t| {
    let mut all = vec![("label".into(), t.label.as_str())];
    all.extend(list_texts("do", &t.do_items));
    all.extend(list_texts("avoid", &t.avoid_items));
    all.extend(list_texts("notes", &t.notes));
    all
});

impl Entry for Source {
    fn id(&self) -> &str {
        &self.id
    }
    /// A source rests on itself; its own id stands in so the shared check passes.
    fn sources(&self) -> &[String] {
        std::slice::from_ref(&self.id)
    }
    fn texts(&self) -> Vec<(String, &str)> {
        vec![("title".into(), self.title.as_str())]
    }
}

impl Entry for RedFlagGroupSpec {
    fn id(&self) -> &str {
        self.id.id()
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn texts(&self) -> Vec<(String, &str)> {
        let mut t = vec![("title".into(), self.title.as_str())];
        t.extend(list_texts("items", &self.items));
        t
    }
}

/// Every entry that cites sources, named as in error messages, with the ids it cites. One walk
/// serves both the check that each id is declared and `protocol show --sources`.
pub(super) fn cited(f: &ProtocolFile) -> Vec<(String, &[String])> {
    fn list<'a, T: Entry>(name: &str, items: &'a [T]) -> Vec<(String, &'a [String])> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (entry_name(name, i, item.id()), item.sources()))
            .collect()
    }
    let mut all = list("bands", &f.bands);
    all.extend(list("classes", &f.classes));
    all.extend(list("areas", &f.areas));
    all.push(("tonight".into(), &f.tonight.sources));
    all.extend(list("normal_signs", &f.normal_signs));
    all.extend(list("phases", &f.phases));
    all.extend(list("timed_avoid", &f.timed_avoid));
    all.extend(list("actives", &f.actives));
    all.extend(list("red_flags", &f.red_flags));
    all.push(("next_session".into(), &f.next_session.sources));
    all.push(("reminders".into(), &f.reminders.sources));
    all.extend(list("add_ons", &f.add_ons));
    all.extend(list("considerations", &f.considerations));
    all.extend(super::decisions::cited(&f.decisions));
    for (name, tailors) in [
        ("add_ons", &f.add_ons),
        ("considerations", &f.considerations),
    ] {
        for (i, t) in tailors.iter().enumerate() {
            let owner = entry_name(name, i, &t.id);
            for (j, sign) in t.normal_signs.iter().enumerate() {
                all.push((
                    format!("{owner}: {}", entry_name("normal_signs", j, &sign.id)),
                    &sign.sources,
                ));
            }
        }
    }
    all
}

/// Ids, texts and sources of every entry of a list; returns each entry's name for later checks.
fn check_list<T: Entry>(list: &str, items: &[T]) -> Result<Vec<String>, Invalid> {
    if items.is_empty() {
        return fail(list, "the list is empty");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = entry_name(list, i, item.id());
        let id_ok = !item.id().is_empty()
            && item
                .id()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return fail(
                &name,
                "id must be lowercase letters, digits and '-', and not empty",
            );
        }
        if let Some(first) = seen.insert(item.id(), i) {
            return fail(
                &name,
                format!("duplicate id: {list}[{first}] already uses it"),
            );
        }
        check_texts(&name, item.texts(), item.sources())?;
        names.push(name);
    }
    Ok(names)
}

/// A deeper treatment must never get a shorter plan or an earlier date.
fn never_sooner(entry: &str, field: &str, values: &[u32], bands: &[Band]) -> Check {
    for i in 1..values.len() {
        if values[i] < values[i - 1] {
            return fail(
                entry,
                format!(
                    "{field} for band \"{}\" ({}) is earlier than for the shallower band \"{}\" ({}); \
                     a deeper treatment must never get it sooner",
                    bands[i].id,
                    values[i],
                    bands[i - 1].id,
                    values[i - 1]
                ),
            );
        }
    }
    Ok(())
}

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

fn known_band(entry: &str, field: &str, band: &str, bands: &[Band]) -> Check {
    if bands.iter().any(|b| b.id == band) {
        Ok(())
    } else {
        fail(entry, format!("{field} names unknown band \"{band}\""))
    }
}

fn not_empty<T>(entry: &str, field: &str, items: &[T]) -> Check {
    if items.is_empty() {
        return fail(entry, format!("{field} is empty"));
    }
    Ok(())
}

fn check_tonight(tonight: &Tonight) -> Check {
    not_empty("tonight", "items", &tonight.items)?;
    check_texts(
        "tonight",
        list_texts("items", &tonight.items),
        &tonight.sources,
    )
}

impl Entry for NormalSignSpec {
    fn id(&self) -> &str {
        &self.id
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn texts(&self) -> Vec<(String, &str)> {
        let mut t = vec![("past_text".into(), self.past_text.as_str())];
        match &self.text {
            ByBand::Same(text) => t.push(("text".into(), text.as_str())),
            ByBand::PerBand(m) => {
                t.extend(m.iter().map(|(b, v)| (format!("text.{b}"), v.as_str())))
            }
        }
        t
    }
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

/// Each timed list ends on a phase boundary of its band, never sooner for a deeper band.
fn check_timed_avoid(timed: &[TimedAvoid], phases: &[PhaseSpec], bands: &[Band]) -> Check {
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

/// An adjustable restriction names itself for the form, and its range holds its default.
fn check_adjustable(f: &ProtocolFile, bands: &[Band]) -> Check {
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

/// Add-ons and considerations: their areas, phases and restrictions exist, and what they
/// lengthen stays inside the plan. Returns the latest active day they can set.
fn check_tailors(f: &ProtocolFile, list: &str, tailors: &[Tailor]) -> Result<u32, Invalid> {
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
fn check_red_flags(groups: &[RedFlagGroupSpec], signs: &[NormalSignSpec]) -> Check {
    let names = check_list("red_flags", groups)?;
    for (i, (group, entry)) in groups.iter().zip(&names).enumerate() {
        not_empty(entry, "items", &group.items)?;
        for (j, item) in group.items.iter().enumerate() {
            for id in super::sign_day_refs(item) {
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

/// Bands must tile [MIN_DEPTH_MM, MAX_DEPTH_MM] shallowest first, with no gap or overlap.
fn check_bands(bands: &[Band]) -> Check {
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
fn check_phases(phases: &[PhaseSpec], bands: &[Band]) -> Result<Vec<u32>, Invalid> {
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

/// Returns the latest reintroduction day over all actives and bands.
fn check_actives(actives: &[Active], bands: &[Band]) -> Result<u32, Invalid> {
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

/// The tags the consistency tests read name what exists: `keeps_off` and `comes_after` name
/// actives (never the entry itself), `pressed_when_sleeping_on` names sleeping positions.
fn check_tags(f: &ProtocolFile) -> Check {
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

/// Returns the window's first day per band.
fn check_next_session(next: &NextSessionSpec, bands: &[Band]) -> Result<Vec<u32>, Invalid> {
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
fn check_cadence(
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
