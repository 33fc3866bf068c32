//! Handing the sheet over (issue #16): record-and-print, "send the sheet now",
//! the QR code, calendar files, and the cached sheet with its ETag.

use std::time::Duration as StdDuration;

use aftercare::care::Plan;
use aftercare::usecases::store;
use chrono::Duration;
use icalendar::{CalendarDateTime, Component, DatePerhapsTime};

use std::io::Read;

use crate::helpers::link_in;
use crate::helpers::*;
use crate::reminders::{mailroom, rows};

/// A two-area face treatment an hour ago, as the form sends it.
fn two_areas(when: &str) -> Vec<(&'static str, String)> {
    vec![
        ("treated_at", when.to_string()),
        ("area_0", "cheeks".into()),
        ("depth_0", "1.0".into()),
        ("area_1", "forehead".into()),
        ("depth_1", "0.5".into()),
    ]
}

async fn record(
    app: &TestApp,
    client: &reqwest::Client,
    patient: i64,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let when = clinic_time(-Duration::hours(1));
    let fields = two_areas(&when);
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.extend_from_slice(extra);
    app.record_treatment(client, patient, &form).await
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The patient's link, as the treatment page shows it.
async fn patient_link(app: &TestApp, client: &reqwest::Client, treatment: i64) -> String {
    let page = app
        .get_text_with(client, &format!("/treatments/{treatment}"))
        .await;
    let at = page.find("id=\"patient-link\"").expect("the link field");
    let value = &page[at..];
    let start = value.find("value=\"").unwrap() + 7;
    value[start..].split('"').next().unwrap().to_string()
}

/// A practitioner records a treatment for Maya; returns their browser, the
/// treatment and Maya's link.
async fn maya_treated(app: &TestApp) -> (reqwest::Client, i64, String) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let treatment = id_in_location(&record(app, &practitioner, patient, &[]).await);
    let link = patient_link(app, &practitioner, treatment).await;
    (practitioner, treatment, link)
}

async fn plan_of(app: &TestApp, treatment: i64) -> Plan {
    let row = with_conn(app, move |conn| {
        store::treatments::find(conn, treatment).unwrap().unwrap()
    })
    .await;
    serde_json::from_str(&row.plan_json).unwrap()
}

async fn record_and_print_lands_on_the_sheet_ready_to_print(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let form = app.treatment_form(&practitioner, patient).await;
    assert!(form.contains("name=\"then\" value=\"print\""));
    assert!(form.contains("name=\"then\" value=\"page\""));

    let r = record(&app, &practitioner, patient, &[("then", "print")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let to = location(&r);
    let id: i64 = to
        .strip_prefix("/treatments/")
        .and_then(|rest| rest.strip_suffix("/sheet?print=1"))
        .unwrap_or_else(|| panic!("not the sheet: {to}"))
        .parse()
        .unwrap();
    let sheet = app.get_with(&practitioner, &to).await;
    assert_eq!(sheet.status().as_u16(), 200);
    let html = sheet.text().await.unwrap();
    assert!(
        html.contains("data-autoprint"),
        "the script is asked to print"
    );
    assert!(html.contains("Treatment recorded."), "the flash shows");
    assert!(html.contains("Maya Patel"));
    // The QR code sits next to the link it encodes.
    let link = patient_link(&app, &practitioner, id).await;
    assert!(html.contains(&format!("data-qr-target=\"{link}\"")));
    assert!(html.contains("<svg"));

    // The second button returns to the treatment page; no print there.
    let r = record(&app, &practitioner, patient, &[("then", "page")]).await;
    let to = location(&r);
    assert!(
        to.starts_with("/treatments/") && !to.contains("sheet"),
        "{to}"
    );
    let plain = app
        .get_text_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await;
    assert!(!plain.contains("data-autoprint"));
}

async fn send_now_queues_one_email_per_click_and_none_without_consent(app: TestApp) {
    let m = mailroom(app).await;
    let app = &m.app;
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let r = record(app, &practitioner, patient, &[]).await;
    let treatment = id_in_location(&r);
    let sheet_now = |rows: &[store::reminders::ReminderRow]| {
        rows.iter()
            .filter(|r| r.reminder_key.starts_with("sheet-now"))
            .count()
    };
    assert_eq!(sheet_now(&rows(app, treatment).await), 0);

    // Staff at the desk press the button; the same click sent twice is one email.
    let page = app
        .get_text_with(&m.staff, &format!("/treatments/{treatment}"))
        .await;
    assert!(page.contains("Send the sheet now"));
    let click = hidden_value(&page, "click").expect("the click's nonce");
    let path = format!("/treatments/{treatment}/send-sheet");
    let r = app
        .post_form_with(&m.staff, &path, &[("click", &click)])
        .await;
    assert_redirect_to(&r, &format!("/treatments/{treatment}"));
    let page = app
        .get_text_with(&m.staff, &format!("/treatments/{treatment}"))
        .await;
    assert!(
        page.contains("on its way to maya@example.com"),
        "the flash says where"
    );
    let r = app
        .post_form_with(&m.staff, &path, &[("click", &click)])
        .await;
    assert_redirect_to(&r, &format!("/treatments/{treatment}"));
    assert_eq!(sheet_now(&rows(app, treatment).await), 1);
    // A second click (a new page) is a second email.
    let page = app
        .get_text_with(&m.staff, &format!("/treatments/{treatment}"))
        .await;
    assert!(page.contains("already queued"), "the resent click says so");
    let again = hidden_value(&page, "click").unwrap();
    assert_ne!(again, click);
    app.post_form_with(&m.staff, &path, &[("click", &again)])
        .await;
    let queued = rows(app, treatment).await;
    assert_eq!(sheet_now(&queued), 2);
    let row = queued
        .iter()
        .find(|r| r.reminder_key.starts_with("sheet-now"))
        .unwrap();
    assert_eq!(row.status, "pending");
    assert!(row.subject.starts_with("Your aftercare sheet from"));
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "sheet.sent_now").count(), 2);
    let outbox = app.get_text_with(&m.staff, "/outbox").await;
    assert!(outbox.contains(&row.subject));

    // The worker sends them at once: the sheet's link, no day's advice.
    m.clock.set(chrono::Utc::now() + Duration::minutes(1));
    let sent = m.worker.drain().await.unwrap().sent;
    assert!(
        sent >= 2,
        "both links go now (and the evening email if due): {sent}"
    );
    let mail = m.sink.wait_for(sent, StdDuration::from_secs(5)).await;
    let link = mail
        .iter()
        .find(|r| {
            r.subject()
                .unwrap()
                .starts_with("Your aftercare sheet from")
        })
        .expect("the sheet's email");
    let text = link.text_part("text/plain").unwrap();
    assert!(text.contains("As promised at the clinic"), "{text}");
    assert!(!text.contains("Do:"), "no day's advice: {text}");
    let url = link_in(&text, "/s/");
    assert_eq!(url, patient_link(app, &m.staff, treatment).await);

    // The form's option, for a patient who may be emailed: one email.
    let r = record(app, &practitioner, patient, &[("send_now", "1")]).await;
    let second = id_in_location(&r);
    assert_eq!(sheet_now(&rows(app, second).await), 1);

    // No consent: no button, and a forged click queues nothing.
    let r = app
        .post_form_with(
            &practitioner,
            "/patients/new",
            &[("name", "Ana Lima"), ("email", "ana@example.com")],
        )
        .await;
    let silent = id_in_location(&r);
    let r = record(app, &practitioner, silent, &[("send_now", "1")]).await;
    let theirs = id_in_location(&r);
    let page = app
        .get_text_with(&m.staff, &format!("/treatments/{theirs}"))
        .await;
    assert!(!page.contains("Send the sheet now"));
    let r = app
        .post_form_with(
            &m.staff,
            &format!("/treatments/{theirs}/send-sheet"),
            &[("click", "forged")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let page = app
        .get_text_with(&m.staff, &format!("/treatments/{theirs}"))
        .await;
    assert!(
        page.contains("Not sent: this patient has not agreed"),
        "{page}"
    );
    assert_eq!(sheet_now(&rows(app, theirs).await), 0);
}

async fn the_sheet_has_a_strong_etag_that_edits_and_settings_change(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let admin = app.signed_in("admin").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let treatment = id_in_location(&record(&app, &practitioner, patient, &[]).await);
    let link = patient_link(&app, &practitioner, treatment).await;
    let anonymous = new_client();
    let get = |tag: Option<String>| {
        let mut request = anonymous.get(&link);
        if let Some(tag) = tag {
            request = request.header("If-None-Match", tag);
        }
        request.send()
    };
    let first = get(None).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let body = first.text().await.unwrap();

    // The same sheet again: 304, no body, and the view is still audited
    // (counted on the hour's entry).
    let again = get(Some(etag.clone())).await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    assert_patient_views(&app, 1, 2).await;
    let other = get(Some("\"something-else\"".into())).await.unwrap();
    assert_eq!(other.status().as_u16(), 200);

    // An edit (a deeper needle) changes the content and the tag.
    let when = clinic_time(-Duration::hours(1));
    let deeper = [
        ("treated_at", when.as_str()),
        ("area_0", "cheeks"),
        ("depth_0", "2.0"),
        // Deeper than usual for cheeks: the practitioner confirms it.
        ("depth_confirmed", "cheeks 2.0"),
    ];
    let r = app.edit_treatment(&practitioner, treatment, &deeper).await;
    assert_eq!(r.status().as_u16(), 303);
    let edited = get(Some(etag.clone())).await.unwrap();
    assert_eq!(edited.status().as_u16(), 200);
    let etag2 = edited.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(etag2, etag);
    let body2 = edited.text().await.unwrap();
    assert_ne!(body2, body);
    assert!(
        body2.contains("(2.0 mm)") && !body2.contains("Forehead ("),
        "the edit shows"
    );

    // So does a change of the clinic's settings.
    let r = app
        .post_form_with(
            &admin,
            "/admin/clinic",
            &[
                ("name", "Renamed Skin Studio"),
                ("time_zone", "Europe/London"),
                ("send_hour", "9"),
                ("sender_email", "aftercare@renamed.example"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/clinic");
    let renamed = get(Some(etag2.clone())).await.unwrap();
    assert_eq!(renamed.status().as_u16(), 200);
    assert_ne!(renamed.headers()["etag"].to_str().unwrap(), etag2);
    assert!(renamed
        .text()
        .await
        .unwrap()
        .contains("Renamed Skin Studio"));

    // The staff sheet: its own tag, 304 likewise, audited likewise (the
    // edit's flash is seen first: a page with a flash has no tag).
    app.get_with(&practitioner, &format!("/treatments/{treatment}"))
        .await;
    let path = format!("/treatments/{treatment}/sheet");
    let staff = app.get_with(&practitioner, &path).await;
    let tag = staff.headers()["etag"].to_str().unwrap().to_string();
    let again = app.get_if_none_match(&practitioner, &path, &tag).await;
    assert_eq!(again.status().as_u16(), 304);
    let opened = app.audit_actions().await;
    assert_eq!(
        opened
            .iter()
            .filter(|a| *a == "sheet.opened_by_staff")
            .count(),
        2
    );
    // Another user's page is another tag (their name is on it).
    let staff_user = app.signed_in("staff").await;
    let theirs = app.get_if_none_match(&staff_user, &path, &tag).await;
    assert_eq!(theirs.status().as_u16(), 200);
}

/// The audit log's entries for the patient's views of their link, and how many views they count.
async fn patient_views(app: &TestApp) -> (usize, i64) {
    with_conn(app, |conn| {
        let entries: Vec<_> = store::audit::page(conn, 0, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "sheet.opened_by_patient")
            .collect();
        (entries.len(), entries.iter().map(|e| e.times).sum())
    })
    .await
}

/// Waits (5 s at most) until the log holds `entries` entries of the patient's views counting
/// `views`: repeat views are written from memory within half a second.
async fn assert_patient_views(app: &TestApp, entries: usize, views: i64) {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(5);
    loop {
        let found = patient_views(app).await;
        if found == (entries, views) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "patient views (entries, views): {found:?}, expected {:?}",
            (entries, views)
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn patient_of(app: &TestApp, treatment: i64) -> i64 {
    with_conn(app, move |conn| {
        store::treatments::find(conn, treatment)
            .unwrap()
            .unwrap()
            .patient_id
    })
    .await
}

async fn a_patients_views_in_an_hour_are_one_audit_entry_with_their_count(app: TestApp) {
    let (_, treatment, link) = maya_treated(&app).await;
    let patient = patient_of(&app, treatment).await;
    let anonymous = new_client();
    for _ in 0..3 {
        let r = anonymous.get(&link).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_patient_views(&app, 1, 3).await;

    // The audit log and the patient's export show the three.
    let admin = app.signed_in("admin").await;
    let page = app
        .get_text_with(&admin, "/admin/audit?what=sheet.opened_by_patient")
        .await;
    assert!(page.contains("× 3 in the hour"), "{page}");
    let export: serde_json::Value = serde_json::from_str(
        &app.get_text_with(&admin, &format!("/patients/{patient}/export"))
            .await,
    )
    .unwrap();
    let opened: Vec<&serde_json::Value> = export["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sheet.opened_by_patient")
        .collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["times"], 3);
    assert_eq!(opened[0]["ip"], "127.0.0.1");

    // The next hour has an entry of its own.
    app.clock.advance(Duration::hours(1));
    let r = anonymous.get(&link).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_patient_views(&app, 2, 4).await;

    // Erasure covers them: no address of the patient's stays, and the link closes at once.
    let r = app
        .post_form_with(
            &admin,
            &format!("/patients/{patient}/erase"),
            &[("confirm_name", "Maya Patel")],
        )
        .await;
    assert_redirect_to(&r, &format!("/patients/{patient}"));
    let addresses: Vec<String> = with_conn(&app, |conn| {
        store::audit::page(conn, 0, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "sheet.opened_by_patient")
            .map(|e| e.ip)
            .collect()
    })
    .await;
    assert_eq!(addresses, ["", ""]);
    let r = anonymous.get(&link).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

async fn the_link_shows_a_change_made_here_at_once_and_one_made_elsewhere_within_a_second(
    app: TestApp,
) {
    let (practitioner, treatment, link) = maya_treated(&app).await;
    let patient = patient_of(&app, treatment).await;
    let anonymous = new_client();
    let sheet = || async {
        let r = anonymous.get(&link).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert!(sheet().await.1.contains("Maya Patel"));

    // Renamed through this process: the next view shows it.
    let r = app
        .post_form_with(
            &practitioner,
            &format!("/patients/{patient}/edit"),
            &[("name", "Maya Shah"), ("email", "maya@example.com")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // The change count is the process's, and other tests run in this one: a change any of
    // them makes from this view on rightly ends the moment, so only a quiet process proves it.
    let changes = aftercare::usecases::sheet_inputs::changes();
    assert!(sheet().await.1.contains("Maya Shah"));

    // Renamed elsewhere (another instance, the command line): straight into the database.
    let rename = format!(
        "UPDATE patients SET name = 'Maya Jones', version = version + 1 WHERE id = {patient}"
    );
    with_conn(&app, move |conn| match conn {
        store::DbConn::Sqlite(c) => diesel::RunQueryDsl::execute(diesel::sql_query(&rename), c),
        store::DbConn::Pg(c) => diesel::RunQueryDsl::execute(diesel::sql_query(&rename), c),
    })
    .await
    .unwrap();
    let (_, within) = sheet().await;
    let quiet = aftercare::usecases::sheet_inputs::changes() == changes;
    assert!(
        within.contains("Maya Shah") || !quiet,
        "the versions read are trusted for a moment"
    );
    app.clock
        .pass(aftercare::web::sheet_cache::VERSIONS_FRESH_FOR);
    assert!(sheet().await.1.contains("Maya Jones"), "and no longer");

    // Deleted through this process: the link closes at once.
    let r = app
        .post_form_with(
            &practitioner,
            &format!("/treatments/{treatment}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(sheet().await.0, 404);
}

async fn pages_are_compressed_and_assets_fingerprinted(app: TestApp) {
    let (_, _, link) = maya_treated(&app).await;
    let plain = new_client().get(&link).send().await.unwrap();
    let html = plain.text().await.unwrap();
    for encoding in ["gzip", "br"] {
        let r = new_client()
            .get(&link)
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], encoding);
        assert_eq!(r.headers()["vary"], "accept-encoding");
        let body = r.bytes().await.unwrap();
        let size = body.len();
        assert!(
            size < 20_000 && size < html.len() / 2,
            "{encoding}: {size} bytes"
        );
        // Compressed once, not twice: it decodes to the very page.
        let mut decoded = String::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut decoded),
            _ => brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut decoded),
        }
        .unwrap();
        assert_eq!(decoded, html, "{encoding}");
    }
    // The stylesheet's name carries its fingerprint, cached for a year.
    let css = html
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|p| p.ends_with(".css")))
        .unwrap()
        .to_string();
    assert!(
        css.starts_with("/static/app.") && css.len() > "/static/app.css".len(),
        "{css}"
    );
    let r = app.get(&css).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let tampered = css.replace("/static/app.", "/static/app.0");
    assert_eq!(app.get(&tampered).await.status().as_u16(), 404);
}

async fn calendar_files_parse_and_match_the_plan(app: TestApp) {
    let (_, treatment, link) = maya_treated(&app).await;
    let plan = plan_of(&app, treatment).await;
    let sheet = text_at(&new_client(), &link).await;
    let sheet_links_to = |url: &str| sheet.contains(&format!("href=\"{url}\""));
    let fetch = |file: &'static str| {
        let url = format!("{link}/{file}");
        async move {
            assert!(sheet_links_to(&url), "no link");
            let r = new_client().get(&url).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{url}");
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar"));
            r.text().await.unwrap()
        }
    };

    // The next-session window: all-day, from its first day to the day after its last.
    let text = fetch("next-session.ics").await;
    let calendar: icalendar::Calendar = text.parse().unwrap();
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), 1);
    let window = events[0];
    assert_eq!(
        window.get_start(),
        Some(DatePerhapsTime::Date(plan.next_session.from))
    );
    assert_eq!(
        window.get_end(),
        Some(DatePerhapsTime::Date(
            plan.next_session.to + Duration::days(1)
        ))
    );
    let uid = window.get_uid().unwrap().to_string();
    assert!(
        uid.starts_with(&format!("treatment-{treatment}-next-session@")),
        "{uid}"
    );
    // The same file again: the same UID, so calendar apps update rather than duplicate.
    let again: icalendar::Calendar = fetch("next-session.ics").await.parse().unwrap();
    assert_eq!(again.events().next().unwrap().get_uid(), Some(uid.as_str()));

    // The actives: one event each, on its day, in the clinic's zone, which the file defines.
    let text = fetch("actives.ics").await;
    let calendar: icalendar::Calendar = text.parse().unwrap();
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), plan.actives.len());
    assert!(!events.is_empty());
    for (event, active) in events.iter().zip(&plan.actives) {
        match event.get_start() {
            Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => {
                assert_eq!(date_time.date(), active.from, "{}", active.name);
                assert_eq!(tzid, "Europe/London");
            }
            other => panic!("{}: {other:?}", active.name),
        }
        assert!(event.get_summary().unwrap().contains(&active.name));
    }
    let raw = icalendar::parser::unfold(&text);
    let parsed = icalendar::parser::read_calendar(&raw).unwrap();
    let zone = parsed
        .components
        .iter()
        .find(|c| c.name == "VTIMEZONE")
        .expect("a VTIMEZONE");
    assert!(zone
        .properties
        .iter()
        .any(|p| p.name == "TZID" && p.val == "Europe/London"));
    assert!(!zone.components.is_empty());
    assert!(text.contains("\r\n"), "CRLF line ends");

    // An unknown file is 404.
    let other = new_client().get(format!("{link}/other.ics")).send();
    assert_eq!(other.await.unwrap().status().as_u16(), 404);
}

crate::on_both_databases!(
    record_and_print_lands_on_the_sheet_ready_to_print,
    send_now_queues_one_email_per_click_and_none_without_consent,
    the_sheet_has_a_strong_etag_that_edits_and_settings_change,
    a_patients_views_in_an_hour_are_one_audit_entry_with_their_count,
    the_link_shows_a_change_made_here_at_once_and_one_made_elsewhere_within_a_second,
    pages_are_compressed_and_assets_fingerprinted,
    calendar_files_parse_and_match_the_plan,
);
