//! "Download as FHIR": a treatment recorded at 23:30 in New York, with two check-ins and the
//! emails sent so far, comes out as a FHIR R4 collection bundle that an independent model
//! (fhirbolt, strict: it refuses an element it does not know or a missing required one)
//! parses, with one QuestionnaireResponse per check-in, one Communication per email sent, its
//! dates the patient's own in the clinic's zone, every reference resolving inside the bundle,
//! and each download in the audit log. Front desk get 403 from the route table; an erased
//! patient's treatment is 404; the patient's export holds one bundle per treatment.

use std::collections::BTreeSet;
use std::sync::Arc;

use aftercare::auth::Role;
use aftercare::jobs::ManualClock;
use aftercare::mail::Mailer;
use aftercare::web::routes::{table, Who};
use chrono::{Duration, TimeZone, Utc};
use fhirbolt::model::r4::resources::Bundle;
use fhirbolt::model::r4::Resource;
use serde_json::Value;

use crate::checkins::multipart;
use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

const NAME: &str = "Rosa Delgado";
const EMAIL: &str = "rosa.delgado@example.com";
/// The treatment's local date: 23:30 on it in New York is 03:30 UTC on the next day.
const TREATED_ON: &str = "2026-03-10";
const TREATED_AT: &str = "2026-03-10T23:30:00-04:00";

/// Parses a bundle as the independent FHIR R4 model reads it: the shell (without its entries)
/// as a `Bundle`, then each entry's resource as the R4 resource enum (fhirbolt 0.4 mis-reads
/// a bundle of several entries in one go). Panics with the model's own words on any error.
fn parse_in_independent_model(bundle: &Value) -> Vec<Resource> {
    let mut shell = bundle.clone();
    let entries = shell
        .as_object_mut()
        .unwrap()
        .remove("entry")
        .expect("the bundle has entries");
    let parsed: Bundle = fhirbolt::json::from_json_value(shell, None)
        .unwrap_or_else(|e| panic!("the bundle shell is not FHIR R4: {e}"));
    assert_eq!(parsed.r#type.value.as_deref(), Some("collection"));
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            fhirbolt::json::from_json_value::<Resource>(e["resource"].clone(), None).unwrap_or_else(
                |err| panic!("{} is not FHIR R4: {err}", e["resource"]["resourceType"]),
            )
        })
        .collect()
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

/// Every `reference` anywhere in `value`.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("reference", Value::String(r)) => out.push(r.clone()),
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// A New York clinic; a practitioner records Rosa's cheeks and neck at 23:30 local; the
/// worker sends her first emails; she checks in twice. Returns (a practitioner signed in
/// after that, patient, treatment).
async fn a_new_york_treatment_with_two_checkins(app: &TestApp) -> (reqwest::Client, i64, i64) {
    // 10:00 in New York on the morning after.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 11, 14, 0, 0).unwrap());
    app.configure_clinic_in(
        "Hudson Skin",
        "desk@hudson.example",
        "America/New_York",
        "Call the clinic's mobile.",
    )
    .await;
    let practitioner = app.signed_in("practitioner").await;
    let (patient, treatment) = app
        .patient_with_treatment(
            &practitioner,
            NAME,
            EMAIL,
            &[
                ("treated_at", "2026-03-10T23:30"),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
                ("area_1", "neck"),
                ("depth_1", "0.5"),
                ("device", "Dermapen 4"),
                ("products", "Hyaluronic serum"),
            ],
        )
        .await;
    // The first emails go out, each at its time.
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock.clone());
    let due = with_conn(app, move |c| {
        aftercare::usecases::store::reminders::for_treatment(c, treatment).unwrap()
    })
    .await;
    for r in due.iter().take(2) {
        clock.set(r.send_at.and_utc() + Duration::minutes(1));
        worker.drain().await.unwrap();
    }
    // Two check-ins: worried with a note on the first morning, fine the next.
    check_in(
        app,
        treatment,
        &[("answer", "worried"), ("note", "Tight and hot")],
    )
    .await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 12, 15, 0, 0).unwrap());
    check_in(app, treatment, &[("answer", "fine")]).await;
    // A day on, the first sign-in has timed out: another practitioner opens the record.
    (app.signed_in("practitioner").await, patient, treatment)
}

async fn check_in(app: &TestApp, treatment: i64, answers: &[(&str, &str)]) {
    let patient = new_client();
    let path = app
        .state
        .links
        .checkin(treatment)
        .strip_prefix(&app.address)
        .unwrap()
        .to_string();
    let html = app.get_text_with(&patient, &path).await;
    let key = hidden_value(&html, "form_key").expect("the form has its key");
    let mut fields = vec![("form_key", key.as_str())];
    fields.extend_from_slice(answers);
    let (content_type, body) = multipart(&fields, None);
    let r = app
        .post_multipart(&patient, &path, (content_type, body))
        .await;
    assert_eq!(r.status().as_u16(), 200, "check-in recorded");
}

async fn download(app: &TestApp, client: &reqwest::Client, treatment: i64) -> reqwest::Response {
    app.get_with(client, &format!("/treatments/{treatment}/fhir.json"))
        .await
}

async fn a_treatment_downloads_as_a_fhir_bundle_in_the_patients_dates(app: TestApp) {
    let (practitioner, _patient, treatment) = a_new_york_treatment_with_two_checkins(&app).await;
    let page = app
        .get_text_with(&practitioner, &format!("/treatments/{treatment}"))
        .await;
    assert!(page.contains(&format!("/treatments/{treatment}/fhir.json")));
    assert!(page.contains("Download as FHIR"));

    let r = download(&app, &practitioner, treatment).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+json"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"treatment-{treatment}-fhir.json\"")
    );
    let bundle: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");

    // The independent model reads every resource.
    let parsed = parse_in_independent_model(&bundle);
    let kinds: BTreeSet<&str> = parsed
        .iter()
        .map(|r| match r {
            Resource::Patient(_) => "Patient",
            Resource::Practitioner(_) => "Practitioner",
            Resource::Organization(_) => "Organization",
            Resource::Device(_) => "Device",
            Resource::Procedure(_) => "Procedure",
            Resource::CarePlan(_) => "CarePlan",
            Resource::Questionnaire(_) => "Questionnaire",
            Resource::QuestionnaireResponse(_) => "QuestionnaireResponse",
            Resource::Communication(_) => "Communication",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "CarePlan",
            "Communication",
            "Device",
            "Organization",
            "Patient",
            "Practitioner",
            "Procedure",
            "Questionnaire",
            "QuestionnaireResponse",
        ])
    );

    // One response per check-in, one communication per email sent.
    let checkins = scalar(
        &app,
        &format!("SELECT count(*) FROM checkins WHERE treatment_id = {treatment}"),
    )
    .await;
    assert_eq!(checkins, 2);
    let responses = resources(&bundle, "QuestionnaireResponse");
    assert_eq!(responses.len() as i64, checkins);
    let sent = scalar(
        &app,
        &format!(
            "SELECT count(*) FROM reminders WHERE treatment_id = {treatment} AND status = 'sent'"
        ),
    )
    .await;
    assert!(sent >= 1, "the worker sent the first emails");
    let communications = resources(&bundle, "Communication");
    assert_eq!(communications.len() as i64, sent);
    for c in &communications {
        assert_eq!(c["status"], "completed");
        assert!(c["sent"].as_str().unwrap().ends_with("-04:00"), "{c}");
    }

    // Dates are the patient's: the 23:30 treatment is on the 10th, though UTC had the 11th.
    let procedure = &resources(&bundle, "Procedure")[0];
    assert_eq!(procedure["performedDateTime"], TREATED_AT);
    assert!(TREATED_AT.starts_with(TREATED_ON));
    let sites: Vec<&str> = procedure["bodySite"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["Cheeks", "Neck"]);
    assert_eq!(
        procedure["bodySite"][0]["coding"][0],
        serde_json::json!({"system": "http://snomed.info/sct", "code": "60819002", "display": "Cheek structure"})
    );
    let depths: Vec<f64> = procedure["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["extension"][1]["valueQuantity"]["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(depths, [1.0, 0.5]);
    assert_eq!(
        procedure["extension"][0]["extension"][1]["valueQuantity"]["code"],
        "mm"
    );
    let care_plan = &resources(&bundle, "CarePlan")[0];
    assert_eq!(care_plan["period"]["start"], TREATED_AT);
    let first_phase = &care_plan["activity"][0]["detail"]["scheduledPeriod"];
    assert_eq!(first_phase["start"], TREATED_AT);
    let authored: Vec<&str> = responses
        .iter()
        .map(|r| r["authored"].as_str().unwrap())
        .collect();
    assert_eq!(
        authored,
        ["2026-03-11T10:00:00-04:00", "2026-03-12T11:00:00-04:00"]
    );
    // The answers and the triage.
    assert_eq!(
        responses[0]["extension"][0]["valueCoding"]["code"],
        "to-review"
    );
    assert_eq!(responses[1]["extension"][0]["valueCoding"]["code"], "none");
    let answer = |r: &Value| {
        r["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["linkId"] == "answer")
            .map(|i| i["answer"][0]["valueCoding"]["code"].clone())
    };
    assert_eq!(answer(responses[0]), Some(Value::from("worried")));
    assert_eq!(answer(responses[1]), Some(Value::from("fine")));
    let questionnaire = &resources(&bundle, "Questionnaire")[0];
    assert_eq!(responses[0]["questionnaire"], questionnaire["url"]);

    // Every reference resolves inside the bundle.
    let full_urls: BTreeSet<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_string())
        .collect();
    let mut named = Vec::new();
    references(&bundle, &mut named);
    assert!(!named.is_empty());
    for r in &named {
        assert!(full_urls.contains(r), "{r} does not resolve in the bundle");
    }

    // The same treatment downloads with the same ids.
    let again: Value = serde_json::from_str(
        &download(&app, &practitioner, treatment)
            .await
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again["entry"], bundle["entry"]);

    // Each download is audited.
    let downloads = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "treatment.fhir_downloaded")
        .count();
    assert_eq!(downloads, 2);
}

async fn the_fhir_download_is_for_clinicians_and_not_for_an_erased_patient(app: TestApp) {
    // The route table gives it to clinicians: front desk get 403 there (tests/api/routes.rs).
    let route = table()
        .into_iter()
        .find(|r| r.path == "/treatments/{id}/fhir.json")
        .expect("the route is in the table");
    assert_eq!(route.who, Who::Roles(&[Role::Admin, Role::Practitioner]));

    let (practitioner, patient, treatment) = a_new_york_treatment_with_two_checkins(&app).await;
    let staff = app.signed_in("staff").await;
    assert_eq!(
        download(&app, &staff, treatment).await.status().as_u16(),
        403
    );
    let page = app
        .get_text_with(&staff, &format!("/treatments/{treatment}"))
        .await;
    assert!(!page.contains("Download as FHIR"), "no link for front desk");

    // The export holds the treatment's bundle.
    let admin = app.signed_in("admin").await;
    let export: Value = serde_json::from_str(
        &app.get_text_with(&admin, &format!("/patients/{patient}/export"))
            .await,
    )
    .unwrap();
    let bundles = export["fhir_bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1);
    parse_in_independent_model(&bundles[0]);
    assert_eq!(resources(&bundles[0], "QuestionnaireResponse").len(), 2);

    // Erased: the record is not given out any more.
    let r = app
        .post_form_with(
            &admin,
            &format!("/patients/{patient}/erase"),
            &[("confirm_name", NAME)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "erased");
    assert_eq!(
        download(&app, &practitioner, treatment)
            .await
            .status()
            .as_u16(),
        404
    );
    let export: Value = serde_json::from_str(
        &app.get_text_with(&admin, &format!("/patients/{patient}/export"))
            .await,
    )
    .unwrap();
    assert_eq!(export["fhir_bundles"], serde_json::json!([]));
}

crate::on_both_databases!(
    a_treatment_downloads_as_a_fhir_bundle_in_the_patients_dates,
    the_fhir_download_is_for_clinicians_and_not_for_an_erased_patient,
);

/// The independent model is strict: an element it does not know, or a required one missing,
/// is an error, so the tests above would fail on either.
#[test]
fn the_independent_fhir_model_refuses_unknown_and_missing_elements() {
    let procedure = serde_json::json!({
        "resourceType": "Procedure",
        "status": "completed",
        "subject": {"reference": "urn:uuid:5f0c7a52-8f8e-4a43-9a6e-2b1d5b7f4a10"},
    });
    fhirbolt::json::from_json_value::<Resource>(procedure.clone(), None)
        .expect("a valid Procedure");

    let mut unknown = procedure.clone();
    unknown["needleDepth"] = serde_json::json!(1.0);
    assert!(fhirbolt::json::from_json_value::<Resource>(unknown, None).is_err());

    let mut missing = procedure;
    missing.as_object_mut().unwrap().remove("status");
    assert!(fhirbolt::json::from_json_value::<Resource>(missing, None).is_err());
}
