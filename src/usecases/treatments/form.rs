//! The treatment form as typed (every value a string, so it can be shown again), what it
//! starts from, and the unusual depths its confirmation box names.

use chrono::NaiveDateTime;
use std::collections::BTreeMap;

use crate::care::{self, Plan, Protocol};
use crate::error::{AppError, AppResult};
use crate::usecases::accounts::{self, User};
use crate::usecases::clinic::{self, Clinic};
use crate::usecases::patients::{self, Patient};
use crate::usecases::store::treatments::{AreaRow, TreatmentRow};
use crate::usecases::store::DbConn;

/// Rows the form offers without JavaScript (a script may add more).
pub const FORM_ROWS: usize = 6;
/// The most rows a submitted form may carry.
pub const MAX_ROWS: usize = 20;

/// The treatment form as typed: everything a string, so it can be shown again.
#[derive(Debug, Clone, Default)]
pub struct TreatmentForm {
    pub treated_at: String,
    pub rows: Vec<AreaRowInput>,
    pub device: String,
    pub products: String,
    pub internal_notes: String,
    /// "Adjust for this session": restriction key → value as typed (empty: the default).
    pub adjust: BTreeMap<String, String>,
    /// Ticked add-on ids.
    pub add_ons: Vec<String>,
    /// Ticked skin consideration ids (a new treatment starts from the patient's).
    pub considerations: Vec<String>,
    /// Shown to the patient under "From your practitioner".
    pub patient_note: String,
    /// The unusual depths the practitioner confirmed ("Yes, this depth is right"), as
    /// [`unusual_depths`] names them: a confirmation holds only for the depths it was given for.
    pub depth_confirmed: String,
    /// The location it was done at, by id, as chosen (empty: the user's only location).
    pub location: String,
}

/// The longest note for the patient: a few sentences, so it fits on the printed sheet.
pub const PATIENT_NOTE_MAX: usize = 600;

#[derive(Debug, Clone, Default)]
pub struct AreaRowInput {
    pub area: String,
    pub depth: String,
}

impl TreatmentForm {
    /// The form for a new treatment: now, in the clinic's zone, empty rows, and the patient's
    /// recorded skin considerations.
    pub fn blank(local_now: NaiveDateTime, patient: &Patient) -> TreatmentForm {
        TreatmentForm {
            treated_at: form_datetime(local_now),
            rows: vec![AreaRowInput::default(); FORM_ROWS],
            considerations: patient.considerations.clone(),
            ..Default::default()
        }
    }

    /// The form filled from a stored treatment (for editing).
    pub(super) fn from_stored(t: &TreatmentRow, areas: &[AreaRow]) -> TreatmentForm {
        let mut rows: Vec<AreaRowInput> = areas
            .iter()
            .map(|a| AreaRowInput {
                area: a.area_id.clone(),
                depth: format!("{}", a.depth_mm),
            })
            .collect();
        let blanks = FORM_ROWS.saturating_sub(rows.len()).max(2);
        rows.extend(std::iter::repeat_n(AreaRowInput::default(), blanks));
        // A plan that cannot be read leaves the tailoring empty; the sheet reports that error.
        let tailoring = serde_json::from_str::<Plan>(&t.plan_json)
            .map(|p| p.tailoring)
            .unwrap_or_default();
        TreatmentForm {
            adjust: tailoring
                .adjustments
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            add_ons: tailoring.add_ons,
            considerations: tailoring.considerations,
            patient_note: tailoring.patient_note,
            treated_at: form_datetime(t.treated_at_local),
            rows,
            device: t.device.clone(),
            products: t.products.clone(),
            internal_notes: t.internal_notes.clone(),
            // Set by the edit page from the stored depths (it knows the protocol).
            depth_confirmed: String::new(),
            location: t.location_id.to_string(),
        }
    }

    /// Pads the rows so a form shown again always has room to add an area.
    pub fn with_spare_rows(mut self) -> TreatmentForm {
        let used = self
            .rows
            .iter()
            .rposition(|r| !r.area.is_empty() || !r.depth.is_empty())
            .map_or(0, |i| i + 1);
        self.rows.truncate(used);
        let target = (used + 2).clamp(FORM_ROWS, MAX_ROWS);
        self.rows.resize(target, AreaRowInput::default());
        self
    }
}

/// What a `datetime-local` input shows and sends.
const FORM_DATETIME: &str = "%Y-%m-%dT%H:%M";

/// A local time as the treatment form's `datetime-local` input takes it.
pub fn form_datetime(t: NaiveDateTime) -> String {
    t.format(FORM_DATETIME).to_string()
}

/// The treatment's time as typed: as the `datetime-local` input sends it, with seconds, or
/// with a space.
pub(super) fn parse_local(text: &str) -> Option<NaiveDateTime> {
    [FORM_DATETIME, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// The box a practitioner ticks to record a depth outside the area's usual range.
pub const DEPTH_IS_RIGHT: &str = "Yes, this depth is right";

/// The depths outside their area's usual range, named as the confirmation box carries them
/// ("periorbital 2.0; cheeks 3.0"); empty when every depth is usual.
pub(super) fn unusual_key(protocol: &Protocol, areas: &[(String, f64)]) -> String {
    areas
        .iter()
        .filter(|(area, depth)| care::depth_hint(protocol, area, *depth).is_some())
        .map(|(area, depth)| format!("{area} {}", care::protocol::format_mm(*depth)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The unusual depths of a form as typed (what its confirmation box confirms), or empty: the
/// edit page starts from the stored depths, which were confirmed when recorded.
pub fn unusual_depths(protocol: &Protocol, form: &TreatmentForm) -> String {
    let areas: Vec<(String, f64)> = form
        .rows
        .iter()
        .filter_map(|r| {
            let depth = r.depth.replace(',', ".").parse::<f64>().ok()?;
            Some((r.area.clone(), (depth * 100.0).round() / 100.0))
        })
        .collect();
    unusual_key(protocol, &areas)
}

/// What the treatment form shows around its fields: the patient (404 for a patient who was
/// erased: nothing more is recorded for them) and the locations the user may record at, the
/// first of them chosen unless the form names another.
pub fn form_context(
    conn: &mut DbConn,
    user: &User,
    patient_id: i64,
) -> AppResult<(Patient, Vec<Clinic>)> {
    Ok((
        patients::get_unless_erased(conn, patient_id)?,
        recording_locations(conn, user)?,
    ))
}

/// The open locations a user may record a treatment at: those they work at.
pub fn recording_locations(conn: &mut DbConn, user: &User) -> AppResult<Vec<Clinic>> {
    let sites = accounts::sites_of(conn, user)?;
    let open = clinic::open_locations(conn)?;
    let theirs: Vec<Clinic> = open
        .iter()
        .filter(|c| sites.includes(c.location_id))
        .cloned()
        .collect();
    // Assigned only to closed locations: they may still record at any open one.
    Ok(if theirs.is_empty() { open } else { theirs })
}

/// The location a form chose among `places` (the user's open locations): its id as typed,
/// or the only one when the form names none.
pub(super) fn chosen_location(places: &[Clinic], typed: &str) -> AppResult<Clinic> {
    let found = match typed.trim() {
        "" if places.len() == 1 => places.first(),
        typed => places
            .iter()
            .find(|c| typed.parse::<i64>().ok() == Some(c.location_id)),
    };
    found.cloned().ok_or_else(|| {
        AppError::invalid(
            "location",
            "Choose the location where the treatment was done.",
        )
    })
}
