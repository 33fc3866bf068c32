//! The protocol file's entries, as serde reads them from TOML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an entry's facts come from, declared once at the top of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    /// Who published it, so a clinician can weigh it (a vendor's page is not a guideline).
    pub publisher: Publisher,
    pub title: String,
    /// Required for a public reference, so a reviewer can open it.
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// One of the five published aftercare guides the facts digest rests on.
    Guide,
    /// A public page cited for a fact the guides do not state.
    Reference,
}

/// What kind of publisher a source has. Written in the protocol file as `publisher = "clinic"`;
/// protocol/README.md says how a clinician should weigh each kind. An unknown kind is refused when
/// the file is read, with the accepted kinds listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Publisher {
    /// Makes or sells microneedling devices or beauty machines.
    DeviceMaker,
    /// A clinic writing about its own treatments (often marketing).
    Clinic,
    /// A spa or med spa writing about its own treatments (often marketing).
    Spa,
    /// Sells skincare products or at-home kits.
    SkincareVendor,
    /// A website of articles with no clinical publisher behind it (anonymous, or a consumer site).
    ContentSite,
    /// A government or national health service (NHS, nidirect).
    PublicHealthBody,
    /// A dermatology society or a reference written by dermatologists (AAD, BAD, DermNet).
    ProfessionalBody,
    /// A peer-reviewed journal article: a review, a guideline or a study.
    PeerReviewed,
}

impl Publisher {
    pub const ALL: [Publisher; 8] = [
        Publisher::DeviceMaker,
        Publisher::Clinic,
        Publisher::Spa,
        Publisher::SkincareVendor,
        Publisher::ContentSite,
        Publisher::PublicHealthBody,
        Publisher::ProfessionalBody,
        Publisher::PeerReviewed,
    ];

    /// As written in the protocol file.
    pub fn as_str(self) -> &'static str {
        match self {
            Publisher::DeviceMaker => "device-maker",
            Publisher::Clinic => "clinic",
            Publisher::Spa => "spa",
            Publisher::SkincareVendor => "skincare-vendor",
            Publisher::ContentSite => "content-site",
            Publisher::PublicHealthBody => "public-health-body",
            Publisher::ProfessionalBody => "professional-body",
            Publisher::PeerReviewed => "peer-reviewed",
        }
    }

    /// Whether the publisher has no product or treatment to sell: a public health body, a
    /// professional body or a peer-reviewed journal. Everything else is a commercial source that
    /// a clinician should check before relying on it.
    pub fn is_independent(self) -> bool {
        matches!(
            self,
            Publisher::PublicHealthBody | Publisher::ProfessionalBody | Publisher::PeerReviewed
        )
    }
}

impl TryFrom<String> for Publisher {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Publisher::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Publisher::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "publisher \"{text}\" is not a kind of publisher; use one of: {}",
                    known.join(", ")
                )
            })
    }
}

impl From<Publisher> for String {
    fn from(publisher: Publisher) -> String {
        publisher.as_str().to_string()
    }
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
    /// Emails carry the notes on days 0 to this day (none: every email).
    #[serde(default)]
    pub notes_last_day: Option<u32>,
    /// Phase or Tonight lines this class's own rule replaces on its patients' sheets and emails.
    #[serde(default)]
    pub replaces: Vec<Replace>,
    pub sources: Vec<String>,
}

/// Where an area's rule and a general line disagree, the area's rule wins: `line` (a do or avoid
/// line of `phase`, or a Tonight line when `phase` is "tonight") becomes `with` (empty: dropped).
/// When only some of the treated areas replace a line, the line stays and `with` follows it
/// under the area's label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    pub phase: String,
    pub line: String,
    #[serde(default)]
    pub with: String,
}

/// The `phase` of a [`Replace`] that names the Tonight list.
pub const TONIGHT: &str = "tonight";

/// A treatable area, e.g. "periorbital".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub id: String,
    /// Patient-facing name, e.g. "Around the eyes".
    pub label: String,
    /// Id of its [`AreaClass`].
    pub class: String,
    /// Usual depth range [min, max] in mm; only used by [`super::depth_hint`].
    #[serde(default)]
    pub typical_mm: Option<[f64; 2]>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// Emails carry the notes on days 0 to this day (none: every email).
    #[serde(default)]
    pub notes_last_day: Option<u32>,
    /// Lines this area's own rule replaces (see [`Replace`]); on top of its class's.
    #[serde(default)]
    pub replaces: Vec<Replace>,
    /// The sleeping positions that lie on this area (`back`, `front`, `side`): no sleeping
    /// advice its patients get may name one (clinical review M3; checked by the consistency
    /// tests).
    #[serde(default)]
    pub pressed_when_sleeping_on: Vec<String>,
    pub sources: Vec<String>,
}

/// The sleeping positions [`Area::pressed_when_sleeping_on`] may name.
pub const SLEEPING_POSITIONS: [&str; 3] = ["back", "front", "side"];

/// The list the evening email and the sheet always show, whatever the time of treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tonight {
    pub items: Vec<String>,
    pub sources: Vec<String>,
}

/// A value the same for every band, or one per band: `1` or `{ superficial = 1, standard = 3 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ByBand<T> {
    Same(T),
    PerBand(BTreeMap<String, T>),
}

impl<T> ByBand<T> {
    /// The value for a band; validation makes sure every band has one.
    pub fn get(&self, band: &str) -> Option<&T> {
        match self {
            ByBand::Same(v) => Some(v),
            ByBand::PerBand(m) => m.get(band),
        }
    }

    /// Not written in the file (a value a decision sets).
    pub fn is_unset(&self) -> bool {
        matches!(self, ByBand::PerBand(m) if m.is_empty())
    }
}

/// Unset: no band has a value.
impl<T> Default for ByBand<T> {
    fn default() -> Self {
        ByBand::PerBand(BTreeMap::new())
    }
}

/// Placeholder in a normal sign's texts for its last normal day.
pub const DAY: &str = "{day}";

/// A sign that is normal while the skin heals, up to a last day (the "What is normal" box, and
/// the check-in's "common" boxes). Past its window the sign is no longer normal: the check-in
/// offers `past_text` and triages it at `past_urgency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalSignSpec {
    pub id: String,
    /// As the box shows it; may contain `{day}` (its last normal day).
    pub text: ByBand<String>,
    /// The last local calendar day after the treatment day (day 0) on which it is normal;
    /// stretched by the healing factor like the phases. Left out for the sign of
    /// `[decisions.redness_limit]`, which sets it.
    #[serde(default)]
    pub last_day: ByBand<u32>,
    /// The check-in's label once past the window; contains `{day}`.
    pub past_text: String,
    /// `tell-us` or `call-now`.
    pub past_urgency: Urgency,
    /// Shown only when one of these areas is treated; empty: for every patient.
    #[serde(default)]
    pub areas: Vec<String>,
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
    /// Ids of the actives this phase's lines keep off for the whole phase, whatever their
    /// dates: no active may come back on a day this phase is in force (checked by the
    /// consistency tests). A line that keeps products off only "before their dates" is no tag.
    #[serde(default)]
    pub keeps_off: Vec<String>,
    pub sources: Vec<String>,
}

/// Things to avoid for a set time whatever the phase, e.g. heat and sweat for 72 hours. They join
/// the avoid list of every phase that starts before `until_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedAvoid {
    pub id: String,
    pub items: Vec<String>,
    /// Band id → hours after the treatment; always a phase boundary of that band. Left out for
    /// the restriction of `[decisions.peels_after_acids]`, which sets it.
    #[serde(default)]
    pub until_hours: BTreeMap<String, u32>,
    /// Staff-facing name on the treatment form; required when `adjust` is given.
    #[serde(default)]
    pub label: String,
    /// Band id → [min, max] hours a practitioner may choose for this session (stretched by the
    /// healing factor like `until_hours`). Empty: the practitioner cannot change it.
    #[serde(default)]
    pub adjust: BTreeMap<String, [u32; 2]>,
    /// Ids of the actives whose date this list never ends before: peels and laser never come
    /// back before exfoliating acids (clinical review M9; checked by the consistency tests).
    #[serde(default)]
    pub comes_after: Vec<String>,
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
    /// Never sooner than this band's day, whatever the band (prescription retinoids: "standard").
    #[serde(default)]
    pub not_before_band: Option<String>,
    /// Ids of the actives this one never comes back before, in any plan (prescription retinoids
    /// come last, after shop retinol: clinical review L2; checked by the consistency tests).
    #[serde(default)]
    pub comes_after: Vec<String>,
    /// How to bring it back.
    pub how: String,
    /// Completes the email subject on its day, e.g. "retinol can come back".
    pub headline: String,
    /// Band id → [min, max] days a practitioner may choose for this session. Empty: fixed.
    #[serde(default)]
    pub adjust: BTreeMap<String, [u32; 2]>,
    pub sources: Vec<String>,
}

/// A session add-on (PRP, radiofrequency …) or a skin consideration (darker skin, cold sores …):
/// texts it adds to the plan and the restrictions it lengthens. Both share one shape because
/// they act on a plan the same way; only where they are recorded differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tailor {
    pub id: String,
    /// Staff-facing name on the form (and in the audit log).
    pub label: String,
    /// The heading of its notes on the sheet and in the emails, in the patient's words;
    /// `label` when not given.
    #[serde(default)]
    pub patient_label: Option<String>,
    /// Applies only when one of these areas is treated; empty: whatever the areas.
    #[serde(default)]
    pub areas: Vec<String>,
    /// Phase ids whose do and avoid lists get `do` and `avoid`.
    #[serde(default)]
    pub phases: Vec<String>,
    #[serde(default, rename = "do")]
    pub do_items: Vec<String>,
    #[serde(default, rename = "avoid")]
    pub avoid_items: Vec<String>,
    /// Shown once per plan under its label.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Restriction → its least length: a timed_avoid id in hours, `active-<id>` in days. It can
    /// only lengthen a restriction, never shorten one.
    #[serde(default)]
    pub at_least: BTreeMap<String, u32>,
    /// Normal sign id → its least last day for this plan (e.g. PRP: redness lasts longer). Like
    /// `at_least`, it only ever lengthens a window.
    #[serde(default)]
    pub normal_last_day: BTreeMap<String, u32>,
    /// Signs that are normal only with this add-on or consideration (RF: bruising).
    #[serde(default)]
    pub normal_signs: Vec<NormalSignSpec>,
    pub sources: Vec<String>,
}

/// How urgent a red flag is. The ids are fixed because features beyond the sheet (check-ins)
/// act on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Call the emergency services (a severe allergic reaction).
    Emergency,
    /// Call the clinic now, or urgent care when it is closed.
    CallNow,
    /// Tell the clinic soon, by phone or at the next visit.
    TellUs,
}

impl Urgency {
    /// Every urgency, most urgent first.
    pub const ALL: [Urgency; 3] = [Urgency::Emergency, Urgency::CallNow, Urgency::TellUs];

    /// The urgency whose `id` this is.
    pub fn parse(id: &str) -> Option<Urgency> {
        Urgency::ALL.into_iter().find(|u| u.id() == id)
    }

    pub fn id(self) -> &'static str {
        match self {
            Urgency::Emergency => "emergency",
            Urgency::CallNow => "call-now",
            Urgency::TellUs => "tell-us",
        }
    }
}

/// Placeholder in a red-flag title for the clinic's emergency number.
pub const EMERGENCY_NUMBER: &str = "{emergency_number}";

/// One group of red flags, all of one urgency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedFlagGroupSpec {
    pub id: Urgency,
    /// "Call {emergency_number} straight away if you have:"
    pub title: String,
    pub items: Vec<String>,
    pub sources: Vec<String>,
}

/// Placeholder in the next-session note for the plan's own window ("4 to 6 weeks").
pub const GAP: &str = "{gap}";

/// When the next session may be booked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextSessionSpec {
    /// Band id → [from, to] local calendar days after the treatment day.
    pub days: BTreeMap<String, [u32; 2]>,
    /// Contains `{gap}`, filled in from the plan's window.
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

/// The file as written. Only [`super::Protocol::parse`] turns text into a protocol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProtocolFile {
    pub name: String,
    pub version: u32,
    pub disclaimer: String,
    pub sources: Vec<Source>,
    pub bands: Vec<Band>,
    pub classes: Vec<AreaClass>,
    pub areas: Vec<Area>,
    pub tonight: Tonight,
    pub normal_signs: Vec<NormalSignSpec>,
    pub phases: Vec<PhaseSpec>,
    #[serde(default)]
    pub timed_avoid: Vec<TimedAvoid>,
    pub actives: Vec<Active>,
    pub red_flags: Vec<RedFlagGroupSpec>,
    pub next_session: NextSessionSpec,
    pub reminders: Cadence,
    #[serde(default)]
    pub add_ons: Vec<Tailor>,
    #[serde(default)]
    pub considerations: Vec<Tailor>,
    pub decisions: Decisions,
}

/// The choices the clinic owns (clinical review 2026-12-04, "What the clinic must decide before
/// signing"), each a named entry of `[decisions]`. The plan reads these values from here only:
/// [`super::Protocol::parse`] writes them into the entries they govern, and refuses a file that
/// also sets them there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decisions {
    /// D1: when a PRP patient may wash.
    pub prp_wash: PrpWash,
    /// D2: when peels, laser and the like may come back, relative to the acids.
    pub peels_after_acids: PeelsAfterAcids,
    /// D3: the last day redness is normal, per band; after it, a red flag.
    pub redness_limit: RednessLimit,
    /// D4: the shortest heat, sweat and swimming ban a practitioner may choose.
    pub shortest_heat_ban: ShortestHeatBan,
    /// D5: what the actives schedule rests on.
    pub actives_evidence: ActivesEvidence,
}

/// D1: the PRP add-on's plasma stays on through a phase, and the patient may wash when it
/// ends. That phase must close the base no-wash window, so no line says to wash sooner or later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrpWash {
    /// The add-on whose `do` lines join the phases from the first through `keep_on_through`.
    pub add_on: String,
    /// The phase at whose end the patient may wash.
    pub keep_on_through: String,
    /// The base avoid line that forbids washing: every phase through `keep_on_through` carries
    /// it, and the next phase does not.
    pub no_wash_line: String,
    pub decides: String,
    pub why: String,
    pub sources: Vec<String>,
}

/// D2: `restriction` (a timed_avoid) lasts until the end of the phase in which `active`'s day
/// plus `offset_days` falls, per band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeelsAfterAcids {
    pub restriction: String,
    pub active: String,
    pub offset_days: ByBand<u32>,
    pub decides: String,
    pub why: String,
    pub sources: Vec<String>,
}

/// D3: the last normal day of the normal sign `sign`, per band. Past it the sign is a call-now
/// red flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RednessLimit {
    pub sign: String,
    pub last_day: ByBand<u32>,
    pub decides: String,
    pub why: String,
    pub sources: Vec<String>,
}

/// D4: no `adjust` range of `restriction` may start below `min_hours` for its band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortestHeatBan {
    pub restriction: String,
    pub min_hours: ByBand<u32>,
    pub decides: String,
    pub why: String,
    pub sources: Vec<String>,
}

/// D5: what the `[[actives]]` dates rest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivesEvidence {
    pub schedule: EvidenceBasis,
    /// With `clinician-authored`: the declared source (the clinic's own signed schedule) that
    /// every active must cite.
    #[serde(default)]
    pub schedule_source: Option<String>,
    pub decides: String,
    pub why: String,
    pub sources: Vec<String>,
}

/// D5's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceBasis {
    /// The clinic accepts, knowingly, dates that rest on clinic and vendor guides (no
    /// independent source gives a day).
    VendorGuides,
    /// A clinician wrote the schedule and signed it: every active cites `schedule_source`.
    ClinicianAuthored,
}

impl EvidenceBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceBasis::VendorGuides => "vendor-guides",
            EvidenceBasis::ClinicianAuthored => "clinician-authored",
        }
    }
}
