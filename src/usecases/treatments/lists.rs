//! The treatments pages list: the start page's latest, and a patient's page.

use super::{views_with, Treatment};
use crate::error::{AppError, AppResult};
use crate::usecases::patients::{self, Patient};
use crate::usecases::reminders;
use crate::usecases::sites::Sites;
use crate::usecases::store::{self, DbConn};

/// A patient's page: the patient, their treatments (with the practitioner's
/// name), and who recorded their consent.
pub struct PatientPage {
    pub patient: Patient,
    pub treatments: Vec<(Treatment, String)>,
    pub consent_by: Option<String>,
    /// Each location's id and name when the clinic has several (patients visit any of them);
    /// empty for a single site.
    pub locations: Vec<(i64, String)>,
}

impl PatientPage {
    /// The name of the location a treatment was done at, when the clinic has several.
    pub fn location_of(&self, t: &Treatment) -> &str {
        self.locations
            .iter()
            .find(|(id, _)| *id == t.location_id)
            .map_or("", |(_, name)| name.as_str())
    }
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn patient_page(conn: &mut DbConn, id: i64) -> AppResult<PatientPage> {
    let patient = patients::get(conn, id)?;
    let treatments = views_with(store::treatments::for_patient(conn, id)?)?;
    let consent_by = match patient.consent_by {
        Some(uid) => match crate::usecases::accounts::get_user(conn, uid) {
            Ok(user) => Some(user.name),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let locations = match crate::usecases::clinic::locations(conn)? {
        several if several.len() > 1 => several.into_iter().map(|l| (l.id, l.name)).collect(),
        _ => Vec::new(),
    };
    Ok(PatientPage {
        patient,
        treatments,
        consent_by,
        locations,
    })
}

/// The start page's list: the latest treatments, and how many emails failed.
pub struct Dashboard {
    pub recent: Vec<(Treatment, String, String)>,
    pub failed_emails: i64,
}

/// The start page for these locations: their latest treatments and failed emails.
#[tracing::instrument(skip_all)]
pub fn dashboard(conn: &mut DbConn, sites: &Sites) -> AppResult<Dashboard> {
    let recent = store::treatments::recent(conn, sites.ids(), 10)?
        .into_iter()
        .map(|(t, patient, practitioner)| Ok((t.try_into()?, patient, practitioner)))
        .collect::<AppResult<_>>()?;
    let failed_emails = reminders::failed_count(conn, sites)?;
    Ok(Dashboard {
        recent,
        failed_emails,
    })
}
