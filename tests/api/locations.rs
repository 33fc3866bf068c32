//! Several locations (issue #25): London and New York, each with its own zone, send hour,
//! sender, phone and emergency number. A treatment at each is planned, emailed and printed
//! as its own location; moving New York's send hour re-times only its pending emails; bad
//! input is refused beside its field; and a database from before locations upgrades with
//! its clinic as the only location, its pending emails unchanged.

use std::sync::Arc;

use aftercare::care::ReminderKind;
use aftercare::jobs::ManualClock;
use aftercare::mail::Mailer;
use aftercare::usecases::store::{self, reminders::ReminderRow};
use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::helpers::*;
use crate::smtp_sink::SmtpSink;
use crate::support::migrations::app_upgraded_through;

const LONDON_SENDER: &str = "aftercare@glow.example";
const NY_SENDER: &str = "ny-aftercare@glow.example";
const NY_PHONE: &str = "(212) 555-0100";

/// A location's form: name, zone, send hour, phone, address for patients, sender and
/// out-of-hours advice that fits the zone.
fn location_form<'a>(
    name: &'a str,
    zone: &'a str,
    hour: &'a str,
    phone: &'a str,
    sender: &'a str,
    out_of_hours: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("time_zone", zone),
        ("send_hour", hour),
        ("phone", phone),
        ("email", "front@glow.example"),
        ("address", "1 Example Street"),
        ("opening_hours", "Mon to Fri, 9:00 to 17:00"),
        ("out_of_hours", out_of_hours),
        ("sender_email", sender),
    ]
}

fn new_york_form(hour: &str) -> Vec<(&str, &str)> {
    location_form(
        "Manhattan",
        "America/New_York",
        hour,
        NY_PHONE,
        NY_SENDER,
        "Call our answering service.",
    )
}

/// The clinic set up in London (its first location, renamed Soho) and a second location in
/// New York sending at 08:00; returns (admin, New York's id).
async fn two_locations(app: &TestApp) -> (reqwest::Client, i64) {
    app.configure_clinic("Glow Clinic", "hello@glow.example")
        .await;
    let admin = app.signed_in("admin").await;
    let r = app
        .post_form_with(&admin, "/admin/locations", &new_york_form("8"))
        .await;
    assert_eq!(r.status().as_u16(), 303, "New York added");
    let ny = id_in_location(&r);
    let soho = location_form(
        "Soho",
        "Europe/London",
        "9",
        "020 7946 0000",
        LONDON_SENDER,
        "NHS 111",
    );
    let r = app
        .post_form_with(&admin, "/admin/locations/1", &soho)
        .await;
    assert_eq!(r.status().as_u16(), 303, "London renamed");
    (admin, ny)
}

/// An hour ago on `zone`'s wall clock, as the treatment form takes it.
fn an_hour_ago_in(zone: &str) -> String {
    let tz: Tz = zone.parse().unwrap();
    (Utc::now() - Duration::hours(1))
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A patient treated an hour ago at `location` (its id), recorded by `client`.
async fn treated_at(
    app: &TestApp,
    client: &reqwest::Client,
    location: i64,
    zone: &str,
    name: &str,
) -> i64 {
    let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
    let (when, location) = (an_hour_ago_in(zone), location.to_string());
    let fields = [
        ("treated_at", when.as_str()),
        ("area_0", "forehead"),
        ("depth_0", "0.5"),
        ("location", location.as_str()),
    ];
    app.patient_with_treatment(client, name, &email, &fields)
        .await
        .1
}

async fn reminders_of(app: &TestApp, treatment: i64) -> Vec<ReminderRow> {
    with_conn(app, move |conn| {
        store::reminders::for_treatment(conn, treatment).unwrap()
    })
    .await
}

/// The local hours, in `zone`, of a treatment's pending daily emails.
fn daily_hours(rows: &[ReminderRow], zone: &str) -> Vec<u32> {
    let tz: Tz = zone.parse().unwrap();
    let mut hours: Vec<u32> = rows
        .iter()
        .filter(|r| r.kind == ReminderKind::Daily && r.status.as_str() == "pending")
        .map(|r| r.send_at.and_utc().with_timezone(&tz).hour())
        .collect();
    hours.sort();
    hours.dedup();
    hours
}

fn first_daily(rows: &[ReminderRow]) -> NaiveDateTime {
    rows.iter()
        .filter(|r| r.kind == ReminderKind::Daily)
        .map(|r| r.send_at)
        .min()
        .expect("a daily email")
}

async fn each_location_plans_prints_and_sends_as_its_own(app: TestApp) {
    let (_, ny) = two_locations(&app).await;
    let practitioner = app.signed_in("practitioner").await;
    // A user who works at both sees the choice on the form, each location with its zone.
    let someone = app
        .add_patient(&practitioner, "Sam One", "sam@example.com")
        .await;
    let form = app.treatment_form(&practitioner, someone).await;
    assert!(form.contains("name=\"location\""), "{form}");
    assert!(form.contains("Manhattan (America/New_York)"));
    let london = treated_at(&app, &practitioner, 1, "Europe/London", "Lena London").await;
    let new_york = treated_at(&app, &practitioner, ny, "America/New_York", "Nora York").await;

    // Each plan's daily emails at its own location's hour, on its own clock.
    let london_rows = reminders_of(&app, london).await;
    let ny_rows = reminders_of(&app, new_york).await;
    assert_eq!(daily_hours(&london_rows, "Europe/London"), [9]);
    assert_eq!(daily_hours(&ny_rows, "America/New_York"), [8]);

    // Each sheet carries its own location's name, phone and emergency number.
    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{london}/sheet"))
        .await;
    assert!(sheet.contains("Glow Clinic, Soho") && sheet.contains("020 7946 0000"));
    assert!(sheet.contains("999") && !sheet.contains(NY_PHONE));
    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{new_york}/sheet"))
        .await;
    assert!(sheet.contains("Glow Clinic, Manhattan") && sheet.contains("555-0100"));
    assert!(sheet.contains("911") && !sheet.contains("020 7946 0000"));

    // Patients are shared: the patient's page lists each treatment with its location.
    let patient = scalar(
        &app,
        &format!("SELECT patient_id FROM treatments WHERE id = {new_york}"),
    )
    .await;
    let page = app
        .get_text_with(&practitioner, &format!("/patients/{patient}"))
        .await;
    assert!(
        page.contains("<th scope=\"col\">Location</th>") && page.contains("<td>Manhattan</td>")
    );

    // Staff see where it was done on the treatment's page.
    let page = app
        .get_text_with(&practitioner, &format!("/treatments/{new_york}"))
        .await;
    assert!(page.contains("<dt>Location</dt><dd>Manhattan (America/New_York)</dd>"));

    // The outbox gives each email's time on its own location's clock, and names it.
    let staff = app.signed_in("staff").await;
    let outbox = app.get_text_with(&staff, "/outbox?location=all").await;
    assert!(
        outbox.contains("each location&#x27;s time") || outbox.contains("each location's time")
    );
    assert!(
        outbox.contains(", 08:00</time><br><small class=\"location\">Manhattan</small>"),
        "{outbox}"
    );
    assert!(outbox.contains(", 09:00</time><br><small class=\"location\">Soho</small>"));

    // Each first daily email goes at its own time, from its own sender, with its own lines.
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock.clone());
    let mut both = [
        (
            &london_rows,
            LONDON_SENDER,
            "020 7946 0000",
            "999",
            NY_PHONE,
        ),
        (&ny_rows, NY_SENDER, NY_PHONE, "911", "020 7946 0000"),
    ];
    // In the order they fall due: a clock moved past one skips the other as late.
    both.sort_by_key(|(rows, ..)| first_daily(rows));
    for (rows, sender, phone, emergency, other_phone) in both {
        // What falls due before it (an evening email, by the time of day the test runs at)
        // goes first, so the one email that follows is the daily one.
        clock.set(first_daily(rows).and_utc() - Duration::minutes(1));
        worker.run_once().await.unwrap();
        let before = sink.received().len();
        clock.set(first_daily(rows).and_utc() + Duration::minutes(1));
        worker.run_once().await.unwrap();
        let got = sink
            .wait_for(before + 1, std::time::Duration::from_secs(10))
            .await;
        assert_eq!(got.len(), before + 1, "one email at its time");
        let email = got.last().unwrap();
        assert!(
            email.subject().unwrap().starts_with("Day 1"),
            "{:?}",
            email.subject()
        );
        assert!(
            email.header("From").unwrap().contains(sender),
            "{:?}",
            email.header("From")
        );
        let text = email.text_part("text/plain").unwrap();
        assert!(text.contains(phone) && text.contains(emergency), "{text}");
        assert!(!text.contains(other_phone), "{text}");
    }
}

/// A patient treated at both locations the same afternoon, New York sending at the hour that
/// is 09:00 in London: their daily emails fall due at the same instant, and go as two emails,
/// each from its own location (one per send time per location), never merged into one.
async fn a_patient_treated_at_both_gets_each_locations_email_from_it(app: TestApp) {
    let (admin, ny) = two_locations(&app).await;
    let (london_tz, ny_tz): (Tz, Tz) = (
        "Europe/London".parse().unwrap(),
        "America/New_York".parse().unwrap(),
    );
    let day = Utc::now().with_timezone(&london_tz).date_naive() - Duration::days(1);
    let treated = day
        .and_hms_opt(14, 30, 0)
        .unwrap()
        .and_local_timezone(london_tz)
        .unwrap();
    let next_nine = (day + Duration::days(1)).and_hms_opt(9, 0, 0).unwrap();
    let next_nine = next_nine.and_local_timezone(london_tz).unwrap();
    let ny_hour = next_nine.with_timezone(&ny_tz).hour().to_string();
    let r = app
        .post_form_with(
            &admin,
            &format!("/admin/locations/{ny}"),
            &new_york_form(&ny_hour),
        )
        .await;
    assert_eq!(
        r.status().as_u16(),
        303,
        "nothing pending yet: saved at once"
    );

    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Bo Both", "bo@example.com")
        .await;
    let mut treatments = Vec::new();
    for (location, zone) in [(1, london_tz), (ny, ny_tz)] {
        let (when, location) = (
            treated
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            location.to_string(),
        );
        let fields = [
            ("treated_at", when.as_str()),
            ("area_0", "forehead"),
            ("depth_0", "0.5"),
            ("location", location.as_str()),
        ];
        let r = app.record_treatment(&practitioner, patient, &fields).await;
        assert_eq!(r.status().as_u16(), 303);
        treatments.push(id_in_location(&r));
    }
    let mut due = Vec::new();
    for t in &treatments {
        due.push(first_daily(&reminders_of(&app, *t).await));
    }
    assert_eq!(due[0], due[1], "both due at the same instant");
    assert_eq!(due[0], next_nine.naive_utc());

    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock.clone());
    // What is due now (an evening email still current) goes first.
    worker.run_once().await.unwrap();
    let before = sink.received().len();
    clock.set(due[0].and_utc() + Duration::minutes(1));
    worker.run_once().await.unwrap();
    let got = sink
        .wait_for(before + 2, std::time::Duration::from_secs(10))
        .await;
    let got = &got[before..];
    assert_eq!(got.len(), 2, "one email from each location");
    let senders: Vec<String> = got.iter().map(|m| m.header("From").unwrap()).collect();
    for sender in [LONDON_SENDER, NY_SENDER] {
        let from = |s: &&String| s.contains(&format!("<{sender}>"));
        assert_eq!(senders.iter().filter(from).count(), 1, "{senders:?}");
    }
    for email in got {
        let text = email.text_part("text/plain").unwrap();
        let from_ny = email.header("From").unwrap().contains(NY_SENDER);
        assert_eq!(text.contains(NY_PHONE), from_ny, "{text}");
        assert_eq!(text.contains("020 7946 0000"), !from_ny, "{text}");
    }
}

async fn moving_new_yorks_send_hour_retimes_only_its_pending_emails(app: TestApp) {
    let (admin, ny) = two_locations(&app).await;
    let practitioner = app.signed_in("practitioner").await;
    let london = treated_at(&app, &practitioner, 1, "Europe/London", "Lena London").await;
    let new_york = treated_at(&app, &practitioner, ny, "America/New_York", "Nora York").await;
    let london_before = reminders_of(&app, london).await;
    let ny_before = reminders_of(&app, new_york).await;
    let pending = ny_before
        .iter()
        .filter(|r| r.status.as_str() == "pending")
        .count();

    // Asked first, with the count; nothing moves yet.
    let path = format!("/admin/locations/{ny}");
    let r = app
        .post_form_with(&admin, &path, &new_york_form("10"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("moves {pending} pending emails")),
        "{page}"
    );
    assert_eq!(hidden_value(&page, "moves"), Some(pending.to_string()));
    assert_eq!(
        reminders_of(&app, new_york).await[0].send_at,
        ny_before[0].send_at
    );

    // Confirmed: New York's pending emails at 10:00 New York time; London's untouched.
    let pending_text = pending.to_string();
    let mut confirmed = new_york_form("10");
    confirmed.push(("moves", pending_text.as_str()));
    let r = app.post_form_with(&admin, &path, &confirmed).await;
    assert_eq!(r.status().as_u16(), 303);
    let ny_after = reminders_of(&app, new_york).await;
    assert_eq!(daily_hours(&ny_after, "America/New_York"), [10]);
    let moved = |before: &ReminderRow| {
        let after = ny_after.iter().find(|a| a.id == before.id).unwrap();
        (after.send_at - before.send_at).num_hours()
    };
    assert!(ny_before
        .iter()
        .filter(|r| r.kind == ReminderKind::Daily)
        .all(|r| moved(r) == 2));
    let london_after = reminders_of(&app, london).await;
    let times = |rows: &[ReminderRow]| rows.iter().map(|r| (r.id, r.send_at)).collect::<Vec<_>>();
    assert_eq!(times(&london_after), times(&london_before));
    assert!(app
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "location.updated"));
}

/// A location moved to another zone keeps each treatment's wall-clock time (what the
/// practitioner typed) and sends its pending emails at the send hour of the new zone.
async fn a_new_zone_keeps_the_wall_clock_and_moves_pending_emails(app: TestApp) {
    let (admin, ny) = two_locations(&app).await;
    let practitioner = app.signed_in("practitioner").await;
    let new_york = treated_at(&app, &practitioner, ny, "America/New_York", "Nora York").await;
    let before = with_conn(&app, move |conn| {
        aftercare::usecases::treatments::get(conn, new_york).unwrap()
    })
    .await;
    let pending = reminders_of(&app, new_york)
        .await
        .iter()
        .filter(|r| r.status.as_str() == "pending")
        .count()
        .to_string();
    let mut chicago = location_form(
        "Manhattan",
        "America/Chicago",
        "8",
        NY_PHONE,
        NY_SENDER,
        "Call our answering service.",
    );
    chicago.push(("moves", pending.as_str()));
    let r = app
        .post_form_with(&admin, &format!("/admin/locations/{ny}"), &chicago)
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let after = with_conn(&app, move |conn| {
        aftercare::usecases::treatments::get(conn, new_york).unwrap()
    })
    .await;
    assert_eq!(
        after.treated_at_local, before.treated_at_local,
        "the typed time stays"
    );
    assert_eq!(after.time_zone.name(), "America/Chicago");
    assert_eq!(
        (after.treated_at - before.treated_at).num_hours(),
        1,
        "the same wall clock an hour west"
    );
    let rows = reminders_of(&app, new_york).await;
    assert_eq!(daily_hours(&rows, "America/Chicago"), [8]);
}

async fn bad_location_input_is_refused_beside_its_field(app: TestApp) {
    let (admin, ny) = two_locations(&app).await;
    let mut bad = location_form("", "Mars/Olympus", "24", "", NY_SENDER, "");
    bad.retain(|(k, _)| *k != "email");
    let r = app.post_form_with(&admin, "/admin/locations", &bad).await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Enter the location"), "{page}");
    assert!(page.contains("Choose a time zone from the list"));
    assert!(page.contains("Choose an hour from 0 to 23"));
    assert_eq!(count_rows(&app, "locations").await, 2, "nothing saved");

    // A location with treatments cannot be deleted, only closed.
    let practitioner = app.signed_in("practitioner").await;
    treated_at(&app, &practitioner, ny, "America/New_York", "Nora York").await;
    let r = app
        .post_form_with(&admin, &format!("/admin/locations/{ny}/delete"), &[])
        .await;
    assert_refused_saying(r, "cannot be deleted. Close it instead").await;
    assert_eq!(count_rows(&app, "locations").await, 2);
    let r = app
        .post_form_with(&admin, &format!("/admin/locations/{ny}/close"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // Closed: no longer offered, and a form naming it is refused beside the field.
    let patient = app
        .add_patient(&practitioner, "Nell New", "nell@example.com")
        .await;
    let form = app.treatment_form(&practitioner, patient).await;
    assert!(!form.contains("Manhattan"));
    let (when, ny_text) = (an_hour_ago_in("America/New_York"), ny.to_string());
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", when.as_str()),
                ("area_0", "forehead"),
                ("depth_0", "0.5"),
                ("location", ny_text.as_str()),
            ],
        )
        .await;
    assert_refused_saying(r, "Choose the location where the treatment was done.").await;
    // The last open location stays open.
    let r = app
        .post_form_with(&admin, "/admin/locations/1/close", &[])
        .await;
    assert_refused_saying(r, "This is the only open location.").await;
}

crate::on_both_databases!(
    each_location_plans_prints_and_sends_as_its_own,
    a_patient_treated_at_both_gets_each_locations_email_from_it,
    moving_new_yorks_send_hour_retimes_only_its_pending_emails,
    a_new_zone_keeps_the_wall_clock_and_moves_pending_emails,
    bad_location_input_is_refused_beside_its_field,
    a_single_site_clinic_moves_its_send_hour_on_the_settings_page,
);

/// A clinic as the release before locations left it: set up in New York at 07:00, with a
/// treatment, two pending emails and a sent one.
fn clinic_before_locations(day: chrono::NaiveDate) -> String {
    let plan = std::fs::read_to_string("tests/fixtures/v1/plan-v1-standard.json")
        .unwrap()
        .replace('\'', "''");
    let at = format!("{day} 14:30:00");
    let later = |days: i64| format!("{} 12:00:00", day + Duration::days(days));
    let (first, second) = (later(2), later(3));
    format!(
        "UPDATE clinic SET name = 'Old Glow', phone = '(212) 555-0199', email = 'front@old.example',
             address = '5 Old Street', opening_hours = 'Mon to Sat', out_of_hours = 'Call our service.',
             time_zone = 'America/New_York', send_hour = 7, sender_email = 'care@old.example',
             emergency_number = '911', reply_days = 3, configured = TRUE, locale = 'en-US';
         INSERT INTO users (id, email, name, role, password_hash, active, created_at, updated_at)
           VALUES (900001, 'old@clinic.example', 'Olga Before', 'practitioner', NULL, TRUE, '{at}', '{at}');
         INSERT INTO patients (id, name, name_search, email, email_consent, created_at, updated_at)
           VALUES (900001, 'Old Patient', 'old patient', 'old@example.com', TRUE, '{at}', '{at}');
         INSERT INTO treatments (id, patient_id, practitioner_id, treated_at_local, treated_at,
             time_zone, device, products, internal_notes, plan_json, created_at, updated_at)
           VALUES (900001, 900001, 900001, '{at}', '{at}', 'America/New_York', 'Pen', '', '',
             '{plan}', '{at}', '{at}');
         INSERT INTO reminders (treatment_id, patient_id, reminder_key, kind, day, subject, send_at,
             next_attempt_at, status, attempts, message_id, updated_at)
           VALUES (900001, 900001, 'evening', 'evening', 0, 'Tonight', '{at}', '{at}', 'sent', 1,
                   '<old-0@old.example>', '{at}'),
                  (900001, 900001, 'day-2', 'daily', 2, 'Day 2', '{first}', '{first}', 'pending', 0,
                   '<old-2@old.example>', '{at}'),
                  (900001, 900001, 'day-3', 'daily', 3, 'Day 3', '{second}', '{second}', 'pending', 0,
                   '<old-3@old.example>', '{at}');"
    )
}

async fn an_old_database_upgrades_with_its_clinic_as_the_only_location(db: Db) {
    let day = Utc::now().date_naive();
    let app = app_upgraded_through(db, "locations", &clinic_before_locations(day)).await;
    let locations = with_conn(&app, |conn| store::locations::list(conn).unwrap()).await;
    assert_eq!(locations.len(), 1);
    let only = &locations[0];
    assert_eq!(
        (
            only.id,
            only.fields.name.as_str(),
            only.fields.time_zone.as_str(),
            only.fields.send_hour
        ),
        (1, "Old Glow", "America/New_York", 7)
    );
    assert_eq!(
        (
            only.fields.phone.as_str(),
            only.fields.email.as_str(),
            only.fields.sender_email.as_str()
        ),
        ("(212) 555-0199", "front@old.example", "care@old.example")
    );
    assert_eq!(
        (
            only.fields.emergency_number.as_str(),
            only.fields.reply_days
        ),
        ("911", 3)
    );
    assert!(only.closed_at.is_none());

    // Every email exactly as it was, and the treatment at the only location.
    let rows = reminders_of(&app, 900001).await;
    let kept: Vec<(String, &str, String)> = rows
        .iter()
        .map(|r| {
            (
                r.reminder_key.clone(),
                r.status.as_str(),
                r.send_at.to_string(),
            )
        })
        .collect();
    let at = |days: i64| format!("{} 12:00:00", day + Duration::days(days));
    assert_eq!(
        kept,
        [
            ("evening".to_string(), "sent", format!("{day} 14:30:00")),
            ("day-2".to_string(), "pending", at(2)),
            ("day-3".to_string(), "pending", at(3)),
        ]
    );
    let location = scalar(&app, "SELECT location_id FROM treatments WHERE id = 900001").await;
    assert_eq!(location, 1);

    // A single-site clinic sees what it saw: its settings on the clinic page, no location
    // choice on the form, its lines on the sheet.
    let admin = app.signed_in("admin").await;
    let settings = app.get_text_with(&admin, "/admin/clinic").await;
    assert!(settings.contains("value=\"Old Glow\"") && settings.contains("(212) 555-0199"));
    assert!(!settings.contains("These details are for"));
    let form = app.treatment_form(&admin, 900001).await;
    assert!(!form.contains("name=\"location\""));
    let page = app.get_text_with(&admin, "/patients/900001").await;
    assert!(page.contains("Olga Before") && !page.contains("<th scope=\"col\">Location</th>"));
    let path = "/treatments/900001/sheet";
    let sheet = app.get_with(&admin, path).await;
    let tag = sheet.headers()["etag"].to_str().unwrap().to_string();
    let sheet = sheet.text().await.unwrap();
    assert!(sheet.contains("Old Glow") && sheet.contains("(212) 555-0199"));
    assert!(
        !sheet.contains("Old Glow, "),
        "no location name for a single site"
    );

    // A second location: the old sheet is made again (a new tag), and its first location,
    // still named as the clinic is, is not named twice.
    let r = app
        .post_form_with(&admin, "/admin/locations", &new_york_form("8"))
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let again = app.get_if_none_match(&admin, path, &tag).await;
    assert_eq!(again.status().as_u16(), 200, "not a stale 304");
    let sheet = again.text().await.unwrap();
    assert!(sheet.contains("Old Glow") && !sheet.contains("Old Glow, Old Glow"));
}

mod upgrade {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::an_old_database_upgrades_with_its_clinic_as_the_only_location(
            crate::support::Db::Sqlite,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(aftercare_pg),
        ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
    )]
    async fn postgres() {
        super::an_old_database_upgrades_with_its_clinic_as_the_only_location(
            crate::support::Db::Postgres,
        )
        .await;
    }
}

/// `/metrics` counts each location's emails, the System page lists each location with its
/// pending mail, a patient's export names where each treatment was done, and the page that
/// stops their emails gives their own location's phone.
async fn operations_see_each_location(app: TestApp) {
    let (admin, ny) = two_locations(&app).await;
    let practitioner = app.signed_in("practitioner").await;
    let london = treated_at(&app, &practitioner, 1, "Europe/London", "Lena London").await;
    let new_york = treated_at(&app, &practitioner, ny, "America/New_York", "Nora York").await;
    let pending = |rows: Vec<ReminderRow>| {
        rows.iter()
            .filter(|r| r.status.as_str() == "pending")
            .count()
    };
    let london_pending = pending(reminders_of(&app, london).await);
    let ny_pending = pending(reminders_of(&app, new_york).await);

    let metrics = app.get_metrics().await.text().await.unwrap();
    for line in [
        format!("aftercare_outbox_reminders_by_location{{location=\"1\",status=\"pending\"}} {london_pending}"),
        format!("aftercare_outbox_reminders_by_location{{location=\"{ny}\",status=\"pending\"}} {ny_pending}"),
        format!("aftercare_location_info{{location=\"{ny}\",name=\"Manhattan\",state=\"open\"}} 1"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line} in {metrics}");
    }

    let system = app.get_text_with(&admin, "/admin/system").await;
    let row = format!("<a href=\"/outbox?location={ny}\">{ny_pending}</a>");
    assert!(
        system.contains("Manhattan") && system.contains(&row),
        "{system}"
    );

    let patient = scalar(
        &app,
        &format!("SELECT patient_id FROM treatments WHERE id = {new_york}"),
    )
    .await;
    let export = app
        .get_text_with(&admin, &format!("/patients/{patient}/export"))
        .await;
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert_eq!(export["treatments"][0]["location"], "Manhattan");

    // Stopping emails names the phone of the patient's own location.
    let link = app.state.links.unsubscribe(patient);
    let page = app
        .get_text(&link[link.find("/unsubscribe/").unwrap()..])
        .await;
    assert!(
        page.contains(NY_PHONE) && !page.contains("020 7946 0000"),
        "{page}"
    );
}

mod operations {
    crate::on_both_databases!(
        settings &[("AFTERCARE_METRICS_BIND", "127.0.0.1:0")];
        operations_see_each_location,
    );
    use super::operations_see_each_location;
}

/// A single-site clinic moves its send hour on the clinic settings page: asked first with
/// the count, then its pending emails follow.
async fn a_single_site_clinic_moves_its_send_hour_on_the_settings_page(app: TestApp) {
    app.configure_clinic("Glow Clinic", "hello@glow.example")
        .await;
    // Its one location took the clinic's name, not the first run's "Our clinic".
    let names = with_conn(&app, |conn| store::locations::list(conn).unwrap()).await;
    assert_eq!(names[0].fields.name, "Glow Clinic");
    let (_, treatment) = app.ada_treated_an_hour_ago(&[]).await;
    let before = reminders_of(&app, treatment).await;
    let pending = before
        .iter()
        .filter(|r| r.status.as_str() == "pending")
        .count()
        .to_string();
    let admin = app.signed_in("admin").await;
    let mut settings = vec![
        ("name", "Glow Clinic"),
        ("phone", "020 7946 0000"),
        ("email", "hello@glow.example"),
        ("out_of_hours", "NHS 111"),
        ("time_zone", "Europe/London"),
        ("send_hour", "11"),
        ("sender_email", LONDON_SENDER),
    ];
    let r = app.post_form_with(&admin, "/admin/clinic", &settings).await;
    assert_eq!(r.status().as_u16(), 200, "asked first");
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("moves {pending} pending emails")),
        "{page}"
    );
    assert_eq!(
        daily_hours(&reminders_of(&app, treatment).await, "Europe/London"),
        [9]
    );
    settings.push(("moves", pending.as_str()));
    let r = app.post_form_with(&admin, "/admin/clinic", &settings).await;
    assert_redirect_to(&r, "/admin/clinic");
    assert_eq!(
        daily_hours(&reminders_of(&app, treatment).await, "Europe/London"),
        [11]
    );
}
