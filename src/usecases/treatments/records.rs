//! A patient's treatments as records: everything stored about them (an export's), and their
//! free text removed when the patient is erased.

use chrono::NaiveDateTime;

use super::{Area, Treatment};
use crate::error::{AppError, AppResult};
use crate::usecases::store::{self, DbConn};

/// A treatment with everything stored about it (an export's).
pub struct TreatmentRecord {
    pub treatment: Treatment,
    /// The plan as it was stored, whatever the protocol version that made it.
    pub plan_json: String,
    pub practitioner: String,
    pub deleted_at: Option<NaiveDateTime>,
    pub areas: Vec<Area>,
}

/// Every treatment of a patient, deleted ones too, oldest first.
pub fn records_of_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<Vec<TreatmentRecord>> {
    let rows = store::treatments::all_for_patient(conn, patient_id)?;
    let mut records = Vec::with_capacity(rows.len());
    for (treatment, practitioner, deleted_at) in rows {
        let areas = store::treatments::areas(conn, treatment.id)?;
        records.push(TreatmentRecord {
            plan_json: treatment.plan_json.clone(),
            treatment: treatment.try_into()?,
            practitioner,
            deleted_at,
            areas: areas.into_iter().map(Area::from).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
