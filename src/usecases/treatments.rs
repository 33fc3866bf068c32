//! Use cases for treatments: record, edit, delete, and load for the sheet.
//!
//! Saving computes the plan with the care engine and stores it with the
//! treatment, in one transaction, so what the patient was given can always
//! be shown again exactly.

use super::{clinic, patients, reminders, sheet_inputs};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::collections::BTreeMap;

use crate::auth::Role;
use crate::care::{self, schedule, Plan, Protocol, TreatedArea, TreatmentInput};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::audit;
use crate::usecases::audit_writer::AuditEntry;
use crate::usecases::clinic::Clinic;
use crate::usecases::store::{
    self, treatments::TreatmentFields, treatments::TreatmentRow, write_tx, DbConn,
};
use patients::Patient;
use reminders::Timing;

/// Rows the form offers without JavaScript (a script may add more).
pub const FORM_ROWS: usize = 6;
/// The most rows a submitted form may carry.
pub const MAX_ROWS: usize = 20;
/// A treatment may be recorded up to this far ahead (clock differences, a
/// session recorded just before it starts) …
const MAX_AHEAD_HOURS: i64 = 12;
/// … and this far back (paper records typed in late).
const MAX_BACK_DAYS: i64 = 366;

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
            considerations: patient.considerations(),
            ..Default::default()
        }
    }

    /// The form filled from a stored treatment (for editing).
    pub fn from_stored(t: &TreatmentRow, areas: &[store::treatments::AreaRow]) -> TreatmentForm {
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

/// A checked treatment, ready to store.
struct Valid {
    fields: TreatmentFields,
    areas: Vec<(String, f64)>,
    plan: Plan,
}

/// What a `datetime-local` input shows and sends.
const FORM_DATETIME: &str = "%Y-%m-%dT%H:%M";

/// A local time as the treatment form's `datetime-local` input takes it.
pub fn form_datetime(t: NaiveDateTime) -> String {
    t.format(FORM_DATETIME).to_string()
}

fn parse_local(text: &str) -> Option<NaiveDateTime> {
    [FORM_DATETIME, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

fn validate(
    protocol: &Protocol,
    clinic: &Clinic,
    time_zone: &str,
    form: &TreatmentForm,
    now: DateTime<Utc>,
) -> AppResult<Valid> {
    let mut errors = FieldErrors::default();
    let tz: chrono_tz::Tz = time_zone.parse().map_err(|_| {
        AppError::Internal(anyhow::anyhow!("stored time zone {time_zone:?} is unknown"))
    })?;

    let treated_at_local = parse_local(&form.treated_at);
    match treated_at_local {
        None => errors.add("treated_at", "Enter the date and time of the treatment."),
        Some(local) => {
            let utc = schedule::local_to_utc(tz, local);
            if utc > now + Duration::hours(MAX_AHEAD_HOURS) {
                errors.add(
                    "treated_at",
                    "This date is in the future. Enter when the treatment was done.",
                );
            } else if utc < now - Duration::days(MAX_BACK_DAYS) {
                errors.add(
                    "treated_at",
                    "This date is more than a year ago. Check the year.",
                );
            }
        }
    }

    let mut areas: Vec<(String, f64)> = Vec::new();
    // The form row of each of `areas`, for an error beside its depth.
    let mut area_rows: Vec<usize> = Vec::new();
    for (i, row) in form.rows.iter().enumerate() {
        if row.area.is_empty() && row.depth.is_empty() {
            continue;
        }
        let area = protocol.area(&row.area);
        if area.is_none() {
            errors.add(format!("area_{i}"), "Choose the treated area.");
        } else if areas.iter().any(|(a, _)| *a == row.area) {
            errors.add(
                format!("area_{i}"),
                "This area is already listed. Give each area once, with its deepest depth.",
            );
        }
        let depth = row
            .depth
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite());
        match depth {
            Some(d) if (care::MIN_DEPTH_MM..=care::MAX_DEPTH_MM).contains(&d) => {
                if area.is_some() {
                    areas.push((row.area.clone(), (d * 100.0).round() / 100.0));
                    area_rows.push(i);
                }
            }
            _ => errors.add(
                format!("depth_{i}"),
                format!(
                    "Enter the needle depth in mm, from {} to {}.",
                    care::MIN_DEPTH_MM,
                    care::MAX_DEPTH_MM
                ),
            ),
        }
    }
    if areas.is_empty()
        && form
            .rows
            .iter()
            .all(|r| r.area.is_empty() && r.depth.is_empty())
    {
        errors.add(
            "areas",
            "Add at least one treated area with its needle depth.",
        );
    }
    // An unusual depth is the practitioner's to confirm before anything is saved or emailed.
    if unusual_key(protocol, &areas) != form.depth_confirmed {
        for ((area, depth), row) in areas.iter().zip(&area_rows) {
            if let Some(hint) = care::depth_hint(protocol, area, *depth) {
                errors.add(
                    format!("depth_{row}"),
                    format!("{hint} If it is right, tick \u{201c}{DEPTH_IS_RIGHT}\u{201d} below."),
                );
            }
        }
    }
    crate::usecases::fields::single_line(&mut errors, "device", &form.device, 200);
    crate::usecases::fields::multi_line(&mut errors, "products", &form.products, 1000);
    crate::usecases::fields::multi_line(&mut errors, "internal_notes", &form.internal_notes, 5000);
    let patient_note = crate::usecases::fields::multi_line(
        &mut errors,
        "patient_note",
        &form.patient_note,
        PATIENT_NOTE_MAX,
    );
    let mut adjustments = BTreeMap::new();
    for (key, text) in form.adjust.iter().filter(|(_, t)| !t.is_empty()) {
        match text.parse::<u32>() {
            Ok(value) => {
                adjustments.insert(key.clone(), value);
            }
            Err(_) => errors.add(format!("adjust_{key}"), "Enter a whole number."),
        }
    }
    errors.into_result()?;
    // Protocol order, whatever order the form sent them in, so equal choices give equal plans.
    let ticked = |list: &[care::protocol::Tailor], ids: &[String]| -> Vec<String> {
        let mut out: Vec<String> = list
            .iter()
            .filter(|t| ids.contains(&t.id))
            .map(|t| t.id.clone())
            .collect();
        out.extend(
            ids.iter()
                .filter(|i| !list.iter().any(|t| &t.id == *i))
                .cloned(),
        );
        out
    };
    let tailoring = care::Tailoring {
        adjustments,
        add_ons: ticked(protocol.add_ons(), &form.add_ons),
        considerations: ticked(protocol.considerations(), &form.considerations),
        patient_note,
    };

    let treated_at_local = treated_at_local.expect("validated");
    let input = TreatmentInput {
        areas: areas
            .iter()
            .map(|(a, d)| TreatedArea {
                area_id: a.clone(),
                depth_mm: *d,
            })
            .collect(),
        treated_at: treated_at_local,
        time_zone: time_zone.to_string(),
        send_hour: clinic.send_hour as u32,
        tailoring,
    };
    let plan = care::compute_plan(protocol, &input).map_err(|e| {
        let field = e.field();
        let field = if field.starts_with("treated_at") {
            "treated_at"
        } else if field.starts_with("adjust_") || field == "add_ons" || field == "considerations" {
            field.as_str()
        } else {
            "areas"
        };
        AppError::invalid(field, &e.to_string())
    })?;
    let plan_json = serde_json::to_string(&plan).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Valid {
        fields: TreatmentFields {
            treated_at_local,
            treated_at: plan.treated_at.utc.naive_utc(),
            time_zone: time_zone.to_string(),
            device: form.device.clone(),
            products: form.products.clone(),
            internal_notes: form.internal_notes.clone(),
            plan_json,
            updated_at: now.naive_utc(),
        },
        areas,
        plan,
    })
}

/// The box a practitioner ticks to record a depth outside the area's usual range.
pub const DEPTH_IS_RIGHT: &str = "Yes, this depth is right";

/// The depths outside their area's usual range, named as the confirmation box carries them
/// ("periorbital 2.0; cheeks 3.0"); empty when every depth is usual.
fn unusual_key(protocol: &Protocol, areas: &[(String, f64)]) -> String {
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

/// What the audit log adds when a depth outside its area's usual range was confirmed.
fn confirmed_note(protocol: &Protocol, plan: &Plan) -> String {
    let areas: Vec<(String, f64)> = plan
        .areas
        .iter()
        .map(|a| (a.id.clone(), a.depth_mm))
        .collect();
    match unusual_key(protocol, &areas) {
        key if key.is_empty() => String::new(),
        key => format!("; unusual depth confirmed: {key}"),
    }
}

#[tracing::instrument(skip_all, fields(patient_id = patient_id))]
pub fn record(
    conn: &mut DbConn,
    protocol: &Protocol,
    user: &User,
    ip: &str,
    patient_id: i64,
    form: &TreatmentForm,
    at: Timing,
) -> AppResult<i64> {
    let now = at.now.and_utc();
    // Validation and the plan need no lock: on SQLite every other writer
    // queues behind this transaction (BENCHMARKS.md, F3). The patient is read
    // inside it, so the reminders follow their consent as it is at commit.
    let clinic = clinic::get(conn)?;
    let valid = validate(protocol, &clinic, clinic.time_zone.name(), form, now)?;
    let now = now.naive_utc();
    write_tx(conn, |conn| {
        let patient = patients::get_unless_erased(conn, patient_id)?;
        let id = store::treatments::insert(conn, patient.id, user.id, &valid.fields, now)?;
        store::treatments::set_areas(conn, id, &valid.areas)?;
        let recipient = patients::recipient(&patient);
        reminders::schedule(conn, id, recipient, &valid.plan, &clinic.sender_email, at)?;
        let considerations = &valid.plan.tailoring.considerations;
        if *considerations != patient.considerations() {
            patients::set_considerations(conn, patient.id, considerations, now)?;
        }
        let summary = summary(&valid.plan) + &confirmed_note(protocol, &valid.plan);
        audit(
            conn,
            &user.actor(ip),
            "treatment.recorded",
            &format!("treatment {id}"),
            &format!("patient {}: {summary}", patient.id),
            now,
        )?;
        Ok(id)
    })
}

/// What the audit log keeps of a plan: the areas, then each tailoring and who made it (the
/// audit row's actor is the practitioner; `by` says what set each length).
fn summary(plan: &Plan) -> String {
    let mut text = plan
        .areas
        .iter()
        .map(|a| format!("{} {} mm", a.label, care::protocol::format_mm(a.depth_mm)))
        .collect::<Vec<_>>()
        .join(", ");
    for a in &plan.adjusted {
        text.push_str(&format!(
            "; adjusted {}: {} {} (default {}, by {})",
            a.key, a.value, a.unit, a.default, a.by
        ));
    }
    let t = &plan.tailoring;
    if !t.add_ons.is_empty() {
        text.push_str(&format!("; add-ons: {}", t.add_ons.join(", ")));
    }
    if !t.considerations.is_empty() {
        text.push_str(&format!(
            "; considerations: {}",
            t.considerations.join(", ")
        ));
    }
    if !t.patient_note.is_empty() {
        text.push_str("; with a note for the patient");
    }
    text
}

/// Only the practitioner who recorded a treatment, or an admin, may change it.
pub fn may_change(user: &User, t: &TreatmentRow) -> bool {
    user.role == Role::Admin || (user.role == Role::Practitioner && t.practitioner_id == user.id)
}

/// The user may change the treatment, and its record is still open: the treatments of a
/// patient erased at their request are kept as they stood (404 to any change).
fn ensure_may_change(conn: &mut DbConn, user: &User, t: &TreatmentRow) -> AppResult<()> {
    if !may_change(user, t) {
        return Err(AppError::Forbidden);
    }
    patients::get_unless_erased(conn, t.patient_id)?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn get(conn: &mut DbConn, id: i64) -> AppResult<TreatmentRow> {
    store::treatments::find(conn, id)?.ok_or(AppError::NotFound)
}

/// The stored treatment and its form, for the edit page (checks the right to edit).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn for_editing(
    conn: &mut DbConn,
    user: &User,
    id: i64,
) -> AppResult<(TreatmentRow, TreatmentForm)> {
    let t = get(conn, id)?;
    ensure_may_change(conn, user, &t)?;
    let areas = store::treatments::areas(conn, id)?;
    let form = TreatmentForm::from_stored(&t, &areas);
    Ok((t, form))
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn edit(
    conn: &mut DbConn,
    protocol: &Protocol,
    user: &User,
    ip: &str,
    id: i64,
    form: &TreatmentForm,
    at: Timing,
) -> AppResult<()> {
    let now = at.now.and_utc();
    write_tx::<_, AppError>(conn, |conn| {
        let t = get(conn, id)?;
        ensure_may_change(conn, user, &t)?;
        let clinic = clinic::get(conn)?;
        let valid = validate(protocol, &clinic, &t.time_zone, form, now)?;
        store::treatments::update(conn, id, &valid.fields)?;
        store::treatments::set_areas(conn, id, &valid.areas)?;
        let patient = patients::get_unless_erased(conn, t.patient_id)?;
        let recipient = patients::recipient(&patient);
        reminders::reschedule(conn, id, recipient, &valid.plan, &clinic.sender_email, at)?;
        audit(
            conn,
            &user.actor(ip),
            "treatment.edited",
            &format!("treatment {id}"),
            &(summary(&valid.plan) + &confirmed_note(protocol, &valid.plan)),
            now.naive_utc(),
        )?;
        Ok(())
    })?;
    sheet_inputs::changed();
    Ok(())
}

/// Soft delete: the row stays for the record; it disappears from every page.
/// The photos of its check-ins are deleted in the same transaction (zeroed
/// where they lay, on SQLite), not left until the retention period ends.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn delete(
    conn: &mut DbConn,
    user: &User,
    ip: &str,
    id: i64,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let patient_id = write_tx::<_, AppError>(conn, |conn| {
        let t = get(conn, id)?;
        ensure_may_change(conn, user, &t)?;
        store::treatments::soft_delete(conn, id, user.id, now)?;
        store::with_secure_delete(conn, |conn| {
            store::treatments::delete_checkin_photos(conn, id)
        })?;
        let deleted = reminders::Scope::Treatment(id);
        reminders::cancel_pending(conn, deleted, "the treatment was deleted", now)?;
        audit(
            conn,
            &user.actor(ip),
            "treatment.deleted",
            &format!("treatment {id}"),
            &format!("patient {}", t.patient_id),
            now,
        )?;
        Ok(t.patient_id)
    })?;
    sheet_inputs::changed();
    Ok(patient_id)
}

/// Everything a sheet or the treatment page shows.
pub struct TreatmentView {
    pub treatment: TreatmentRow,
    pub patient: Patient,
    pub practitioner: String,
    pub clinic: Clinic,
    pub plan: Plan,
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn view(conn: &mut DbConn, id: i64) -> AppResult<TreatmentView> {
    let (treatment, _, practitioner) =
        store::treatments::find_with_names(conn, id)?.ok_or(AppError::NotFound)?;
    let patient = patients::get(conn, treatment.patient_id)?;
    let clinic = clinic::get(conn)?;
    let plan: Plan = serde_json::from_str(&treatment.plan_json).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "treatment {id} has an unreadable plan: {e}"
        ))
    })?;
    Ok(TreatmentView {
        treatment,
        patient,
        practitioner,
        clinic,
        plan,
    })
}

/// A treatment as the patient's own links show it (the online sheet, its calendar files, the
/// check-in page): 404 once the patient was erased, though staff still see the treatment.
pub fn view_for_patient(conn: &mut DbConn, id: i64) -> AppResult<TreatmentView> {
    Some(view(conn, id)?)
        .filter(|v| !v.patient.is_erased())
        .ok_or(AppError::NotFound)
}

/// A patient's page: the patient, their treatments (with the practitioner's
/// name), and who recorded their consent.
pub struct PatientPage {
    pub patient: Patient,
    pub treatments: Vec<(TreatmentRow, String)>,
    pub consent_by: Option<String>,
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn patient_page(conn: &mut DbConn, id: i64) -> AppResult<PatientPage> {
    let patient = patients::get(conn, id)?;
    let treatments = store::treatments::for_patient(conn, id)?;
    let consent_by = match patient.consent_by {
        Some(uid) => match crate::usecases::accounts::get_user(conn, uid) {
            Ok(user) => Some(user.name),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(PatientPage {
        patient,
        treatments,
        consent_by,
    })
}

/// What the treatment form shows around its fields: the patient and the clinic (404 for a
/// patient who was erased: nothing more is recorded for them).
pub fn form_context(conn: &mut DbConn, patient_id: i64) -> AppResult<(Patient, Clinic)> {
    Ok((
        patients::get_unless_erased(conn, patient_id)?,
        clinic::get(conn)?,
    ))
}

/// The zone a treatment was recorded in (stored with it, so its dates never
/// move when the clinic's setting changes).
pub fn zone(t: &TreatmentRow) -> AppResult<chrono_tz::Tz> {
    t.time_zone.parse().map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "treatment {} has an unknown time zone {:?}",
            t.id,
            t.time_zone
        ))
    })
}

/// A treatment's page: the treatment with its reminders as staff see them.
pub fn page(
    conn: &mut DbConn,
    id: i64,
    at: reminders::Timing,
) -> AppResult<(TreatmentView, Vec<reminders::ReminderView>)> {
    let view = view(conn, id)?;
    let tz = zone(&view.treatment)?;
    let reminders = reminders::for_treatment(conn, id, &view.patient.name, tz, at)?;
    Ok((view, reminders))
}

/// One of the treatment's reminder emails, exactly as the patient gets it.
pub fn reminder_preview(
    conn: &mut DbConn,
    links: &crate::usecases::links::Links,
    treatment_id: i64,
    reminder_id: i64,
) -> AppResult<ReminderPreview> {
    let row = reminders::of_treatment(conn, treatment_id, reminder_id)?;
    let view = view(conn, treatment_id)?;
    let patient = &view.patient;
    let email = reminders::compose_for(&row, &view.plan, &view.clinic, &patient.name, links);
    let not_sent = if patient.is_erased() {
        Some(reminders::Blocked::PatientErased.note())
    } else if !patient.can_be_emailed() {
        Some(reminders::Blocked::CannotBeEmailed.note())
    } else {
        None
    };
    Ok(ReminderPreview {
        to: patient
            .email
            .as_deref()
            .map(|address| crate::mail::to_line(&patient.name, address)),
        not_sent,
        email,
    })
}

/// A reminder as staff preview it: the email, and whom it goes to.
pub struct ReminderPreview {
    pub email: crate::mail::reminder::ReminderEmail,
    /// The To line as the email carries it; `None` when the patient has no address.
    pub to: Option<String>,
    /// Why it will not reach the patient, when it will not.
    pub not_sent: Option<&'static str>,
}

/// The start page's list: the latest treatments, and how many emails failed.
pub struct Dashboard {
    pub recent: Vec<(TreatmentRow, String, String)>,
    pub failed_emails: i64,
}

#[tracing::instrument(skip_all)]
pub fn dashboard(conn: &mut DbConn) -> AppResult<Dashboard> {
    let recent = store::treatments::recent(conn, 10)?;
    let failed_emails = reminders::failed_count(conn)?;
    Ok(Dashboard {
        recent,
        failed_emails,
    })
}

/// What a treatment's sheet was made from: the treatment, its patient and the
/// clinic settings, each by its version. Equal versions give the same sheet,
/// on any instance, so a rendered sheet is reused while they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SheetVersion {
    pub treatment: i64,
    pub patient: i64,
    pub clinic: i64,
}

/// Who opens a sheet: staff still print an erased patient's sheet (the clinic keeps the
/// treatment); the patient's link stops working when they are erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Staff,
    Patient,
}

/// The current versions behind a live treatment's sheet (one small read, no plan).
pub fn sheet_version(conn: &mut DbConn, id: i64, reader: Reader) -> AppResult<SheetVersion> {
    let (treatment, patient, erased, clinic) =
        store::treatments::sheet_versions(conn, id)?.ok_or(AppError::NotFound)?;
    if erased && reader == Reader::Patient {
        return Err(AppError::NotFound);
    }
    Ok(SheetVersion {
        treatment,
        patient,
        clinic,
    })
}

/// Emails the patient the link to their sheet now, through the outbox.
/// Refused (nothing queued) when the patient may not be emailed. `click` names
/// the click, so the same click sent twice queues one email; returns the
/// address it goes to, or `None` when that click was already queued.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn send_sheet_now(
    conn: &mut DbConn,
    actor: &crate::usecases::audit::Actor,
    id: i64,
    click: &str,
    at: Timing,
) -> AppResult<Option<String>> {
    let click_ok = !click.is_empty()
        && click.len() <= 40
        && click
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !click_ok {
        return Err(AppError::BadRequest(
            "The button's form is incomplete.".into(),
        ));
    }
    write_tx(conn, |conn| {
        let t = get(conn, id)?;
        let patient = patients::get(conn, t.patient_id)?;
        let recipient = patients::recipient(&patient);
        if !recipient.can_be_emailed {
            return Err(AppError::invalid(
                "send_now",
                "Not sent: this patient has not agreed to aftercare emails, has no email \
                 address, or unsubscribed.",
            ));
        }
        let clinic = clinic::get(conn)?;
        let subject = format!("Your aftercare sheet from {}", clinic.name);
        let queued = reminders::queue_sheet_now(
            conn,
            id,
            recipient,
            &subject,
            &clinic.sender_email,
            click,
            at,
        )?;
        if !queued {
            return Ok(None);
        }
        audit(
            conn,
            actor,
            "sheet.sent_now",
            &format!("treatment {id}"),
            &format!("patient {}: the sheet's link, by email now", patient.id),
            at.now,
        )?;
        Ok(patient.email)
    })
}

/// A treatment with everything stored about it (an export's).
pub struct TreatmentRecord {
    pub treatment: TreatmentRow,
    pub practitioner: String,
    pub deleted_at: Option<NaiveDateTime>,
    pub areas: Vec<store::treatments::AreaRow>,
}

/// Every treatment of a patient, deleted ones too, oldest first.
pub fn records_of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<TreatmentRecord>> {
    let rows = store::treatments::all_for_patient(conn, patient_id)?;
    let mut records = Vec::with_capacity(rows.len());
    for (treatment, practitioner, deleted_at) in rows {
        let areas = store::treatments::areas(conn, treatment.id)?;
        records.push(TreatmentRecord {
            treatment,
            practitioner,
            deleted_at,
            areas,
        });
    }
    Ok(records)
}

/// Removes the free text of a patient's treatments (internal notes, the note for the patient
/// inside the stored plan); date, areas, depths, practitioner, device, products and the rest
/// of the plan stay. Call inside the erasure's transaction. Returns the treatments' ids.
pub fn erase_free_text(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<i64>> {
    let mut ids = Vec::new();
    for (t, _, _) in store::treatments::all_for_patient(conn, patient_id)? {
        let plan_json = without_patient_note(&t.plan_json).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "treatment {} has an unreadable plan: {e}",
                t.id
            ))
        })?;
        store::treatments::erase_free_text(conn, t.id, &plan_json)?;
        ids.push(t.id);
    }
    Ok(ids)
}

/// The stored plan without the practitioner's note to the patient. Read as plain JSON, not as
/// a `Plan`, so plans of every protocol version keep all else they hold, as stored.
fn without_patient_note(plan_json: &str) -> serde_json::Result<String> {
    let mut plan: serde_json::Value = serde_json::from_str(plan_json)?;
    if let Some(note) = plan.pointer_mut("/tailoring/patient_note") {
        *note = serde_json::Value::String(String::new());
    }
    serde_json::to_string(&plan)
}

/// The audit row for who opened a sheet (staff printing, or the patient by link).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn sheet_opened(
    actor: crate::usecases::audit::Actor,
    action: &'static str,
    id: i64,
    now: NaiveDateTime,
) -> AuditEntry {
    AuditEntry {
        at: now,
        actor,
        action,
        subject: format!("treatment {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form as typed: the time, then (area, depth) rows.
    fn typed(treated_at: &str, rows: &[(&str, &str)]) -> TreatmentForm {
        TreatmentForm {
            treated_at: treated_at.into(),
            rows: rows
                .iter()
                .map(|(area, depth)| AreaRowInput {
                    area: area.to_string(),
                    depth: depth.to_string(),
                })
                .collect(),
            ..TreatmentForm::default()
        }
    }

    fn clinic() -> Clinic {
        Clinic {
            name: "C".into(),
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            opening_hours: String::new(),
            out_of_hours: String::new(),
            time_zone: crate::usecases::clinic::Zone(chrono_tz::Europe::London),
            send_hour: 9,
            sender_email: "a@c.example".into(),
            configured: true,
            emergency_number: String::new(),
            locale: Default::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn errors_of(form: TreatmentForm) -> FieldErrors {
        match validate(
            &Protocol::default_protocol(),
            &clinic(),
            "Europe/London",
            &form,
            now(),
        ) {
            Err(AppError::Invalid(e)) => e,
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(_) => panic!("expected field errors"),
        }
    }

    #[test]
    fn no_area_too_deep_and_far_future_are_field_errors() {
        let e = errors_of(typed("2026-11-25T10:00", &[]));
        assert!(e.get("areas").is_some());
        let e = errors_of(typed("2027-06-01T10:00", &[("cheeks", "7")]));
        assert!(e.msg("depth_0").contains("0.1 to 3"));
        assert!(e.msg("treated_at").contains("future"));
        let e = errors_of(typed("yesterday", &[("cheeks", "1"), ("cheeks", "1")]));
        assert!(e.get("treated_at").is_some());
        assert!(e.msg("area_1").contains("already listed"));
    }

    #[test]
    fn erasing_empties_only_the_note_for_the_patient() {
        let stored = r#"{"band":"x","tailoring":{"add_ons":["prp"],"patient_note":"Hi Jo"}}"#;
        let erased: serde_json::Value =
            serde_json::from_str(&without_patient_note(stored).unwrap()).unwrap();
        assert_eq!(erased["tailoring"]["patient_note"], "");
        assert_eq!(erased["tailoring"]["add_ons"][0], "prp");
        assert_eq!(erased["band"], "x");
        // A plan from before tailoring has no note to empty.
        assert_eq!(
            without_patient_note(r#"{"band":"x"}"#).unwrap(),
            r#"{"band":"x"}"#
        );
    }

    #[test]
    fn a_valid_form_gives_a_plan_in_the_clinics_zone() {
        let form = typed("2026-11-24T14:30", &[("cheeks", "1,0")]);
        let valid = validate(
            &Protocol::default_protocol(),
            &clinic(),
            "Europe/London",
            &form,
            now(),
        )
        .unwrap();
        assert_eq!(valid.areas, vec![("cheeks".to_string(), 1.0)]);
        assert_eq!(valid.fields.treated_at.to_string(), "2026-11-24 14:30:00");
        assert!(!valid.plan.phases.is_empty());
    }
}
