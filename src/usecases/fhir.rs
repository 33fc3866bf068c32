//! "Download as FHIR": a treatment's record as a FHIR R4 bundle (`documents::fhir` makes it),
//! for clinicians, and one per treatment in the patient's export (`data_rights`).
//!
//! It reads across areas (the treatment with its patient, clinic and plan; its check-ins with
//! their triage; the emails sent) through their use cases, from one snapshot, and every
//! download is in the audit log (`treatment.fhir_downloaded`). An erased patient's treatment
//! is not given out: 404, as on the patient's own links.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{checkins, reminders, treatments};
use crate::documents::fhir::{self, Bundle, CheckinFacts, EmailFacts, PatientFacts, Record};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::store::{self, write_tx, DbConn};
use crate::words::counted;

/// The download: its file name and its JSON.
pub struct Download {
    pub filename: String,
    pub json: String,
}

/// The bundle of a live treatment whose patient was not erased (404 otherwise), read inside
/// the caller's transaction.
pub(super) fn read_bundle(
    conn: &mut DbConn,
    treatment_id: i64,
    now: NaiveDateTime,
) -> AppResult<Bundle> {
    let view = treatments::view(conn, treatment_id)?;
    if view.patient.is_erased() {
        return Err(AppError::NotFound);
    }
    let (tz, locale) = (view.treatment.time_zone, view.clinic.locale);
    let checkins = checkins::timeline(conn, treatment_id, (tz, locale))?
        .into_iter()
        .map(|c| CheckinFacts {
            id: c.id,
            sent_at: c.sent_at,
            day: c.day,
            answer: c.answered.map(|a| (a.as_str(), a.label())),
            ticked: c.ticked,
            note: c.note,
            triage: (c.triage.id(), c.triage.label()),
        })
        .collect();
    let emails = reminders::of_patient(conn, view.patient.id)?
        .into_iter()
        .filter(|r| r.treatment_id == treatment_id && r.status == reminders::Status::Sent)
        .filter_map(|r| {
            Some(EmailFacts {
                sent_at: r.sent_at?,
                id: r.id,
                subject: r.subject,
                message_id: r.message_id,
                kind: if reminders::is_sheet_now(&r.key) {
                    "sheet".to_string()
                } else {
                    r.kind.as_str().to_string()
                },
            })
        })
        .collect();
    let p = &view.patient;
    let record = Record {
        treatment_id,
        patient: PatientFacts {
            id: p.id,
            name: p.name.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            date_of_birth: p.date_of_birth,
        },
        practitioner: (view.treatment.practitioner_id, view.practitioner.clone()),
        clinic: &view.clinic,
        device: view.treatment.device.clone(),
        products: view.treatment.products.clone(),
        plan: &view.plan,
        answer_options: checkins::Answer::ALL
            .iter()
            .map(|a| (a.as_str(), a.label()))
            .collect(),
        checkins,
        emails,
        now: DateTime::<Utc>::from_naive_utc_and_offset(now, Utc),
    };
    Ok(fhir::bundle(&record))
}

/// A treatment's record as FHIR JSON, for a clinician to download; in the audit log.
#[tracing::instrument(skip_all, fields(treatment_id = treatment_id))]
pub fn download(
    conn: &mut DbConn,
    actor: &Actor,
    treatment_id: i64,
    now: NaiveDateTime,
) -> AppResult<Download> {
    let bundle = write_tx(conn, |conn| {
        store::one_snapshot(conn)?;
        let bundle = read_bundle(conn, treatment_id, now)?;
        let count = |kind: fn(&fhir::resources::Resource) -> bool| {
            bundle.entry.iter().filter(|e| kind(&e.resource)).count()
        };
        use fhir::resources::Resource as R;
        let responses = count(|r| matches!(r, R::QuestionnaireResponse(_)));
        let emails = count(|r| matches!(r, R::Communication(_)));
        audit(
            conn,
            actor,
            "treatment.fhir_downloaded",
            &format!("treatment {treatment_id}"),
            &format!(
                "FHIR bundle: {}, {} sent",
                counted(responses, "check-in"),
                counted(emails, "email")
            ),
            now,
        )?;
        AppResult::Ok(bundle)
    })?;
    Ok(Download {
        filename: format!("treatment-{treatment_id}-fhir.json"),
        json: fhir::to_json(&bundle),
    })
}
