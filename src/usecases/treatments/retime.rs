//! A location's new time zone or send hour, carried to its treatments' pending emails: each
//! plan computed again as its edit would be (the wall-clock time it was recorded at, in the
//! location's new zone), its pending reminders moved, sent ones never touched, and one whose
//! new time is past for good skipped as the worker skips stale mail.

use super::form::unusual_depths;
use super::recording::validate;
use super::TreatmentForm;
use crate::care::Protocol;
use crate::error::AppResult;
use crate::usecases::clinic::Clinic;
use crate::usecases::patients;
use crate::usecases::reminders::{self, Change, Timing};
use crate::usecases::store::{self, DbConn};

/// How many pending reminder emails a change of the location's zone or send hour moves.
pub fn pending_at(conn: &mut DbConn, location_id: i64) -> AppResult<i64> {
    Ok(store::treatments::with_pending_at(conn, location_id)?
        .iter()
        .map(|(_, n)| n)
        .sum())
}

/// Re-plans every treatment at `location` (as it now is) that has pending reminders. Call
/// inside the caller's transaction, after saving the location. Returns how many treatments
/// were re-planned.
pub fn retime_location(
    conn: &mut DbConn,
    protocol: &Protocol,
    location: &Clinic,
    at: Timing,
) -> AppResult<usize> {
    let treatments = store::treatments::with_pending_at(conn, location.location_id)?;
    for (id, _) in &treatments {
        let row = super::stored(conn, *id)?;
        let areas = store::treatments::areas(conn, *id)?;
        let form = TreatmentForm::from_stored(&row, &areas);
        // Recorded depths were confirmed when recorded: re-planning asks no new tick.
        let form = TreatmentForm {
            depth_confirmed: unusual_depths(protocol, &form),
            ..form
        };
        let zone = location.time_zone.name();
        let valid = validate(protocol, location, zone, &form, at.now.and_utc())?;
        store::treatments::update(conn, *id, &valid.fields)?;
        let patient = patients::get(conn, row.patient_id)?;
        let recipient = patients::recipient(&patient);
        let (plan, sender) = (&valid.plan, &location.sender_email);
        reminders::reschedule(conn, *id, recipient, plan, sender, at, Change::Retimed)?;
    }
    Ok(treatments.len())
}
