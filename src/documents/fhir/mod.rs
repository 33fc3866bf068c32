//! A treatment as a FHIR R4 `Bundle` of type `collection` ("Download as FHIR", and one per
//! treatment in the patient's export): the patient, the practitioner who recorded it, the
//! clinic, the pen, the procedure (areas and depths), the aftercare plan, the check-in form,
//! one response per check-in and one communication per email sent. Pure: the use case
//! (`usecases::fhir`) reads what it needs and hands it over as a [`Record`]; this makes the
//! bundle.
//!
//! Every date is written in the treatment's own zone with its offset, so a treatment at 23:30
//! in New York reads as that evening's date, not the next day's in UTC. Each entry's `fullUrl`
//! is a `urn:uuid:` made from the treatment's id and what the entry is, so downloading the
//! same treatment twice gives the same ids, and every reference resolves inside the bundle.

mod careplan;
mod checkin;
pub mod codes;
pub mod resources;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::care::Plan;
use crate::documents::clinic::Clinic;
use codes::{coding, ours, system};
pub use resources::Bundle;
use resources::*;

/// The media type of the download.
pub const CONTENT_TYPE: &str = "application/fhir+json";

/// The patient as the record names them.
pub struct PatientFacts {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
}

/// One check-in, with its triage.
pub struct CheckinFacts {
    pub id: i64,
    /// When the patient sent it (UTC).
    pub sent_at: NaiveDateTime,
    /// Local calendar days after the treatment day.
    pub day: i32,
    /// The answer's code (`fine`, `unsure`, `worried`) and its label, when it is one we know.
    pub answer: Option<(&'static str, &'static str)>,
    /// (group, text) as ticked.
    pub ticked: Vec<(String, String)>,
    pub note: String,
    /// The triage result's code and label.
    pub triage: (&'static str, &'static str),
}

/// One email that was sent to the patient.
pub struct EmailFacts {
    pub id: i64,
    pub subject: String,
    /// When it was sent (UTC).
    pub sent_at: NaiveDateTime,
    pub message_id: String,
    /// `evening`, `daily`, `milestone`, or the sheet sent by hand.
    pub kind: String,
}

/// Everything the bundle is made from, read by the use case in one transaction.
pub struct Record<'a> {
    pub treatment_id: i64,
    pub patient: PatientFacts,
    /// The practitioner who recorded the treatment: (user id, name).
    pub practitioner: (i64, String),
    pub clinic: &'a Clinic,
    pub device: String,
    pub products: String,
    /// The plan as stored with the treatment: areas, depths, phases, restrictions, actives,
    /// red flags, in the treatment's zone.
    pub plan: &'a Plan,
    /// The answers the check-in form offers: (code, label).
    pub answer_options: Vec<(&'static str, &'static str)>,
    pub checkins: Vec<CheckinFacts>,
    pub emails: Vec<EmailFacts>,
    /// When the bundle is made: the plan's activities are scheduled, in progress or done
    /// from this moment.
    pub now: DateTime<Utc>,
}

/// A stable `urn:uuid:` for one entry of one treatment's bundle (a name-based UUID: the
/// SHA-256 of the name, marked as version 8 per RFC 9562).
fn uuid(treatment_id: i64, what: &str) -> String {
    let digest = Sha256::digest(format!("aftercare/treatment/{treatment_id}/{what}"));
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A moment as a FHIR `dateTime` in the treatment's zone, with its offset.
pub fn date_time(utc: DateTime<Utc>, tz: Tz) -> String {
    utc.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn stored_date_time(utc: NaiveDateTime, tz: Tz) -> String {
    date_time(utc.and_utc(), tz)
}

fn text(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The entries' addresses, so each resource names the others the same way.
struct Ids {
    treatment_id: i64,
}

impl Ids {
    fn url(&self, what: &str) -> String {
        format!("urn:uuid:{}", uuid(self.treatment_id, what))
    }
    fn id(&self, what: &str) -> String {
        uuid(self.treatment_id, what)
    }
    fn to(&self, what: &str, display: Option<&str>) -> Reference {
        Reference {
            reference: self.url(what),
            display: display.and_then(text),
        }
    }
}

fn entry(ids: &Ids, what: &str, resource: Resource) -> Entry {
    Entry {
        full_url: ids.url(what),
        resource,
    }
}

/// The treatment's record as a FHIR R4 collection bundle.
pub fn bundle(r: &Record) -> Bundle {
    let ids = Ids {
        treatment_id: r.treatment_id,
    };
    let tz = r.plan.time_zone;
    let patient_name = r.patient.name.as_str();
    let mut entries = vec![
        entry(&ids, "patient", Resource::Patient(patient(r))),
        entry(
            &ids,
            "practitioner",
            Resource::Practitioner(practitioner(r)),
        ),
        entry(
            &ids,
            "organization",
            Resource::Organization(organization(r)),
        ),
        entry(&ids, "device", Resource::Device(device(r, &ids))),
        entry(&ids, "procedure", Resource::Procedure(procedure(r, &ids))),
        entry(
            &ids,
            "careplan",
            Resource::CarePlan(careplan::care_plan(r, &ids)),
        ),
        entry(
            &ids,
            "questionnaire",
            Resource::Questionnaire(checkin::questionnaire(r, &ids)),
        ),
    ];
    for c in &r.checkins {
        let what = format!("checkin/{}", c.id);
        let response = checkin::response(r, &ids, c);
        entries.push(entry(
            &ids,
            &what,
            Resource::QuestionnaireResponse(response),
        ));
    }
    for e in &r.emails {
        let what = format!("email/{}", e.id);
        let communication = Communication {
            id: ids.id(&what),
            identifier: vec![Identifier {
                system: ours("sid", "message-id"),
                value: e.message_id.clone(),
            }],
            based_on: vec![ids.to("careplan", None)],
            part_of: vec![ids.to("procedure", None)],
            status: "completed",
            category: vec![CodeableConcept {
                coding: vec![coding(
                    system("email-kind"),
                    &e.kind,
                    &format!("Aftercare email ({})", e.kind),
                )],
                text: Some("Aftercare email".into()),
            }],
            subject: ids.to("patient", Some(patient_name)),
            sent: stored_date_time(e.sent_at, tz),
            recipient: vec![ids.to("patient", Some(patient_name))],
            sender: ids.to("organization", Some(&r.clinic.name)),
            payload: vec![Payload {
                content_string: text(&e.subject).unwrap_or_else(|| "Aftercare email".into()),
            }],
        };
        entries.push(entry(&ids, &what, Resource::Communication(communication)));
    }
    Bundle {
        id: ids.id("bundle"),
        identifier: Identifier {
            system: ours("sid", "treatment"),
            value: r.treatment_id.to_string(),
        },
        kind: "collection",
        timestamp: r.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        entry: entries,
    }
}

/// The bundle as pretty JSON, the download's body.
pub fn to_json(bundle: &Bundle) -> String {
    serde_json::to_string_pretty(bundle).expect("plain structs serialise")
}

fn patient(r: &Record) -> Patient {
    let p = &r.patient;
    let telecom = [("phone", &p.phone), ("email", &p.email)]
        .into_iter()
        .filter_map(|(system, value)| {
            value
                .as_deref()
                .and_then(text)
                .map(|value| ContactPoint { system, value })
        })
        .collect();
    Patient {
        id: uuid(r.treatment_id, "patient"),
        identifier: vec![Identifier {
            system: ours("sid", "patient"),
            value: p.id.to_string(),
        }],
        name: vec![HumanName {
            text: text(&p.name).unwrap_or_else(|| "(no name)".into()),
        }],
        telecom,
        birth_date: p.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string()),
    }
}

fn practitioner(r: &Record) -> Practitioner {
    Practitioner {
        id: uuid(r.treatment_id, "practitioner"),
        identifier: vec![Identifier {
            system: ours("sid", "user"),
            value: r.practitioner.0.to_string(),
        }],
        name: vec![HumanName {
            text: text(&r.practitioner.1).unwrap_or_else(|| "(no name)".into()),
        }],
    }
}

fn organization(r: &Record) -> Organization {
    let c = r.clinic;
    let telecom = [("phone", &c.phone), ("email", &c.email)]
        .into_iter()
        .filter_map(|(system, value)| text(value).map(|value| ContactPoint { system, value }))
        .collect();
    Organization {
        id: uuid(r.treatment_id, "organization"),
        name: text(&c.name).unwrap_or_else(|| "The clinic".into()),
        telecom,
        address: text(&c.address)
            .map(|text| Address { text })
            .into_iter()
            .collect(),
    }
}

fn device(r: &Record, ids: &Ids) -> Device {
    Device {
        id: ids.id("device"),
        device_name: text(&r.device)
            .map(|name| DeviceName {
                name,
                kind: "user-friendly-name",
            })
            .into_iter()
            .collect(),
        kind: codes::microneedling_pen(),
        owner: ids.to("organization", Some(&r.clinic.name)),
    }
}

/// The URL of the needle-depth extension (complex: `bodySite` and `depth`).
pub fn needle_depth_url() -> String {
    ours("StructureDefinition", "needle-depth")
}

fn procedure(r: &Record, ids: &Ids) -> Procedure {
    let tz = r.plan.time_zone;
    let depths = r
        .plan
        .areas
        .iter()
        .map(|a| Extension {
            url: needle_depth_url(),
            extension: vec![
                Extension {
                    url: "bodySite".into(),
                    value_codeable_concept: Some(codes::body_site(&a.id, &a.label)),
                    ..Extension::default()
                },
                Extension {
                    url: "depth".into(),
                    value_quantity: Some(Quantity {
                        value: a.depth_mm,
                        unit: "mm".into(),
                        system: codes::UCUM.into(),
                        code: "mm".into(),
                    }),
                    ..Extension::default()
                },
            ],
            ..Extension::default()
        })
        .collect();
    Procedure {
        id: ids.id("procedure"),
        extension: depths,
        status: "completed",
        code: codes::microneedling(),
        subject: ids.to("patient", Some(&r.patient.name)),
        performed_date_time: date_time(r.plan.treated_at.utc, tz),
        recorder: ids.to("practitioner", Some(&r.practitioner.1)),
        performer: vec![Performer {
            actor: ids.to("practitioner", Some(&r.practitioner.1)),
            on_behalf_of: ids.to("organization", Some(&r.clinic.name)),
        }],
        body_site: r
            .plan
            .areas
            .iter()
            .map(|a| codes::body_site(&a.id, &a.label))
            .collect(),
        focal_device: vec![FocalDevice {
            manipulated: ids.to("device", Some(&r.device)),
        }],
        used_code: text(&r.products)
            .map(|products| CodeableConcept {
                coding: Vec::new(),
                text: Some(products),
            })
            .into_iter()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_uuids_apart_per_treatment_and_entry() {
        let a = uuid(7, "patient");
        assert_eq!(a, uuid(7, "patient"));
        assert_ne!(a, uuid(8, "patient"));
        assert_ne!(a, uuid(7, "procedure"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8: {a}");
    }

    #[test]
    fn a_late_evening_reads_on_its_local_date_with_its_offset() {
        let utc = NaiveDate::from_ymd_opt(2026, 3, 11)
            .unwrap()
            .and_hms_opt(3, 30, 0)
            .unwrap()
            .and_utc();
        assert_eq!(
            date_time(utc, chrono_tz::America::New_York),
            "2026-03-10T23:30:00-04:00"
        );
    }
}
