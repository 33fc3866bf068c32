//! The aftercare protocol: the clinical content (phases, bands, areas, actives, red flags,
//! reminder cadence) as data, loaded from TOML and validated.
//!
//! Loading never reads a file: the caller reads it and passes its text and its name, so the name
//! can appear in every error message. A loaded [`Protocol`] is always valid: it can only be made
//! by [`Protocol::parse`], which is why [`compute_plan`](super::compute_plan) may rely on every
//! cross-reference (band ids, class ids, phase ids) resolving.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The shallowest needle depth the app accepts, in millimetres.
pub const MIN_DEPTH_MM: f64 = 0.1;
/// The deepest needle depth the app accepts, in millimetres.
pub const MAX_DEPTH_MM: f64 = 3.0;

/// Days and hours above this are surely a typo; the bound also keeps all date arithmetic far
/// from chrono's limits.
const MAX_DAYS: u32 = 366;
const MAX_HOURS: u32 = MAX_DAYS * 24;
/// The healing factor may lengthen a plan up to this many times.
const MAX_HEALING_FACTOR: f64 = 3.0;
/// The evening email must come soon after the treatment, well before any day-2 email.
const MAX_EVENING_DELAY_HOURS: u32 = 12;

/// The default protocol, compiled into the binary.
pub const DEFAULT_PROTOCOL_TOML: &str = include_str!("../../protocol/default.toml");

/// Why a protocol file was refused. The message names the file, the entry and the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The text is not TOML, or does not have the protocol's shape (a missing or unknown key, a
    /// wrong type). `message` is toml's own, with line and column.
    #[error("{source_name}: not a valid protocol file: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    /// The file parses but an entry is wrong, e.g. `phases[3] "day-3": avoid[1] is empty`.
    #[error("{source_name}: {entry}: {problem}")]
    Invalid {
        source_name: String,
        entry: String,
        problem: String,
    },
}

/// A depth band, e.g. "standard" for [0.5, 1.5) mm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub id: String,
    pub label: String,
    /// Inclusive lower bound in mm.
    pub min_mm: f64,
    /// Exclusive upper bound in mm (the last band includes it).
    pub max_mm: f64,
    pub sources: Vec<String>,
}

/// A class of areas (face, neck, body, …): how it changes healing, and notes shown once per plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaClass {
    pub id: String,
    pub label: String,
    /// Multiplies every phase offset and the next-session window (1.0 = face).
    pub healing_factor: f64,
    /// Extra morning emails after the band's `daily_days`.
    pub daily_reminder_extra_days: u32,
    /// If set, actives follow at least this band's schedule (body areas: "deep").
    #[serde(default)]
    pub actives_band: Option<String>,
    pub notes: Vec<String>,
    pub sources: Vec<String>,
}

/// A treatable area, e.g. "periorbital".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub id: String,
    /// Patient-facing name, e.g. "Around the eyes".
    pub label: String,
    /// Id of its [`AreaClass`].
    pub class: String,
    /// Usual depth range [min, max] in mm; only used by [`depth_hint`].
    #[serde(default)]
    pub typical_mm: Option<[f64; 2]>,
    #[serde(default)]
    pub notes: Vec<String>,
    pub sources: Vec<String>,
}

/// One healing phase as the protocol describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    pub id: String,
    pub name: String,
    /// What the skin does in this phase.
    pub skin: String,
    #[serde(rename = "do")]
    pub do_items: Vec<String>,
    #[serde(rename = "avoid")]
    pub avoid_items: Vec<String>,
    /// Completes the subject "Day N after your treatment: …".
    pub headline: String,
    /// Band id → [start, end) in hours after the treatment.
    pub hours: BTreeMap<String, [u32; 2]>,
    pub sources: Vec<String>,
}

/// An active ingredient and when it may come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Active {
    pub id: String,
    pub name: String,
    /// Band id → local calendar day after the treatment day.
    pub days: BTreeMap<String, u32>,
    /// How to bring it back.
    pub how: String,
    /// Completes the email subject on its day, e.g. "retinoids can come back".
    pub headline: String,
    pub sources: Vec<String>,
}

/// The red flags shown on every sheet and in every email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedFlags {
    pub intro: String,
    pub items: Vec<String>,
    pub sources: Vec<String>,
}

/// When the next session may be booked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextSessionSpec {
    /// Band id → [from, to] local calendar days after the treatment day.
    pub days: BTreeMap<String, [u32; 2]>,
    pub note: String,
    pub headline: String,
    pub sources: Vec<String>,
}

/// When reminder emails go out (see protocol/default.toml for the rules in words).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// The evening email goes out this many hours after the treatment…
    pub evening_delay_hours: u32,
    /// …or at this local hour of the treatment day if that is later; when absent, the clinic's
    /// send hour plays this role.
    #[serde(default)]
    pub evening_not_before_hour: Option<u32>,
    pub evening_subject: String,
    /// Subject of every later email; `{day}` and `{headline}` are filled in.
    pub day_subject: String,
    /// Band id → the last day with a morning email (before class extra days).
    pub daily_days: BTreeMap<String, u32>,
    /// The phase whose first day gets the "results" milestone email.
    pub results_phase: String,
    pub sources: Vec<String>,
}

/// The file as written. Private so that only [`Protocol::parse`] can turn text into a protocol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolFile {
    name: String,
    version: String,
    sources: Vec<String>,
    bands: Vec<Band>,
    classes: Vec<AreaClass>,
    areas: Vec<Area>,
    phases: Vec<PhaseSpec>,
    actives: Vec<Active>,
    red_flags: RedFlags,
    next_session: NextSessionSpec,
    reminders: Cadence,
}

/// A validated aftercare protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    file: ProtocolFile,
}

impl Protocol {
    /// Parses and validates protocol text. `source_name` (usually the file path) only labels
    /// error messages.
    pub fn parse(source_name: &str, toml_text: &str) -> Result<Protocol, ProtocolError> {
        let file: ProtocolFile = toml::from_str(toml_text).map_err(|e| ProtocolError::Syntax {
            source_name: source_name.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        validate(&file).map_err(|Invalid { entry, problem }| ProtocolError::Invalid {
            source_name: source_name.to_string(),
            entry,
            problem,
        })?;
        Ok(Protocol { file })
    }

    /// The protocol compiled into the binary. Panicking is acceptable here only because the unit
    /// test `default_protocol_loads` proves the embedded file is valid.
    pub fn default_protocol() -> Protocol {
        Protocol::parse("protocol/default.toml", DEFAULT_PROTOCOL_TOML)
            .unwrap_or_else(|e| panic!("the embedded default protocol is invalid: {e}"))
    }

    pub fn name(&self) -> &str {
        &self.file.name
    }
    pub fn version(&self) -> &str {
        &self.file.version
    }
    pub fn sources(&self) -> &[String] {
        &self.file.sources
    }
    /// Shallowest first.
    pub fn bands(&self) -> &[Band] {
        &self.file.bands
    }
    pub fn classes(&self) -> &[AreaClass] {
        &self.file.classes
    }
    pub fn areas(&self) -> &[Area] {
        &self.file.areas
    }
    /// In order; contiguous for every band.
    pub fn phases(&self) -> &[PhaseSpec] {
        &self.file.phases
    }
    pub fn actives(&self) -> &[Active] {
        &self.file.actives
    }
    pub fn red_flags(&self) -> &RedFlags {
        &self.file.red_flags
    }
    pub fn next_session(&self) -> &NextSessionSpec {
        &self.file.next_session
    }
    pub fn reminders(&self) -> &Cadence {
        &self.file.reminders
    }

    pub fn area(&self, id: &str) -> Option<&Area> {
        self.file.areas.iter().find(|a| a.id == id)
    }
    pub fn class(&self, id: &str) -> Option<&AreaClass> {
        self.file.classes.iter().find(|c| c.id == id)
    }
    /// Position of a band in [`Protocol::bands`] (higher = deeper).
    pub fn band_index(&self, id: &str) -> Option<usize> {
        self.file.bands.iter().position(|b| b.id == id)
    }
    /// The band a depth falls in; `None` outside [`MIN_DEPTH_MM`]..=[`MAX_DEPTH_MM`].
    pub fn band_index_for_depth(&self, depth_mm: f64) -> Option<usize> {
        if !(MIN_DEPTH_MM..=MAX_DEPTH_MM).contains(&depth_mm) {
            return None;
        }
        let bands = &self.file.bands;
        // Validation guarantees the bands tile [MIN, MAX]; the last band also takes MAX itself.
        bands
            .iter()
            .position(|b| depth_mm >= b.min_mm && depth_mm < b.max_mm)
            .or(Some(bands.len() - 1))
    }
}

/// A gentle, never-blocking note for the treatment form when a depth is outside the area's usual
/// range (facts section 7), e.g. "2.0 mm is deeper than usual here: Around the eyes is usually
/// treated at 0.2–0.5 mm. Please confirm." `None` when the depth is usual, or the area is unknown
/// or has no usual range.
pub fn depth_hint(protocol: &Protocol, area_id: &str, depth_mm: f64) -> Option<String> {
    let area = protocol.area(area_id)?;
    let [low, high] = area.typical_mm?;
    let compared = if depth_mm > high {
        "deeper"
    } else if depth_mm < low {
        "shallower"
    } else {
        return None;
    };
    Some(format!(
        "{} mm is {compared} than usual here: {} is usually treated at {}–{} mm. Please confirm.",
        format_mm(depth_mm),
        area.label,
        format_mm(low),
        format_mm(high)
    ))
}

/// "2.0", "0.25", "1.5": at least one decimal, at most two.
pub fn format_mm(mm: f64) -> String {
    let text = format!("{mm:.2}");
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// A validation failure before the file name is attached.
struct Invalid {
    entry: String,
    problem: String,
}

type Check = Result<(), Invalid>;

fn fail<T>(entry: &str, problem: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        entry: entry.to_string(),
        problem: problem.into(),
    })
}

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

fn check_texts(entry: &str, texts: Vec<(String, &str)>, sources: &[String]) -> Check {
    for (field, text) in texts {
        if text.trim().is_empty() {
            return fail(entry, format!("{field} is empty"));
        }
    }
    if sources.is_empty() {
        return fail(
            entry,
            "sources is empty: name the guides this entry rests on",
        );
    }
    if let Some(i) = sources.iter().position(|s| s.trim().is_empty()) {
        return fail(entry, format!("sources[{i}] is empty"));
    }
    Ok(())
}

/// Names list entries as `phases[3] "day-3"` in messages.
fn entry_name(list: &str, index: usize, id: &str) -> String {
    format!("{list}[{index}] \"{id}\"")
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

/// Values of a band-keyed map in band order (shallowest first): every band present, no other key.
fn per_band<'a, T>(
    entry: &str,
    field: &str,
    map: &'a BTreeMap<String, T>,
    bands: &[Band],
) -> Result<Vec<&'a T>, Invalid> {
    if let Some(unknown) = map.keys().find(|k| !bands.iter().any(|b| &b.id == *k)) {
        return fail(entry, format!("{field} names unknown band \"{unknown}\""));
    }
    bands
        .iter()
        .map(|b| match map.get(&b.id) {
            Some(v) => Ok(v),
            None => fail(entry, format!("{field} has no value for band \"{}\"", b.id)),
        })
        .collect()
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

fn at_most(entry: &str, field: &str, value: u32, max: u32) -> Check {
    if value > max {
        return fail(entry, format!("{field} is {value}, more than {max}"));
    }
    Ok(())
}

fn validate(f: &ProtocolFile) -> Check {
    check_texts(
        "protocol",
        vec![
            ("name".into(), f.name.as_str()),
            ("version".into(), f.version.as_str()),
        ],
        &f.sources,
    )?;
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
            if !bands.iter().any(|b| &b.id == band) {
                return fail(entry, format!("actives_band names unknown band \"{band}\""));
            }
        }
    }
    let area_names = check_list("areas", &f.areas)?;
    for (area, entry) in f.areas.iter().zip(&area_names) {
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
    let phase_ends = check_phases(&f.phases, bands)?;
    let max_active_day = check_actives(&f.actives, bands)?;
    check_texts(
        "red_flags",
        std::iter::once(("intro".to_string(), f.red_flags.intro.as_str()))
            .chain(list_texts("items", &f.red_flags.items))
            .collect(),
        &f.red_flags.sources,
    )?;
    if f.red_flags.items.is_empty() {
        return fail("red_flags", "items is empty");
    }
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
        let needed = (last_day + 2) * 24;
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
    }
    Ok(latest)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn default_text() -> String {
        DEFAULT_PROTOCOL_TOML.to_string()
    }

    /// Applies a textual edit to the default protocol and returns the error message.
    fn error_after(edit: impl Fn(String) -> String) -> String {
        let text = edit(default_text());
        assert_ne!(text, default_text(), "the edit must change the protocol");
        match Protocol::parse("clinic.toml", &text) {
            Ok(_) => panic!("the edited protocol should be refused"),
            Err(e) => e.to_string(),
        }
    }

    fn replace_once(from: &'static str, to: &'static str) -> impl Fn(String) -> String {
        move |text: String| {
            assert_eq!(text.matches(from).count(), 1, "ambiguous edit {from:?}");
            text.replacen(from, to, 1)
        }
    }

    fn assert_message(message: &str, parts: &[&str]) {
        assert!(
            message.starts_with("clinic.toml: "),
            "no file name: {message}"
        );
        for part in parts {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
    }

    #[test]
    fn default_protocol_loads() {
        let p = Protocol::parse("protocol/default.toml", DEFAULT_PROTOCOL_TOML)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, Protocol::default_protocol());
        let ids = |items: Vec<&str>| items.join(",");
        assert_eq!(
            ids(p.bands().iter().map(|b| b.id.as_str()).collect()),
            "superficial,standard,deep"
        );
        assert_eq!(
            ids(p.phases().iter().map(|b| b.id.as_str()).collect()),
            "night-one,first-day,day-2,day-3,days-4-7,weeks-2-4,results"
        );
        assert_eq!(
            ids(p.areas().iter().map(|a| a.id.as_str()).collect()),
            "forehead,periorbital,cheeks,nose,upper-lip,chin-jaw,neck,decollete,hands,scalp,\
             abdomen,thighs,arms,back,buttocks"
        );
        assert_eq!(p.area("periorbital").unwrap().label, "Around the eyes");
        assert!(p.area("elbow").is_none());
    }

    #[test]
    fn depth_picks_band_with_cut_offs_belonging_to_the_deeper_band() {
        let p = Protocol::default_protocol();
        let band = |d: f64| p.band_index_for_depth(d).map(|i| p.bands()[i].id.as_str());
        assert_eq!(band(0.1), Some("superficial"));
        assert_eq!(band(0.49), Some("superficial"));
        assert_eq!(band(0.5), Some("standard"));
        assert_eq!(band(1.49), Some("standard"));
        assert_eq!(band(1.5), Some("deep"));
        assert_eq!(band(3.0), Some("deep"));
        assert_eq!(band(3.01), None);
        assert_eq!(band(0.05), None);
        assert_eq!(band(f64::NAN), None);
    }

    #[test]
    fn depth_hint_warns_gently_outside_the_usual_range() {
        let p = Protocol::default_protocol();
        assert_eq!(
            depth_hint(&p, "periorbital", 2.0).as_deref(),
            Some("2.0 mm is deeper than usual here: Around the eyes is usually treated at 0.2–0.5 mm. Please confirm.")
        );
        assert_eq!(
            depth_hint(&p, "abdomen", 0.25).as_deref(),
            Some("0.25 mm is shallower than usual here: Tummy (abdomen) is usually treated at 1.5–3.0 mm. Please confirm.")
        );
        assert_eq!(depth_hint(&p, "periorbital", 0.5), None);
        assert_eq!(depth_hint(&p, "neck", 2.5), None, "no usual range known");
        assert_eq!(depth_hint(&p, "elbow", 2.5), None);
    }

    #[test]
    fn syntax_errors_name_the_file_and_quote_toml() {
        let message = error_after(|t| t + "\nthis is not toml");
        assert_message(&message, &["not a valid protocol file", "line"]);
    }

    #[test]
    fn unknown_keys_are_refused_to_catch_typos() {
        let message = error_after(replace_once(
            "evening_delay_hours = 2",
            "evening_delay_hrs = 2",
        ));
        assert_message(&message, &["evening_delay_hrs"]);
    }

    #[test]
    fn band_gap_is_refused() {
        let message = error_after(replace_once(
            "min_mm = 1.5\nmax_mm = 3.0",
            "min_mm = 1.6\nmax_mm = 3.0",
        ));
        assert_message(&message, &["bands[2] \"deep\"", "leaves a gap", "1.5"]);
    }

    #[test]
    fn band_overlap_is_refused() {
        let message = error_after(replace_once(
            "min_mm = 0.5\nmax_mm = 1.5",
            "min_mm = 0.4\nmax_mm = 1.5",
        ));
        assert_message(&message, &["bands[1] \"standard\"", "overlaps", "0.4"]);
    }

    #[test]
    fn bands_must_reach_the_deepest_depth() {
        let message = error_after(replace_once(
            "min_mm = 1.5\nmax_mm = 3.0",
            "min_mm = 1.5\nmax_mm = 2.5",
        ));
        assert_message(&message, &["bands[2] \"deep\"", "max_mm must be 3"]);
    }

    #[test]
    fn backwards_band_is_refused() {
        let message = error_after(replace_once(
            "min_mm = 0.1\nmax_mm = 0.5",
            "min_mm = 0.1\nmax_mm = 0.1",
        ));
        assert_message(
            &message,
            &["bands[0] \"superficial\"", "greater than min_mm"],
        );
    }

    #[test]
    fn non_contiguous_phases_are_refused() {
        let message = error_after(replace_once("standard = [48, 72]", "standard = [50, 72]"));
        assert_message(
            &message,
            &[
                "phases[3] \"day-3\"",
                "not contiguous",
                "\"standard\"",
                "phases[2] \"day-2\" ends at 48 h",
            ],
        );
    }

    #[test]
    fn first_phase_must_start_at_the_treatment() {
        let message = error_after(replace_once("deep = [0, 8]", "deep = [1, 8]"));
        assert_message(&message, &["phases[0] \"night-one\"", "must start at 0 h"]);
    }

    #[test]
    fn backwards_offsets_are_refused() {
        let message = error_after(replace_once(
            "superficial = [36, 48], standard = [48, 72], deep = [72, 120]",
            "superficial = [36, 36], standard = [48, 72], deep = [72, 120]",
        ));
        assert_message(
            &message,
            &["phases[3] \"day-3\"", "goes backwards", "superficial"],
        );
    }

    #[test]
    fn missing_and_unknown_bands_in_offsets_are_refused() {
        let missing = error_after(replace_once(
            "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 8] }",
            "hours = { superficial = [0, 4], standard = [0, 6] }",
        ));
        assert_message(
            &missing,
            &["phases[0] \"night-one\"", "no value for band \"deep\""],
        );
        let unknown = error_after(replace_once(
            "deep = [0, 8]",
            "deep = [0, 8], extreme = [0, 9]",
        ));
        assert_message(
            &unknown,
            &["phases[0] \"night-one\"", "unknown band \"extreme\""],
        );
    }

    #[test]
    fn a_deeper_band_must_not_end_a_phase_sooner() {
        let message = error_after(replace_once(
            "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 8] }\n",
            "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 5] }\n",
        ));
        assert_message(
            &message,
            &["phases[0] \"night-one\"", "\"deep\" (5)", "never"],
        );
    }

    #[test]
    fn empty_texts_are_refused_wherever_they_are() {
        let cases: [(&str, &str, &[&str]); 6] = [
            (
                "name = \"Dry and flaky\"",
                "name = \" \"",
                &["phases[3] \"day-3\"", "name is empty"],
            ),
            (
                "  \"Peeling or picking the flakes.\",",
                "  \"\",",
                &["phases[3] \"day-3\"", "avoid[0] is empty"],
            ),
            (
                "  \"A fever.\",",
                "  \"\",",
                &["red_flags", "items[4] is empty"],
            ),
            (
                "label = \"Around the eyes\"",
                "label = \"\"",
                &["areas[1] \"periorbital\"", "label is empty"],
            ),
            (
                "  \"Do not wash your hair on the first day.\",",
                "  \"\",",
                &["classes[4] \"scalp\"", "notes[0] is empty"],
            ),
            (
                "how = \"Use it in the morning under your sunscreen. Start every other day.\"",
                "how = \"\"",
                &["actives[1] \"vitamin-c\"", "how is empty"],
            ),
        ];
        for (from, to, parts) in cases {
            assert_message(&error_after(replace_once(from, to)), parts);
        }
    }

    #[test]
    fn entries_must_name_their_sources() {
        let message = error_after(replace_once(
            "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = [\"004\"]",
            "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = []",
        ));
        assert_message(&message, &["areas[2] \"cheeks\"", "sources is empty"]);
        let blank = error_after(replace_once(
            "sources = [\"001\", \"003\"]\n\n[[phases]]\nid = \"first-day\"",
            "sources = [\"001\", \"\"]\n\n[[phases]]\nid = \"first-day\"",
        ));
        assert_message(&blank, &["phases[0] \"night-one\"", "sources[1] is empty"]);
    }

    #[test]
    fn unknown_area_class_is_refused() {
        let message = error_after(replace_once(
            "label = \"Nose\"\nclass = \"face\"",
            "label = \"Nose\"\nclass = \"faces\"",
        ));
        assert_message(
            &message,
            &[
                "areas[3] \"nose\"",
                "class \"faces\" is not one of the classes",
            ],
        );
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let message = error_after(replace_once("id = \"nose\"", "id = \"cheeks\""));
        assert_message(
            &message,
            &["areas[3] \"cheeks\"", "duplicate id", "areas[2]"],
        );
    }

    #[test]
    fn deeper_band_must_not_get_an_active_back_sooner() {
        let message = error_after(replace_once(
            "days = { superficial = 5, standard = 5, deep = 14 }",
            "days = { superficial = 5, standard = 5, deep = 4 }",
        ));
        assert_message(
            &message,
            &[
                "actives[1] \"vitamin-c\"",
                "\"deep\" (4) is earlier than for the shallower band \"standard\" (5)",
            ],
        );
    }

    #[test]
    fn cadence_must_name_a_known_phase() {
        let message = error_after(replace_once(
            "results_phase = \"results\"",
            "results_phase = \"result\"",
        ));
        assert_message(
            &message,
            &[
                "reminders",
                "results_phase \"result\" is not one of the phases",
            ],
        );
    }

    #[test]
    fn cadence_subject_needs_its_placeholders() {
        let message = error_after(replace_once(
            "day_subject = \"Day {day} after your treatment: {headline}\"",
            "day_subject = \"Your treatment: {headline}\"",
        ));
        assert_message(&message, &["reminders", "day_subject must contain {day}"]);
    }

    #[test]
    fn unknown_band_in_a_class_is_refused() {
        let message = error_after(replace_once(
            "actives_band = \"deep\"",
            "actives_band = \"deeper\"",
        ));
        assert_message(
            &message,
            &["classes[5] \"body\"", "unknown band \"deeper\""],
        );
    }

    #[test]
    fn healing_factor_below_one_is_refused() {
        let message = error_after(replace_once("healing_factor = 1.5", "healing_factor = 0.5"));
        assert_message(&message, &["classes[5] \"body\"", "healing_factor 0.5"]);
    }

    #[test]
    fn last_phase_must_outlast_every_email() {
        let message = error_after(replace_once(
            "superficial = [672, 1008], standard = [672, 1008], deep = [1008, 1344]",
            "superficial = [672, 700], standard = [672, 1008], deep = [1008, 1344]",
        ));
        assert_message(
            &message,
            &[
                "phases[6] \"results\"",
                "ends at 700 h for band \"superficial\"",
                "day 28",
            ],
        );
    }

    #[test]
    fn a_clinic_can_add_an_active() {
        let extra = "\n[[actives]]\nid = \"benzoyl-peroxide\"\nname = \"Benzoyl peroxide\"\n\
                     days = { superficial = 5, standard = 14, deep = 28 }\nhow = \"Use it on single spots.\"\n\
                     headline = \"spot treatments can come back\"\nsources = [\"003\"]\n";
        let text = default_text().replacen("\n[red_flags]", &format!("{extra}\n[red_flags]"), 1);
        let p = Protocol::parse("clinic.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.actives().last().unwrap().id, "benzoyl-peroxide");
    }
}
