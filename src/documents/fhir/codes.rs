//! The codes the record uses: standard systems where a fitting code exists (SNOMED CT for body
//! sites, UCUM for millimetres), and the app's own code systems for what has none (the
//! procedure, the healing phases, the actives, the check-in's answers and triage). The README's
//! "FHIR download" lists which are which.

use super::resources::{CodeableConcept, Coding};

pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";

/// Where the app's own code systems, extensions and identifiers live.
const BASE: &str = "https://aftercare.example/fhir";

/// One of the app's own URLs: `CodeSystem/<name>`, `StructureDefinition/<name>`, `sid/<name>`.
pub fn ours(kind: &str, name: &str) -> String {
    format!("{BASE}/{kind}/{name}")
}

pub fn system(name: &str) -> String {
    ours("CodeSystem", name)
}

pub fn coding(system: String, code: &str, display: &str) -> Coding {
    Coding {
        system,
        code: code.to_string(),
        display: display.to_string(),
    }
}

/// SNOMED CT body structures for the protocol's treated areas where one names the same place;
/// an area with none (around the eyes, chin and jaw, the décolleté, the backs of the hands,
/// and any area a clinic's own protocol adds) is coded in our `body-site` system only.
pub fn snomed_body_site(area_id: &str) -> Option<(&'static str, &'static str)> {
    Some(match area_id {
        "face" => ("89545001", "Face structure"),
        "forehead" => ("52795006", "Forehead structure"),
        "cheeks" => ("60819002", "Cheek structure"),
        "nose" => ("45206002", "Nasal structure"),
        "neck" => ("45048000", "Neck structure"),
        "scalp" => ("41695006", "Scalp structure"),
        "abdomen" => ("113345001", "Abdominal structure"),
        "thighs" => ("68367000", "Thigh structure"),
        "arms" => ("53120007", "Upper limb structure"),
        "back" => ("77568009", "Back structure, excluding buttocks"),
        "buttocks" => ("46862004", "Buttock structure"),
        _ => return None,
    })
}

/// A treated area: its SNOMED CT code where one fits, and always our own code (the
/// protocol's area id), with the label the sheet shows as text.
pub fn body_site(area_id: &str, label: &str) -> CodeableConcept {
    let mut coding = Vec::new();
    if let Some((code, display)) = snomed_body_site(area_id) {
        coding.push(self::coding(SNOMED.to_string(), code, display));
    }
    coding.push(self::coding(system("body-site"), area_id, label));
    CodeableConcept {
        coding,
        text: Some(label.to_string()),
    }
}

/// The procedure: microneedling (collagen induction therapy) has no SNOMED CT code of its own
/// that we could rely on, so it is ours.
pub fn microneedling() -> CodeableConcept {
    CodeableConcept {
        coding: vec![coding(
            system("procedure"),
            "microneedling",
            "Microneedling (collagen induction therapy)",
        )],
        text: Some("Microneedling".into()),
    }
}

/// The device's kind.
pub fn microneedling_pen() -> CodeableConcept {
    CodeableConcept {
        coding: vec![coding(
            system("device-type"),
            "microneedling-pen",
            "Microneedling pen",
        )],
        text: Some("Microneedling pen".into()),
    }
}
