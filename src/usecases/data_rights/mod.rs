//! A patient's requests about their data: a copy of everything held about them (export), and
//! the erasure of what identifies them, keeping the treatment facts a clinic must keep.
//!
//! Both read across areas (patients, treatments, reminders, check-ins, the audit log) through
//! their use cases, in one transaction, and both are in the audit log.

use crate::words::counted;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::{checkins, fhir, patients, reminders, sheet_inputs, treatments};
use crate::documents::fhir::Bundle;
use crate::error::{AppError, AppResult};
use crate::usecases::accounts;
use crate::usecases::audit::{self, audit, Actor};
use crate::usecases::store::{self, write_tx, DbConn};

/// The export's shape and version, its first field. A change that could break a reader of
/// version 1 (a field renamed, removed or changing meaning) raises the number; new fields
/// do not.
pub const EXPORT_FORMAT: &str = "aftercare-patient-export/1";

/// What replaces removed text inside kept records (audit details, mail servers' replies).
const REMOVED: &str = "[erased]";

// --- export -----------------------------------------------------------------------

#[derive(Serialize)]
pub struct PatientExport {
    pub format: &'static str,
    pub exported_at: DateTime<Utc>,
    pub clinic: String,
    pub patient: PatientData,
    /// Oldest first, deleted ones included (with when they were deleted).
    pub treatments: Vec<TreatmentData>,
    /// The audit log's entries about the patient, their treatments and their emails.
    pub audit: Vec<AuditData>,
    /// Each live treatment's record as a FHIR R4 bundle ("Download as FHIR"), oldest first;
    /// none once the patient was erased.
    pub fhir_bundles: Vec<Bundle>,
}

#[derive(Serialize)]
pub struct PatientData {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub added_at: DateTime<Utc>,
    pub email_consent: bool,
    pub consent_recorded_by: Option<String>,
    pub consent_recorded_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    /// Protocol ids, as the next treatment's form starts from them.
    pub skin_considerations: Vec<String>,
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub struct TreatmentData {
    pub id: i64,
    pub treated_at: DateTime<Utc>,
    /// The clinic's wall-clock time, in `time_zone`.
    pub treated_at_local: NaiveDateTime,
    pub time_zone: String,
    pub practitioner: String,
    /// The location it was done at, by name.
    pub location: String,
    pub areas: Vec<AreaData>,
    pub device: String,
    pub products: String,
    pub internal_notes: String,
    /// What was tailored for this session (the plan's `tailoring`, `adjusted`), for reading.
    pub tailoring: serde_json::Value,
    pub adjusted: serde_json::Value,
    /// The plan exactly as stored, from which the sheet and every email were made.
    pub plan: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub reminders: Vec<ReminderData>,
    pub checkins: Vec<CheckinData>,
}

#[derive(Serialize)]
pub struct AreaData {
    pub area: String,
    pub depth_mm: f64,
}

#[derive(Serialize)]
pub struct ReminderData {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub day: i32,
    pub subject: String,
    pub due_at: DateTime<Utc>,
    /// pending, sending, sent, failed, skipped or cancelled.
    pub status: String,
    /// Why it was skipped or cancelled.
    pub reason: Option<String>,
    /// What the mail server last said, when it failed.
    pub last_error: Option<String>,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: String,
}

#[derive(Serialize)]
pub struct CheckinData {
    pub id: i64,
    pub sent_at: DateTime<Utc>,
    /// Calendar days after the treatment day.
    pub day: i32,
    pub answer: String,
    pub urgency: String,
    pub ticked: Vec<TickedData>,
    pub note: String,
    /// The address the answer came from.
    pub ip: String,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_note: Option<String>,
    /// While it is kept (the photo retention setting).
    pub photo: Option<PhotoData>,
}

#[derive(Serialize)]
pub struct TickedData {
    pub group: String,
    pub text: String,
}

/// The photo itself, base64-encoded, so the export is one self-contained file.
#[derive(Serialize)]
pub struct PhotoData {
    pub content_type: String,
    pub bytes: usize,
    pub base64: String,
}

#[derive(Serialize)]
pub struct AuditData {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
    /// How many times it happened: 1, but a patient's views of their link are one entry per
    /// address and hour (from `at`), with their number here.
    pub times: i64,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Users' names by id, each read once.
struct Names(HashMap<i64, Option<String>>);

impl Names {
    fn of(&mut self, conn: &mut DbConn, id: Option<i64>) -> AppResult<Option<String>> {
        let Some(id) = id else { return Ok(None) };
        if let Some(name) = self.0.get(&id) {
            return Ok(name.clone());
        }
        let name = match accounts::get_user(conn, id) {
            Ok(user) => Some(user.name),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.0.insert(id, name.clone());
        Ok(name)
    }
}

/// The audit subjects that name a patient or what is theirs.
fn subjects(patient_id: i64, treatment_ids: &[i64], reminder_ids: &[i64]) -> Vec<String> {
    std::iter::once(format!("patient {patient_id}"))
        .chain(treatment_ids.iter().map(|id| format!("treatment {id}")))
        .chain(reminder_ids.iter().map(|id| format!("reminder {id}")))
        .collect()
}

/// Everything held about one patient, as one JSON document ([`EXPORT_FORMAT`]), read from
/// one snapshot; the export is in the audit log (who, whom).
#[tracing::instrument(skip_all, fields(patient_id = patient_id))]
pub fn export(
    conn: &mut DbConn,
    actor: &Actor,
    patient_id: i64,
    now: NaiveDateTime,
) -> AppResult<String> {
    let document = write_tx(conn, |conn| {
        store::one_snapshot(conn)?;
        let document = read_export(conn, patient_id, now)?;
        audit(
            conn,
            actor,
            "patient.exported",
            &format!("patient {patient_id}"),
            &format!(
                "{}, {}",
                counted(document.treatments.len(), "treatment"),
                counted(document.audit.len(), "audit entry")
            ),
            now,
        )?;
        AppResult::Ok(document)
    })?;
    serde_json::to_string_pretty(&document)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the export did not serialise: {e}")))
}

fn read_export(conn: &mut DbConn, patient_id: i64, now: NaiveDateTime) -> AppResult<PatientExport> {
    use base64::Engine;
    let patient = patients::get(conn, patient_id)?;
    let clinic = super::clinic::get(conn)?;
    let locations = super::clinic::locations(conn)?;
    let mut names = Names(HashMap::new());
    let mut reminders_by_treatment: HashMap<i64, Vec<ReminderData>> = HashMap::new();
    let mut reminder_ids = Vec::new();
    for r in reminders::of_patient(conn, patient_id)? {
        reminder_ids.push(r.id);
        reminders_by_treatment
            .entry(r.treatment_id)
            .or_default()
            .push(ReminderData {
                id: r.id,
                key: r.key,
                kind: r.kind.as_str().to_string(),
                day: r.day,
                subject: r.subject,
                due_at: utc(r.send_at),
                status: r.status.as_str().to_string(),
                reason: r.reason,
                last_error: r.last_error,
                attempts: r.attempts,
                sent_at: r.sent_at.map(utc),
                message_id: r.message_id,
            });
    }
    let mut checkins_by_treatment: HashMap<i64, Vec<CheckinData>> = HashMap::new();
    for (c, photo) in checkins::records_of_patient(conn, patient_id)? {
        let ticked: Vec<(String, String)> = serde_json::from_str(&c.ticked_json)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("check-in {}: {e}", c.id)))?;
        let acknowledged_by = names.of(conn, c.acknowledged_by)?;
        checkins_by_treatment
            .entry(c.treatment_id)
            .or_default()
            .push(CheckinData {
                id: c.id,
                sent_at: utc(c.created_at),
                day: c.day,
                answer: c.answer.as_str().to_string(),
                urgency: checkins::stored_urgency(c.urgency).to_string(),
                ticked: ticked
                    .into_iter()
                    .map(|(group, text)| TickedData { group, text })
                    .collect(),
                note: c.note,
                ip: c.ip,
                acknowledged_at: c.acknowledged_at.map(utc),
                acknowledged_by,
                acknowledged_note: c.acknowledged_note,
                photo: photo.map(|(content_type, data)| PhotoData {
                    content_type,
                    bytes: data.len(),
                    base64: base64::engine::general_purpose::STANDARD.encode(&data),
                }),
            });
    }
    let mut treatment_ids = Vec::new();
    let mut treatments_out = Vec::new();
    let mut fhir_bundles = Vec::new();
    for record in treatments::records_of_patient(conn, patient_id)? {
        let t = record.treatment;
        treatment_ids.push(t.id);
        if record.deleted_at.is_none() && !patient.is_erased() {
            fhir_bundles.push(fhir::read_bundle(conn, t.id, now)?);
        }
        let plan: serde_json::Value = serde_json::from_str(&record.plan_json).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "treatment {} has an unreadable plan: {e}",
                t.id
            ))
        })?;
        treatments_out.push(TreatmentData {
            id: t.id,
            treated_at: utc(t.treated_at),
            treated_at_local: t.treated_at_local,
            time_zone: t.time_zone.name().to_string(),
            practitioner: record.practitioner,
            location: locations
                .iter()
                .find(|l| l.id == t.location_id)
                .map_or_else(String::new, |l| l.name.clone()),
            areas: record
                .areas
                .into_iter()
                .map(|a| AreaData {
                    area: a.area_id,
                    depth_mm: a.depth_mm,
                })
                .collect(),
            device: t.device,
            products: t.products,
            internal_notes: t.internal_notes,
            tailoring: plan.get("tailoring").cloned().unwrap_or_default(),
            adjusted: plan.get("adjusted").cloned().unwrap_or_default(),
            plan,
            recorded_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
            deleted_at: record.deleted_at.map(utc),
            reminders: reminders_by_treatment.remove(&t.id).unwrap_or_default(),
            checkins: checkins_by_treatment.remove(&t.id).unwrap_or_default(),
        });
    }
    let audit_entries = audit::about(conn, &subjects(patient_id, &treatment_ids, &reminder_ids))?
        .into_iter()
        .map(|e| AuditData {
            at: utc(e.at),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
            ip: e.ip,
            times: e.times,
        })
        .collect();
    Ok(PatientExport {
        format: EXPORT_FORMAT,
        exported_at: utc(now),
        clinic: clinic.name,
        patient: PatientData {
            id: patient.id,
            skin_considerations: patient.considerations.clone(),
            consent_recorded_by: names.of(conn, patient.consent_by)?,
            name: patient.name,
            email: patient.email,
            phone: patient.phone,
            date_of_birth: patient.date_of_birth,
            added_at: utc(patient.created_at),
            email_consent: patient.email_consent,
            consent_recorded_at: patient.consent_at.map(utc),
            unsubscribed_at: patient.unsubscribed_at.map(utc),
            erased_at: patient.erased_at.map(utc),
        },
        treatments: treatments_out,
        audit: audit_entries,
        fhir_bundles,
    })
}

// --- erasure ----------------------------------------------------------------------

/// The confirmation form: the patient's name, typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EraseInput {
    #[serde(default)]
    pub confirm_name: String,
}

/// What the confirmation page lists before anything is erased.
pub struct ErasePreview {
    pub patient: patients::Patient,
    pub treatments: usize,
    pub pending_emails: i64,
    pub checkins: i64,
    pub photos: i64,
}

/// What an erasure will touch (404 for a patient already erased).
pub fn erase_preview(conn: &mut DbConn, patient_id: i64) -> AppResult<ErasePreview> {
    let patient = patients::get_unless_erased(conn, patient_id)?;
    let (checkins, photos) = checkins::counts_for_patient(conn, patient_id)?;
    Ok(ErasePreview {
        treatments: treatments::records_of_patient(conn, patient_id)?.len(),
        pending_emails: reminders::pending_count(conn, patient_id)?,
        checkins,
        photos,
        patient,
    })
}

/// What an erasure did.
#[derive(Debug)]
pub struct Erased {
    pub treatments: usize,
    pub cancelled_emails: usize,
    pub checkins: usize,
    pub photos: usize,
    pub audit_entries: usize,
    /// Whether the database file was rewritten without the removed bytes (SQLite); the reason
    /// when it could not be, the erasure itself being done.
    pub purged: Result<(), String>,
}

/// Names match when they differ only in letter case and spacing.
fn same_name(typed: &str, name: &str) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    !typed.trim().is_empty() && fold(typed) == fold(name)
}

/// `text` with every occurrence of each of `needles` (ignoring ASCII case) replaced by
/// [`REMOVED`].
fn redact(text: &str, needles: &[String]) -> String {
    let mut out = text.to_string();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while !rest.is_empty() {
            let found = rest
                .get(..needle.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(needle));
            if found {
                result.push_str(REMOVED);
                rest = &rest[needle.len()..];
            } else {
                let next = rest.chars().next().expect("not empty");
                result.push(next);
                rest = &rest[next.len_utf8()..];
            }
        }
        out = result;
    }
    out
}

/// An audit entry about an erased patient, as it is kept: the detail without what identified
/// them (the name recorded at each edit, whatever it was then; a note staff wrote about them;
/// else any mention of their name, email or phone), and no address of theirs (entries the
/// patient made through their links carry it). Who did what, and when, stays.
fn scrubbed(entry: &audit::Entry, identity: &[String]) -> (String, String) {
    let detail = match entry.action.as_str() {
        // The detail is the name as it was then, and what became of consent.
        "patient.created" | "patient.updated" => {
            let consent = [patients::CONSENT_GIVEN, patients::CONSENT_WITHDRAWN]
                .into_iter()
                .find(|c| entry.detail.ends_with(c))
                .unwrap_or("");
            format!("{REMOVED}{consent}")
        }
        // "check-in 12: what staff did".
        "checkin.acknowledged" => match entry.detail.split_once(": ") {
            Some((checkin, _)) => format!("{checkin}: {REMOVED}"),
            None => REMOVED.to_string(),
        },
        _ => redact(&entry.detail, identity),
    };
    let by_the_patient = entry.actor_id.is_none() && entry.actor.starts_with("patient");
    let ip = if by_the_patient {
        String::new()
    } else {
        entry.ip.clone()
    };
    (detail, ip)
}

/// Erases a patient at their request, once the name typed matches theirs: their identity
/// (name, email, phone, date of birth, consent, skin considerations), the free text about
/// them (internal notes, the note for them in each plan, check-in notes and what staff wrote
/// back, the addresses their answers came from) and their photos; their pending emails are
/// cancelled; their links stop working; the audit log keeps who did what, without their
/// identity. The treatments stay: date, areas, depths, practitioner, device, products, plan.
/// One transaction, with SQLite's `secure_delete` on; then the database file is rewritten so
/// the removed bytes are not left in free space (see `store::purge_freed_space`).
#[tracing::instrument(skip_all, fields(patient_id = patient_id))]
pub fn erase(
    conn: &mut DbConn,
    actor: &Actor,
    patient_id: i64,
    input: &EraseInput,
    now: NaiveDateTime,
) -> AppResult<Erased> {
    let erased = store::with_secure_delete(conn, |conn| {
        write_tx(conn, |conn| {
            let patient = patients::get_unless_erased(conn, patient_id)?;
            if !same_name(&input.confirm_name, &patient.name) {
                return Err(AppError::invalid(
                    "confirm_name",
                    "Type the patient's name exactly as shown above to confirm. Nothing was erased.",
                ));
            }
            let identity: Vec<String> = [Some(patient.name.clone()), patient.email, patient.phone]
                .into_iter()
                .flatten()
                .collect();
            let treatment_ids = treatments::erase_free_text(conn, patient_id)?;
            let reminder_ids: Vec<i64> = reminders::of_patient(conn, patient_id)?
                .iter()
                .map(|r| r.id)
                .collect();
            let scope = reminders::Scope::Patient(patient_id);
            let cancelled_emails =
                reminders::cancel_pending(conn, scope, &reminders::Reason::Erased, now)?;
            reminders::scrub_errors(conn, patient_id, |text| redact(text, &identity))?;
            let (checkins, photos) = checkins::erase_for_patient(conn, patient_id)?;
            patients::erase(conn, patient_id, now)?;
            let about = subjects(patient_id, &treatment_ids, &reminder_ids);
            let audit_entries = audit::scrub_about(conn, &about, |e| scrubbed(e, &identity))?;
            audit(
                conn,
                actor,
                "patient.erased",
                &format!("patient {patient_id}"),
                &format!(
                    "at the patient's request: identity, notes and {} removed, \
                     {} cancelled, {} kept",
                    counted(photos, "photo"),
                    counted(cancelled_emails, "pending email"),
                    counted(treatment_ids.len(), "treatment")
                ),
                now,
            )?;
            Ok(Erased {
                treatments: treatment_ids.len(),
                cancelled_emails,
                checkins,
                photos,
                audit_entries,
                purged: Ok(()),
            })
        })
    })?;
    sheet_inputs::changed();
    let purged = match store::purge_freed_space(conn) {
        Ok(true) => Ok(()),
        Ok(false) => Err("a reader kept the write-ahead log busy".to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(reason) = &purged {
        tracing::error!(
            reason,
            "the erased data may remain in the database file's free space"
        );
    }
    Ok(Erased { purged, ..erased })
}

#[cfg(test)]
mod tests;
