//! A patient's data requests: the export holds what was recorded; an erasure leaves their
//! identity nowhere in the database (its files, on SQLite) while the treatment stays, stops
//! their links and emails, and needs its confirmation; retention settings prune old records.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aftercare::clock::Clock;
use aftercare::jobs::{ManualClock, Worker};
use aftercare::mail::Mailer;
use aftercare::usecases::reminders::Reason;
use aftercare::usecases::store::DbConn;
use chrono::{DateTime, Duration, Utc};
use diesel::RunQueryDsl;

use crate::checkins::{multipart, photo_with_location};
use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

const NAME: &str = "Zebedee Quartermain";
const FIRST_NAME_TYPED: &str = "Zebedee Quartermayne";
const EMAIL: &str = "zebedee.quartermain@example.com";
const PHONE: &str = "+44 20 7946 0123";
const PATIENT_NOTE: &str = "Sleep on your back tonight, Zebedee.";
const INTERNAL_NOTE: &str = "Mr Quartermain asked for morning slots.";
const CHECKIN_NOTE: &str = "Itchy on the left cheek, Quartermain here";
const ACK_NOTE: &str = "Rang Quartermain back, all fine";

/// The clinic's wall-clock time at `at` (Europe/London), as the treatment form takes it.
fn local_time(at: DateTime<Utc>) -> String {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// Records a 1 mm cheeks treatment done at `at` for `patient`, through the form.
async fn record_cheeks(
    app: &TestApp,
    client: &reqwest::Client,
    patient: i64,
    at: DateTime<Utc>,
) -> reqwest::Response {
    let when = local_time(at);
    let fields = [
        ("treated_at", when.as_str()),
        ("area_0", "cheeks"),
        ("depth_0", "1"),
    ];
    app.record_treatment(client, patient, &fields).await
}

/// A worker sending to a real SMTP sink, on a clock of its own.
fn worker_for(app: &TestApp, sink: &SmtpSink, clock: Arc<ManualClock>) -> Worker {
    app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock)
}

/// The path part of one of the app's absolute links.
fn path_of(url: &str, base: &str) -> String {
    url.strip_prefix(base)
        .expect("a link to the app")
        .to_string()
}

/// The patient answers "How is your skin today?" through their link, with a note and a photo.
async fn check_in(app: &TestApp, treatment: i64, note: &str) -> reqwest::Response {
    let patient = new_client();
    let path = path_of(&app.state.links.checkin(treatment), &app.address);
    let html = app.get_text_with(&patient, &path).await;
    let key = hidden_value(&html, "form_key").expect("the form has its key");
    let fields = [
        ("form_key", key.as_str()),
        ("answer", "worried"),
        ("item", "normal-redness"),
        ("note", note),
    ];
    let (content_type, body) = multipart(&fields, Some(&photo_with_location()));
    patient
        .post(app.url(&path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A configured clinic, a worker sending to an SMTP sink on its own clock, and the patient.
struct History {
    sink: SmtpSink,
    clock: Arc<ManualClock>,
    worker: Worker,
    patient: i64,
    treatment: i64,
}

/// A patient (added under a misspelt name, then corrected) with one tailored face treatment
/// done an hour ago, whose evening email was sent, and a check-in with a photo that staff
/// acknowledged.
async fn a_patient_with_history(app: &TestApp) -> History {
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = worker_for(app, &sink, clock.clone());
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, FIRST_NAME_TYPED, EMAIL)
        .await;
    let r = app
        .post_form_with(
            &practitioner,
            &format!("/patients/{patient}/edit"),
            &[
                ("name", NAME),
                ("email", EMAIL),
                ("phone", PHONE),
                ("date_of_birth", "1981-02-03"),
                ("email_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "patient corrected");
    let when = local_time(Utc::now() - Duration::hours(1));
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", when.as_str()),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
                ("area_1", "forehead"),
                ("depth_1", "0.5"),
                ("device", "Dermapen 4"),
                ("products", "Hyaluronic serum"),
                ("internal_notes", INTERNAL_NOTE),
                ("patient_note", PATIENT_NOTE),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "treatment recorded");
    let treatment = id_in_location(&r);
    // The evening email goes out.
    let first = with_conn(app, move |c| {
        aftercare::usecases::store::reminders::for_treatment(c, treatment).unwrap()
    })
    .await
    .remove(0);
    clock.set(first.send_at.and_utc() + Duration::minutes(1));
    assert!(worker.drain().await.unwrap().sent >= 1);
    assert_eq!(
        check_in(app, treatment, CHECKIN_NOTE)
            .await
            .status()
            .as_u16(),
        200
    );
    let checkin = scalar(app, "SELECT max(id) FROM checkins").await;
    let staff = app.signed_in("staff").await;
    let r = app
        .post_form_with(
            &staff,
            &format!("/attention/{checkin}/acknowledge"),
            &[("note", ACK_NOTE)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    History {
        sink,
        clock,
        worker,
        patient,
        treatment,
    }
}

async fn export_of(app: &TestApp, client: &reqwest::Client, patient: i64) -> serde_json::Value {
    let r = app
        .get_with(client, &format!("/patients/{patient}/export"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"patient-{patient}-export.json\"")
    );
    serde_json::from_str(&r.text().await.unwrap()).expect("the export is JSON")
}

async fn the_export_holds_what_was_recorded_about_the_patient(app: TestApp) {
    let History {
        patient, treatment, ..
    } = a_patient_with_history(&app).await;
    let admin = app.signed_in("admin").await;
    let export = export_of(&app, &admin, patient).await;

    assert_eq!(export["format"], "aftercare-patient-export/1");
    let p = &export["patient"];
    assert_eq!(p["id"], patient);
    assert_eq!(p["name"], NAME);
    assert_eq!(p["email"], EMAIL);
    assert_eq!(p["phone"], PHONE);
    assert_eq!(p["date_of_birth"], "1981-02-03");
    assert_eq!(p["email_consent"], true);
    assert!(p["erased_at"].is_null());

    let treatments = export["treatments"].as_array().unwrap();
    assert_eq!(treatments.len(), 1);
    let t = &treatments[0];
    assert_eq!(t["id"], treatment);
    assert_eq!(
        t["areas"],
        serde_json::json!([{"area": "cheeks", "depth_mm": 1.0}, {"area": "forehead", "depth_mm": 0.5}])
    );
    assert_eq!(t["internal_notes"], INTERNAL_NOTE);
    assert_eq!(t["tailoring"]["patient_note"], PATIENT_NOTE);
    assert_eq!(t["plan"]["tailoring"]["patient_note"], PATIENT_NOTE);
    assert!(t["practitioner"].as_str().unwrap().starts_with("Test"));
    // Every reminder, as the outbox holds it.
    let stored = with_conn(&app, move |c| {
        aftercare::usecases::store::reminders::for_treatment(c, treatment).unwrap()
    })
    .await;
    let exported: Vec<(i64, String, String)> = t["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["key"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let recorded: Vec<(i64, String, String)> = stored
        .iter()
        .map(|r| (r.id, r.reminder_key.clone(), r.status.to_string()))
        .collect();
    assert_eq!(exported, recorded);
    assert!(
        recorded.len() > 3 && recorded[0].2 == "sent",
        "{recorded:?}"
    );
    // The check-in, with its photo's own bytes.
    let checkins = t["checkins"].as_array().unwrap();
    assert_eq!(checkins.len(), 1);
    let c = &checkins[0];
    assert_eq!(c["answer"], "worried");
    assert_eq!(c["note"], CHECKIN_NOTE);
    assert_eq!(c["acknowledged_note"], ACK_NOTE);
    let photo = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(c["photo"]["base64"].as_str().unwrap())
            .unwrap()
    };
    let checkin_id = c["id"].as_i64().unwrap();
    let (_, stored_photo) = with_conn(&app, move |conn| {
        aftercare::usecases::checkins::photo(conn, checkin_id).unwrap()
    })
    .await;
    assert_eq!(photo, stored_photo);
    assert_eq!(c["photo"]["bytes"], stored_photo.len());
    // The audit entries about them.
    let actions: Vec<&str> = export["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "patient.created",
        "patient.updated",
        "treatment.recorded",
        "checkin.recorded",
        "checkin.acknowledged",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    // The export is itself audited: who exported whom.
    let exported_by = with_conn(&app, |c| {
        aftercare::usecases::store::audit::page(c, 0, 1)
            .unwrap()
            .remove(0)
    })
    .await;
    assert_eq!(
        (exported_by.action.as_str(), exported_by.subject.as_str()),
        ("patient.exported", format!("patient {patient}").as_str())
    );
    assert!(exported_by.actor.starts_with("admin-"));

    // The command line prints the same document.
    let url = app.state.settings.database.url.expose_secret().to_string();
    let id = patient.to_string();
    let (ok, out, err) = crate::cli::aftercare(&["patient", "export", "--id", &id], &url, "");
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).expect("stdout is the JSON");
    assert_eq!(printed["treatments"][0]["reminders"], t["reminders"]);
    assert_eq!(printed["patient"]["name"], NAME);
    let (ok, _, err) = crate::cli::aftercare(&["patient", "export", "--id", "999"], &url, "");
    assert!(!ok && err.contains("there is no patient 999"), "{err}");
}

/// Every text the database holds, lower-cased: the SQLite file and its WAL byte for byte (as
/// left by the app, without a VACUUM of our own: the app must have rewritten them), or on
/// PostgreSQL every row of every table as text (what a dump would hold).
async fn everything_stored(app: &TestApp) -> Vec<u8> {
    #[derive(diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let path = app.state.settings.database.sqlite_path().to_string();
    with_conn(app, move |conn| match conn {
        DbConn::Sqlite(_) => {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes.to_ascii_lowercase()
        }
        DbConn::Pg(c) => {
            let tables: Vec<Text> = diesel::sql_query(
                "SELECT table_name::text AS text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .load(c)
            .unwrap();
            let mut dump = String::new();
            for table in tables {
                let rows: Vec<Text> =
                    diesel::sql_query(format!("SELECT t::text AS text FROM \"{}\" t", table.text))
                        .load(c)
                        .unwrap();
                for row in rows {
                    dump.push_str(&row.text);
                    dump.push('\n');
                }
            }
            dump.to_lowercase().into_bytes()
        }
    })
    .await
}

fn holds(stored: &[u8], text: &str) -> bool {
    crate::checkins::contains(stored, text.to_lowercase().as_bytes())
}

async fn erasing_a_patient_removes_their_identity_and_keeps_the_treatment(app: TestApp) {
    let History {
        sink,
        clock,
        worker,
        patient,
        treatment,
    } = a_patient_with_history(&app).await;
    let identity = [
        NAME,
        FIRST_NAME_TYPED,
        EMAIL,
        PHONE,
        PATIENT_NOTE,
        INTERNAL_NOTE,
        CHECKIN_NOTE,
        ACK_NOTE,
    ];
    let stored = everything_stored(&app).await;
    for text in identity {
        assert!(
            holds(&stored, text),
            "{text:?} is stored before the erasure"
        );
    }
    // Their links, as they were sent.
    let links = &app.state.links;
    let sheet = path_of(&links.sheet(treatment), &app.address);
    let patient_links = [
        sheet.clone(),
        format!("{sheet}/next-session.ics"),
        path_of(&links.unsubscribe(patient), &app.address),
        path_of(&links.checkin(treatment), &app.address),
    ];
    for path in &patient_links {
        assert_eq!(app.get(path).await.status().as_u16(), 200, "{path} works");
    }
    let pending = format!(
        "SELECT count(*) FROM reminders WHERE patient_id = {patient} AND status = 'pending'"
    );
    let pending_before = scalar(&app, &pending).await;
    assert!(pending_before > 3);

    // The confirmation page says what goes and what stays.
    let admin = app.signed_in("admin").await;
    let erase = format!("/patients/{patient}/erase");
    let page = app.get_text_with(&admin, &erase).await;
    for text in [
        "Removed",
        "Kept, without their identity",
        NAME,
        "needle depths",
        "their treatment.",
        "pending emails are cancelled, and their sheet",
    ] {
        assert!(page.contains(text), "{text}");
    }
    // Without the name typed (or with another), nothing happens.
    for typed in ["", "Zebedee"] {
        let r = app
            .post_form_with(&admin, &erase, &[("confirm_name", typed)])
            .await;
        assert_eq!(r.status().as_u16(), 422, "{typed:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains("name exactly as shown above"), "{page}");
        assert!(page.contains("id=\"confirm_name-error\""));
    }
    assert_eq!(scalar(&app, &pending).await, pending_before);
    assert!(holds(&everything_stored(&app).await, NAME));

    let r = app
        .post_form_with(
            &admin,
            &erase,
            &[("confirm_name", " zebedee  QUARTERMAIN ")],
        )
        .await;
    assert_redirect_to(&r, &format!("/patients/{patient}"));

    // Nowhere in the database, nor in its files.
    let stored = everything_stored(&app).await;
    for text in identity {
        assert!(!holds(&stored, text), "{text:?} is still stored");
    }
    // Shown as erased, found as erased, never under their name.
    let erased_name = format!("Erased patient #{patient}");
    let page = app
        .get_text_with(&admin, &format!("/patients/{patient}"))
        .await;
    assert!(page.contains(&erased_name) && page.contains("was erased at their request"));
    assert!(!page.contains("Edit details"));
    let found = app
        .get_text_with(&admin, "/patients?q=erased+patient")
        .await;
    assert!(found.contains(&erased_name));
    assert!(!app
        .get_text_with(&admin, "/patients?q=zebedee")
        .await
        .contains(&format!("/patients/{patient}\"")));
    // Their links are 404, their record cannot change, nothing more is recorded for them.
    for path in &patient_links {
        assert_eq!(app.get(path).await.status().as_u16(), 404, "{path}");
    }
    let unsubscribe = &patient_links[2];
    assert_eq!(app.post_form(unsubscribe, &[]).await.status().as_u16(), 404);
    let checkin = &patient_links[3];
    let token = checkin.rsplit('/').next().unwrap();
    let key = app.state.links.checkin_form_key(token);
    let fields = [("form_key", key.as_str()), ("answer", "worried")];
    let (content_type, body) = multipart(&fields, None);
    let r = app
        .post_multipart(&new_client(), checkin, (content_type, body))
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let edited = app
        .post_form_with(
            &admin,
            &format!("/patients/{patient}/edit"),
            &[("name", "Someone Else")],
        )
        .await;
    assert_eq!(edited.status().as_u16(), 404);
    let again = record_cheeks(&app, &admin, patient, Utc::now()).await;
    assert_eq!(again.status().as_u16(), 404);
    assert_eq!(
        app.post_form_with(&admin, &erase, &[("confirm_name", &erased_name)])
            .await
            .status()
            .as_u16(),
        404
    );

    // The treatment stays, without them: date, areas, depths, practitioner.
    let page = app
        .get_text_with(&admin, &format!("/treatments/{treatment}"))
        .await;
    assert!(page.contains(&erased_name) && page.contains("Cheeks") && page.contains("Dermapen 4"));
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) FROM treatment_areas WHERE treatment_id = {treatment}")
        )
        .await,
        2
    );
    assert_eq!(
        scalar(&app, &format!("SELECT count(*) FROM treatments WHERE id = {treatment} AND deleted_at IS NULL AND practitioner_id IS NOT NULL")).await,
        1
    );
    assert_eq!(scalar(&app, "SELECT count(*) FROM checkin_photos").await, 0);
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM checkins").await,
        1,
        "the answer stays"
    );
    // Their pending emails were cancelled, and none goes out later.
    assert_eq!(scalar(&app, &pending).await, 0);
    let reason = format!(
        "SELECT count(*) FROM reminders WHERE patient_id = {patient} AND reason = '{}'",
        Reason::Erased.stored().replace('\'', "''")
    );
    assert_eq!(scalar(&app, &reason).await, pending_before);
    let sent = sink.received().len();
    clock.advance(Duration::days(60));
    assert_eq!(worker.drain().await.unwrap().sent, 0);
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert_eq!(sink.received().len(), sent);
    // The audit log has the erasure by the patient's id alone.
    let last = with_conn(&app, |c| {
        aftercare::usecases::store::audit::page(c, 0, 1)
            .unwrap()
            .remove(0)
    })
    .await;
    assert_eq!(last.action, "patient.erased");
    assert_eq!(last.subject, format!("patient {patient}"));
    assert!(last.actor.starts_with("admin-"));
}

async fn retention_settings_prune_old_records_and_keep_recent_ones(app: TestApp) {
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let admin = app.signed_in("admin").await;
    // Out of range: refused beside each field, and nothing saved.
    let r = app
        .post_form_with(
            &admin,
            "/admin/retention",
            &[
                ("audit_retention_days", "30"),
                ("email_retention_days", "soon"),
                ("photo_retention_days", ""),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    for field in [
        "audit_retention_days",
        "email_retention_days",
        "photo_retention_days",
    ] {
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    assert!(page.contains("from 365 to 36500"));
    let defaults = "SELECT CAST(audit_retention_days + email_retention_days + photo_retention_days AS BIGINT) FROM clinic";
    assert_eq!(scalar(&app, defaults).await, 2190 + 730 + 90);
    let r = app
        .post_form_with(
            &admin,
            "/admin/retention",
            &[
                ("audit_retention_days", "365"),
                ("email_retention_days", "30"),
                ("photo_retention_days", "10"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/retention");
    assert_eq!(scalar(&app, defaults).await, 365 + 30 + 10);

    // Now: a treatment whose emails all end (the patient stops them), and a check-in photo.
    let sink = SmtpSink::start().await;
    let start = app.clock.now();
    let clock = Arc::new(ManualClock::new(start));
    let worker = worker_for(&app, &sink, clock.clone());
    let practitioner = app.signed_in("practitioner").await;
    let record = |client: reqwest::Client, name: &'static str, at: DateTime<Utc>| {
        let app = &app;
        async move {
            let patient = app.add_patient(&client, name, "old@example.com").await;
            let r = record_cheeks(app, &client, patient, at - Duration::hours(1)).await;
            assert_eq!(r.status().as_u16(), 303);
            (patient, id_in_location(&r))
        }
    };
    let (old_patient, old_treatment) = record(practitioner, "Old Patient", start).await;
    let unsubscribe = path_of(&app.state.links.unsubscribe(old_patient), &app.address);
    assert_eq!(
        app.post_form(&unsubscribe, &[]).await.status().as_u16(),
        200
    );
    assert_eq!(
        check_in(&app, old_treatment, "a bit red")
            .await
            .status()
            .as_u16(),
        200
    );
    let old_rows = format!("SELECT count(*) FROM reminders WHERE treatment_id = {old_treatment}");
    let old_emails = scalar(&app, &old_rows).await;
    assert!(old_emails > 3);

    // Eleven days on only the photo has reached its limit.
    clock.set(start + Duration::days(11));
    let pruned = worker.housekeep().await.unwrap();
    assert_eq!(
        (pruned.photos, pruned.emails, pruned.audit_entries),
        (1, 0, 0)
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM checkins").await,
        1,
        "the answer stays"
    );

    // 400 days on, a new treatment, check-in and audit entries; then housekeeping.
    let later = start + Duration::days(400);
    app.clock.set(later);
    let practitioner = app.signed_in("practitioner").await;
    let (_, new_treatment) = record(practitioner, "New Patient", later).await;
    assert_eq!(
        check_in(&app, new_treatment, "fine")
            .await
            .status()
            .as_u16(),
        200
    );
    let old_entries = format!(
        "SELECT count(*) FROM audit_log WHERE at < (SELECT min(at) FROM audit_log WHERE subject = 'treatment {new_treatment}')"
    );
    let (entries_before, total_before) = (
        scalar(&app, &old_entries).await,
        count_rows(&app, "audit_log").await,
    );
    assert!(entries_before > 5);
    let new_rows = format!("SELECT count(*) FROM reminders WHERE treatment_id = {new_treatment}");
    let new_emails = scalar(&app, &new_rows).await;
    clock.set(later + Duration::hours(1));
    let pruned = worker.housekeep().await.unwrap();
    assert_eq!(
        (pruned.photos, pruned.emails, pruned.audit_entries),
        (0, old_emails as usize, entries_before as usize)
    );
    // The old records are gone; the recent ones, and the patients and treatments, stay.
    assert_eq!(scalar(&app, &old_rows).await, 0);
    assert_eq!(scalar(&app, &new_rows).await, new_emails);
    assert_eq!(scalar(&app, &old_entries).await, 0);
    assert_eq!(
        count_rows(&app, "audit_log").await,
        total_before - entries_before + 1,
        "the recent entries, and one saying what was deleted"
    );
    assert_eq!(scalar(&app, "SELECT count(*) FROM checkin_photos").await, 1);
    assert_eq!(count_rows(&app, "treatments").await, 2);
    assert_eq!(count_rows(&app, "checkins").await, 2);
    let last = with_conn(&app, |c| {
        aftercare::usecases::store::audit::page(c, 0, 1)
            .unwrap()
            .remove(0)
    })
    .await;
    assert_eq!(last.action, "retention.applied");
    assert!(
        last.detail.contains(&format!("{old_emails} email records")),
        "{}",
        last.detail
    );
}

crate::on_both_databases!(
    the_export_holds_what_was_recorded_about_the_patient,
    erasing_a_patient_removes_their_identity_and_keeps_the_treatment,
    retention_settings_prune_old_records_and_keep_recent_ones,
);
