//! The aftercare protocol: the clinical content (phases, bands, areas, actives, red flags,
//! reminder cadence) as data, loaded from TOML and validated.
//!
//! Loading never reads a file: the caller reads it and passes its text and its name, so the name
//! can appear in every error message. A loaded [`Protocol`] is always valid: it can only be made
//! by [`Protocol::parse`], which is why [`compute_plan`](super::compute_plan) may rely on every
//! cross-reference (band ids, class ids, phase ids) resolving.

use thiserror::Error;

mod checks;
mod decisions;
mod types;
mod validate;

pub use decisions::decisions_as_text;
pub use types::Publisher;

#[cfg(test)]
mod decisions_tests;
#[cfg(test)]
mod readability;
#[cfg(test)]
mod tests;

use checks::Invalid;
use types::ProtocolFile;
pub use types::{
    Active, ActivesEvidence, Area, AreaClass, Band, ByBand, Cadence, Decisions, EvidenceBasis,
    NextSessionSpec, NormalSignSpec, PeelsAfterAcids, PhaseSpec, PrpWash, RedFlagGroupSpec,
    RednessLimit, Replace, ShortestHeatBan, Source, SourceKind, Tailor, TimedAvoid, Tonight,
    Urgency, DAY, EMERGENCY_NUMBER, GAP, SLEEPING_POSITIONS, TONIGHT,
};
use validate::{cited, validate};

/// The shallowest needle depth the app accepts, in millimetres.
pub const MIN_DEPTH_MM: f64 = 0.1;
/// The deepest needle depth the app accepts, in millimetres.
pub const MAX_DEPTH_MM: f64 = 3.0;

/// Two actives of one band come back at least this many days apart, so that a reaction can be
/// traced to one product (clinical review, item 2).
pub const MIN_ACTIVE_GAP_DAYS: u32 = 7;

/// The last phase must end at least this many days after the last email's day, to spare the
/// send hour and a daylight-saving shift: checked when loading a protocol, and for every
/// tailored plan (the week between actives can move one later than any range allows).
pub const EMAIL_SPARE_DAYS: u32 = 2;

/// The default protocol, compiled into the binary.
pub const DEFAULT_PROTOCOL_TOML: &str = include_str!("../../../../protocol/default.toml");

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

/// A validated aftercare protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    file: ProtocolFile,
}

impl Protocol {
    /// Parses and validates protocol text. `source_name` (usually the file path) only labels
    /// error messages.
    pub fn parse(source_name: &str, toml_text: &str) -> Result<Protocol, ProtocolError> {
        let mut file: ProtocolFile =
            toml::from_str(toml_text).map_err(|e| ProtocolError::Syntax {
                source_name: source_name.to_string(),
                message: e.to_string().trim_end().to_string(),
            })?;
        let invalid = |Invalid { entry, problem }| ProtocolError::Invalid {
            source_name: source_name.to_string(),
            entry,
            problem,
        };
        // The decisions first: they set values the rest of the file is checked with.
        decisions::apply(&mut file).map_err(invalid)?;
        validate(&file).map_err(invalid)?;
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
    /// A whole number, raised whenever patient-facing text or timing changes.
    pub fn version(&self) -> u32 {
        self.file.version
    }
    /// The one line at the foot of every sheet and email.
    pub fn disclaimer(&self) -> &str {
        &self.file.disclaimer
    }
    pub fn sources(&self) -> &[Source] {
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
    pub fn tonight(&self) -> &Tonight {
        &self.file.tonight
    }
    /// The "What is normal" signs, each with its window.
    pub fn normal_signs(&self) -> &[NormalSignSpec] {
        &self.file.normal_signs
    }
    pub fn timed_avoid(&self) -> &[TimedAvoid] {
        &self.file.timed_avoid
    }
    pub fn actives(&self) -> &[Active] {
        &self.file.actives
    }
    /// Most urgent first.
    pub fn red_flags(&self) -> &[RedFlagGroupSpec] {
        &self.file.red_flags
    }
    pub fn next_session(&self) -> &NextSessionSpec {
        &self.file.next_session
    }
    pub fn reminders(&self) -> &Cadence {
        &self.file.reminders
    }
    /// Things done in the same session that change the aftercare (PRP, radiofrequency …).
    pub fn add_ons(&self) -> &[Tailor] {
        &self.file.add_ons
    }
    /// The clinic's named decisions (`[decisions]`), already written into the entries they set.
    pub fn decisions(&self) -> &Decisions {
        &self.file.decisions
    }
    /// Facts about the patient that change the aftercare; recorded on the patient.
    pub fn considerations(&self) -> &[Tailor] {
        &self.file.considerations
    }

    /// Every declared source with the entries that cite it (`phases[3] "day-3"`), in the file's
    /// order, so a reviewer can check each source against what rests on it.
    pub fn source_uses(&self) -> Vec<(&Source, Vec<String>)> {
        let citations = cited(&self.file);
        self.file
            .sources
            .iter()
            .map(|source| {
                let entries = citations
                    .iter()
                    .filter(|(_, ids)| ids.contains(&source.id))
                    .map(|(entry, _)| entry.clone())
                    .collect();
                (source, entries)
            })
            .collect()
    }

    /// The entries (named as in error messages) none of whose sources is independent of a
    /// product or a treatment for sale: what a clinician should check first.
    pub fn entries_on_commercial_sources_only(&self) -> Vec<String> {
        let independent = |id: &String| {
            self.file
                .sources
                .iter()
                .any(|s| &s.id == id && s.publisher.is_independent())
        };
        cited(&self.file)
            .into_iter()
            .filter(|(_, ids)| !ids.iter().any(independent))
            .map(|(entry, _)| entry)
            .collect()
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
/// treated at 0.2–0.5 mm." `None` when the depth is usual, or the area is unknown
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
        "{} mm is {compared} than usual here: {} is usually treated at {}–{} mm.",
        format_mm(depth_mm),
        area.label,
        format_mm(low),
        format_mm(high)
    ))
}

/// Each source with its kind of publisher and what rests on it, for
/// `aftercare protocol show --sources`, then the entries that rest on commercial sources only:
///
/// ```text
/// 001  [guide]  Face of Jules, a Los Angeles clinic: …
///     publisher: clinic (commercial: check it before relying on it)
///     cited by: phases[0] "first-hours", phases[1] "first-day", …
/// ```
pub fn sources_as_text(protocol: &Protocol) -> String {
    let sources = protocol.sources();
    let independent = sources
        .iter()
        .filter(|s| s.publisher.is_independent())
        .count();
    let mut out = format!(
        "{} version {}: {} sources ({independent} independent, {} commercial)\n",
        protocol.name(),
        protocol.version(),
        sources.len(),
        sources.len() - independent
    );
    for (source, entries) in protocol.source_uses() {
        let kind = match source.kind {
            SourceKind::Guide => "guide",
            SourceKind::Reference => "reference",
        };
        out.push_str(&format!("\n{}  [{kind}]  {}\n", source.id, source.title));
        if let Some(url) = &source.url {
            out.push_str(&format!("    {url}\n"));
        }
        let weight = if source.publisher.is_independent() {
            "independent"
        } else {
            "commercial: check it before relying on it"
        };
        out.push_str(&format!(
            "    publisher: {} ({weight})\n",
            source.publisher.as_str()
        ));
        let used_by = if entries.is_empty() {
            "(not cited by any entry)".to_string()
        } else {
            entries.join(", ")
        };
        out.push_str(&format!("    cited by: {used_by}\n"));
    }
    let commercial_only = protocol.entries_on_commercial_sources_only();
    out.push_str(&format!(
        "\nEntries resting only on commercial sources (no public health body, professional body or \
         peer-reviewed source): {}\n",
        commercial_only.len()
    ));
    for entry in commercial_only {
        out.push_str(&format!("    {entry}\n"));
    }
    out
}

/// The sign ids named by `{day:<id>}` placeholders in a text (a red flag's "not faded by day
/// {day:redness}"), in order.
pub fn sign_day_refs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{day:") {
        let after = &rest[start + 5..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
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
