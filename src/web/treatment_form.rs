//! The treatment form as HTML sends it: `treated_at`, then as many
//! `area_N`/`depth_N` pairs as the page had rows (a script may add more),
//! `device`, `products`, `internal_notes`, `patient_note`, `adjust_<restriction>` values, and
//! repeated `add_on` and `consideration` checkboxes, and `depth_confirmed` (the unusual depths
//! the practitioner confirmed). Read into the use case's
//! `TreatmentForm`, every value kept as typed so the form can be shown again.

use crate::usecases::treatments::{AreaRowInput, TreatmentForm, MAX_ROWS};

/// Reads the form's pairs (rows by their index N, from 0; an index past
/// `MAX_ROWS` is ignored).
pub fn read(pairs: &[(String, String)]) -> TreatmentForm {
    let mut form = TreatmentForm::default();
    let mut rows: Vec<AreaRowInput> = Vec::new();
    for (key, value) in pairs {
        let indexed = |prefix: &str| {
            key.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n < MAX_ROWS)
        };
        if let Some(n) = indexed("area_") {
            if rows.len() <= n {
                rows.resize(n + 1, AreaRowInput::default());
            }
            rows[n].area = value.trim().to_string();
        } else if let Some(n) = indexed("depth_") {
            if rows.len() <= n {
                rows.resize(n + 1, AreaRowInput::default());
            }
            rows[n].depth = value.trim().to_string();
        } else {
            if let Some(restriction) = key.strip_prefix("adjust_") {
                form.adjust
                    .insert(restriction.to_string(), value.trim().to_string());
                continue;
            }
            match key.as_str() {
                "add_on" => form.add_ons.push(value.trim().to_string()),
                "consideration" => form.considerations.push(value.trim().to_string()),
                "patient_note" => form.patient_note = value.trim().to_string(),
                "treated_at" => form.treated_at = value.trim().to_string(),
                "device" => form.device = value.trim().to_string(),
                "products" => form.products = value.trim().to_string(),
                "internal_notes" => form.internal_notes = value.trim().to_string(),
                "depth_confirmed" => form.depth_confirmed = value.trim().to_string(),
                "location" => form.location = value.trim().to_string(),
                _ => {}
            }
        }
    }
    form.rows = rows;
    form
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn the_form_reads_indexed_rows_in_order() {
        let pairs: Vec<(String, String)> = [
            ("treated_at", "2026-11-24T14:30"),
            ("area_1", "forehead"),
            ("depth_1", "0.5"),
            ("area_0", "cheeks"),
            ("depth_0", "1.0"),
            ("area_99", "ignored"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let form = read(&pairs);
        assert_eq!(form.treated_at, "2026-11-24T14:30");
        assert_eq!(form.rows.len(), 2);
        assert_eq!(
            (form.rows[0].area.as_str(), form.rows[0].depth.as_str()),
            ("cheeks", "1.0")
        );
        assert_eq!(form.rows[1].area, "forehead");
    }
}
