//! What the practitioner records, and how it is checked before a plan is computed from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::protocol::{format_mm, Area, Protocol, MAX_DEPTH_MM, MIN_DEPTH_MM};

use super::timing::stretch_days;
use super::types::Unit;

/// Treatments outside these years are refused: far outside any real use, and the bound keeps
/// every date computed from them safely inside chrono's range.
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2200;

/// What was done, as the practitioner records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreatmentInput {
    pub areas: Vec<TreatedArea>,
    /// Local wall time in the clinic's zone.
    pub treated_at: NaiveDateTime,
    /// IANA zone of the clinic, e.g. "Europe/London".
    pub time_zone: String,
    /// Local hour (0..=23) at which the clinic's reminder emails go out.
    pub send_hour: u32,
    /// What the practitioner tailored for this session; empty for an untailored plan.
    #[serde(default, skip_serializing_if = "Tailoring::is_empty")]
    pub tailoring: Tailoring,
}

/// How a practitioner tailored one plan, kept in the plan so a reprint shows exactly this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tailoring {
    /// Restriction key (a timed_avoid id, or `active-<id>`) → hours or days chosen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub adjustments: BTreeMap<String, u32>,
    /// Add-on ids, in protocol order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_ons: Vec<String>,
    /// Consideration ids, in protocol order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub considerations: Vec<String>,
    /// Plain text for the patient, shown under "From your practitioner".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub patient_note: String,
}

impl Tailoring {
    pub fn is_empty(&self) -> bool {
        *self == Tailoring::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreatedArea {
    pub area_id: String,
    pub depth_mm: f64,
}

/// Why a treatment cannot be planned. [`PlanError::field`] names the input field for the form.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("choose at least one treated area")]
    NoAreas,
    #[error("\"{id}\" is not an area in the protocol")]
    UnknownArea { index: usize, id: String },
    #[error("\"{id}\" is listed twice; give each area once with its deepest depth")]
    DuplicateArea { index: usize, id: String },
    #[error(
        "needle depth {} mm must be between {} and {} mm",
        format_mm(*.depth),
        format_mm(MIN_DEPTH_MM),
        format_mm(MAX_DEPTH_MM)
    )]
    DepthOutOfRange { index: usize, depth: f64 },
    #[error("\"{0}\" is not a known time zone (use an IANA name such as Europe/London)")]
    UnknownTimeZone(String),
    /// The local time does not exist in the zone: the clocks jump over it. Refused rather than
    /// shifted, because a treatment cannot happen at a time the clinic's clock never showed, so
    /// it is a typo, and silently moving it would store a time nobody entered.
    #[error("{local} does not exist in {zone}: the clocks skip it for daylight saving")]
    TreatedAtSkipped { local: NaiveDateTime, zone: String },
    #[error("the treatment date must be between {FIRST_YEAR} and {LAST_YEAR}")]
    TreatedAtOutOfRange,
    #[error("send hour {0} must be between 0 and 23")]
    SendHour(u32),
    #[error("\"{0}\" cannot be adjusted in this protocol")]
    NotAdjustable(String),
    #[error("choose from {min} to {max} {unit} (the default is {default})")]
    AdjustmentOutOfRange {
        key: String,
        min: u32,
        max: u32,
        default: u32,
        unit: Unit,
    },
    /// Each choice is in range, but with a week between actives one would come back so late
    /// that its email would go out after the plan ends. `field` is the practitioner's choice to
    /// change (or `add_ons` when only add-ons and considerations moved the actives).
    #[error(
        "with a week between products, {name} would come back on day {day}, but this plan \
         can bring products back until day {last} at the latest: choose an earlier day"
    )]
    ActivesPastPlanEnd {
        field: String,
        name: String,
        day: u32,
        last: u32,
    },
    #[error("\"{0}\" is not a session add-on in the protocol")]
    UnknownAddOn(String),
    #[error("\"{0}\" is not a skin consideration in the protocol")]
    UnknownConsideration(String),
}

impl PlanError {
    /// The input field at fault, e.g. `areas`, `areas[1].depth_mm`, `time_zone`, `treated_at`,
    /// `send_hour`.
    pub fn field(&self) -> String {
        match self {
            PlanError::NoAreas => "areas".into(),
            PlanError::UnknownArea { index, .. } | PlanError::DuplicateArea { index, .. } => {
                format!("areas[{index}].area_id")
            }
            PlanError::DepthOutOfRange { index, .. } => format!("areas[{index}].depth_mm"),
            PlanError::UnknownTimeZone(_) => "time_zone".into(),
            PlanError::TreatedAtSkipped { .. } | PlanError::TreatedAtOutOfRange => {
                "treated_at".into()
            }
            PlanError::SendHour(_) => "send_hour".into(),
            PlanError::NotAdjustable(key) | PlanError::AdjustmentOutOfRange { key, .. } => {
                format!("adjust_{key}")
            }
            PlanError::ActivesPastPlanEnd { field, .. } => field.clone(),
            PlanError::UnknownAddOn(_) => "add_ons".into(),
            PlanError::UnknownConsideration(_) => "considerations".into(),
        }
    }
}

/// The treatment's input after checking, with everything the plan is derived from.
pub(super) struct Resolved<'p> {
    pub(super) tz: Tz,
    pub(super) treated_utc: DateTime<Utc>,
    pub(super) treated_date: NaiveDate,
    pub(super) areas: Vec<(&'p Area, f64)>,
    pub(super) band: usize,
    pub(super) actives_band: usize,
    pub(super) healing_factor: f64,
    pub(super) daily_days: u32,
    /// The next-session window, stretched by the healing factor.
    pub(super) next_session_days: [u32; 2],
    pub(super) send_hour: u32,
}

/// Checks the input against the protocol: the first problem found is the error.
pub(super) fn resolve<'p>(
    protocol: &'p Protocol,
    input: &TreatmentInput,
) -> Result<Resolved<'p>, PlanError> {
    if input.send_hour > 23 {
        return Err(PlanError::SendHour(input.send_hour));
    }
    let tz: Tz = input
        .time_zone
        .parse()
        .map_err(|_| PlanError::UnknownTimeZone(input.time_zone.clone()))?;
    if input.areas.is_empty() {
        return Err(PlanError::NoAreas);
    }
    let mut areas = Vec::with_capacity(input.areas.len());
    let mut band = 0;
    for (index, treated) in input.areas.iter().enumerate() {
        let id = &treated.area_id;
        let area = protocol.area(id).ok_or_else(|| PlanError::UnknownArea {
            index,
            id: id.clone(),
        })?;
        if input.areas[..index].iter().any(|a| &a.area_id == id) {
            return Err(PlanError::DuplicateArea {
                index,
                id: id.clone(),
            });
        }
        let depth = treated.depth_mm;
        let depth_band = protocol
            .band_index_for_depth(depth)
            .ok_or(PlanError::DepthOutOfRange { index, depth })?;
        band = band.max(depth_band);
        areas.push((area, depth));
    }
    let year = input.treated_at.year();
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(PlanError::TreatedAtOutOfRange);
    }
    // A repeated local time (clocks going back) is taken as the earlier instant, like emails.
    let treated_utc = tz
        .from_local_datetime(&input.treated_at)
        .earliest()
        .ok_or_else(|| PlanError::TreatedAtSkipped {
            local: input.treated_at,
            zone: input.time_zone.clone(),
        })?
        .with_timezone(&Utc);

    let classes: Vec<_> = areas
        .iter()
        .filter_map(|(area, _)| protocol.class(&area.class))
        .collect();
    let healing_factor = classes.iter().map(|c| c.healing_factor).fold(1.0, f64::max);
    let extra_days = classes
        .iter()
        .map(|c| c.daily_reminder_extra_days)
        .max()
        .unwrap_or(0);
    let actives_band = classes
        .iter()
        .filter_map(|c| c.actives_band.as_deref())
        .filter_map(|id| protocol.band_index(id))
        .fold(band, usize::max);
    let band_id = &protocol.bands()[band].id;
    let daily_days = protocol.reminders().daily_days[band_id] + extra_days;
    let next_session_days =
        protocol.next_session().days[band_id].map(|d| stretch_days(d, healing_factor));
    Ok(Resolved {
        tz,
        treated_utc,
        treated_date: input.treated_at.date(),
        areas,
        band,
        actives_band,
        healing_factor,
        daily_days,
        next_session_days,
        send_hour: input.send_hour,
    })
}
