//! The few FHIR R4 resources and data types the treatment record needs, as serde structs that
//! write FHIR's JSON: camelCase names, `resourceType` as the tag, choice elements by their
//! typed names (`performedDateTime`, `valueQuantity`), and no empty element (FHIR forbids
//! empty strings, arrays and objects, so optional ones are skipped). Only what we write is
//! here; reading FHIR is not this module's job.

use serde::Serialize;

/// Skips an empty list (FHIR has no empty arrays).
fn none<T>(v: &[T]) -> bool {
    v.is_empty()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CodeableConcept {
    #[serde(skip_serializing_if = "none")]
    pub coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    /// The entry's `fullUrl`: it resolves inside the bundle.
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

/// A UCUM quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    pub value: f64,
    pub unit: String,
    pub system: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Period {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// An extension: a value, or (a complex one) extensions of its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    pub url: String,
    #[serde(skip_serializing_if = "none")]
    pub extension: Vec<Extension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HumanName {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactPoint {
    /// `phone` or `email`.
    pub system: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    pub text: String,
}

// --- resources ----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub id: String,
    pub identifier: Vec<Identifier>,
    pub name: Vec<HumanName>,
    #[serde(skip_serializing_if = "none")]
    pub telecom: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Practitioner {
    pub id: String,
    pub identifier: Vec<Identifier>,
    pub name: Vec<HumanName>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "none")]
    pub telecom: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "none")]
    pub address: Vec<Address>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceName {
    pub name: String,
    /// `user-friendly-name`: as the practitioner typed it.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    #[serde(skip_serializing_if = "none")]
    pub device_name: Vec<DeviceName>,
    #[serde(rename = "type")]
    pub kind: CodeableConcept,
    pub owner: Reference,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Performer {
    pub actor: Reference,
    pub on_behalf_of: Reference,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FocalDevice {
    pub manipulated: Reference,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Procedure {
    pub id: String,
    /// The needle depth of each area.
    #[serde(skip_serializing_if = "none")]
    pub extension: Vec<Extension>,
    pub status: &'static str,
    pub code: CodeableConcept,
    pub subject: Reference,
    /// In the treatment's zone, with its offset.
    pub performed_date_time: String,
    pub recorder: Reference,
    pub performer: Vec<Performer>,
    #[serde(skip_serializing_if = "none")]
    pub body_site: Vec<CodeableConcept>,
    pub focal_device: Vec<FocalDevice>,
    /// The products used (serum), as typed.
    #[serde(skip_serializing_if = "none")]
    pub used_code: Vec<CodeableConcept>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDetail {
    pub code: CodeableConcept,
    /// not-started, scheduled, in-progress or completed, from "now".
    pub status: &'static str,
    /// A restriction: what not to do in its period.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub do_not_perform: bool,
    pub scheduled_period: Period,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub detail: ActivityDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CarePlan {
    pub id: String,
    pub status: &'static str,
    pub intent: &'static str,
    pub title: String,
    pub subject: Reference,
    pub period: Period,
    pub author: Reference,
    /// The treatment the plan follows.
    pub supporting_info: Vec<Reference>,
    pub activity: Vec<Activity>,
    #[serde(skip_serializing_if = "none")]
    pub note: Vec<Annotation>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerOption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionnaireItem {
    pub link_id: &'static str,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeats: bool,
    #[serde(skip_serializing_if = "none")]
    pub answer_option: Vec<AnswerOption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Questionnaire {
    pub id: String,
    /// What each response's `questionnaire` names.
    pub url: String,
    pub name: &'static str,
    pub title: String,
    pub status: &'static str,
    pub subject_type: Vec<&'static str>,
    pub item: Vec<QuestionnaireItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseItem {
    pub link_id: &'static str,
    pub text: String,
    pub answer: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionnaireResponse {
    pub id: String,
    /// The triage result.
    pub extension: Vec<Extension>,
    pub questionnaire: String,
    pub status: &'static str,
    pub subject: Reference,
    pub part_of: Vec<Reference>,
    /// When the patient sent it, in the treatment's zone.
    pub authored: String,
    pub source: Reference,
    pub item: Vec<ResponseItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub content_string: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Communication {
    pub id: String,
    pub identifier: Vec<Identifier>,
    pub based_on: Vec<Reference>,
    pub part_of: Vec<Reference>,
    pub status: &'static str,
    pub category: Vec<CodeableConcept>,
    pub subject: Reference,
    /// When it was sent, in the treatment's zone.
    pub sent: String,
    pub recipient: Vec<Reference>,
    pub sender: Reference,
    pub payload: Vec<Payload>,
}

/// Any resource the bundle holds, tagged with its `resourceType`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
pub enum Resource {
    Patient(Patient),
    Practitioner(Practitioner),
    Organization(Organization),
    Device(Device),
    Procedure(Procedure),
    CarePlan(CarePlan),
    Questionnaire(Questionnaire),
    QuestionnaireResponse(QuestionnaireResponse),
    Communication(Communication),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `urn:uuid:…`, the same as the resource's id: what references name.
    pub full_url: String,
    pub resource: Resource,
}

/// A `collection` bundle: the treatment's record, each resource once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "resourceType", rename = "Bundle")]
pub struct Bundle {
    pub id: String,
    pub identifier: Identifier,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it was put together (UTC).
    pub timestamp: String,
    pub entry: Vec<Entry>,
}
