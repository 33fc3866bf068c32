//! Patient check-ins: the link from a real reminder email, triage on the page,
//! the clinic's alert email (once), Needs attention, photos and the limits.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aftercare::jobs::{ManualClock, Worker};
use aftercare::mail::Mailer;
use chrono::{Duration, Utc};

use crate::helpers::*;
use crate::smtp_sink::{SmtpSink, TestCa, TlsMode};

pub(crate) const CLINIC_EMAIL: &str = "desk@glow.example";

pub(crate) struct Clinic {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) worker: Worker,
    pub(crate) staff: reqwest::Client,
    pub(crate) practitioner: reqwest::Client,
    pub(crate) treatment: i64,
}

/// A configured clinic (phone, hours, address for alerts), a worker sending to a
/// real SMTP sink on its own clock, and a face treatment done an hour ago.
pub(crate) async fn clinic(app: TestApp) -> Clinic {
    let when = clinic_time(-Duration::hours(1));
    clinic_treated_at(app, &when, "1.0").await
}

/// The same, with the cheeks treated at `when` (clinic time, as the form takes it) to `depth` mm.
pub(crate) async fn clinic_treated_at(app: TestApp, when: &str, depth: &str) -> Clinic {
    app.configure_clinic("Glow Clinic", CLINIC_EMAIL).await;
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock.clone());
    let practitioner = app.signed_in("practitioner").await;
    let (_, treatment) = app
        .patient_with_treatment(
            &practitioner,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", when),
                ("area_0", "cheeks"),
                ("depth_0", depth),
            ],
        )
        .await;
    let staff = app.signed_in("staff").await;
    Clinic {
        app,
        sink,
        clock,
        worker,
        staff,
        practitioner,
        treatment,
    }
}

/// A multipart/form-data body, as a browser sends the check-in form.
pub(crate) fn multipart(fields: &[(&str, &str)], photo: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "----aftercare-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{}\"\r\n\
             Content-Type: image/jpeg\r\n\r\n",
            if photo.is_some() { "skin.jpg" } else { "" }
        )
        .as_bytes(),
    );
    body.extend_from_slice(photo.unwrap_or_default());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Clinic {
    pub(crate) fn checkin_path(&self) -> String {
        let url = self.app.state.links.checkin(self.treatment);
        url[url.find("/checkin/").unwrap()..].to_string()
    }

    /// Opens the form as the patient does and sends it with these answers.
    pub(crate) async fn send(
        &self,
        fields: &[(&str, &str)],
        photo: Option<&[u8]>,
    ) -> reqwest::Response {
        let patient = new_client();
        let path = self.checkin_path();
        let html = self.app.get_text_with(&patient, &path).await;
        let key = hidden_value(&html, "form_key").expect("the form has its key");
        let mut all = vec![("form_key", key.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart(&all, photo);
        patient
            .post(self.app.url(&path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The patient's day of healing now: local calendar days in the clinic's zone
    /// (Europe/London) from the treatment's local date, as stored.
    pub(crate) async fn day_today(&self) -> i64 {
        use aftercare::clock::Clock;
        let treatment = self.treatment;
        let treated = with_conn(&self.app, move |conn| {
            aftercare::usecases::store::treatments::find(conn, treatment)
                .unwrap()
                .unwrap()
        })
        .await;
        let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
        let today = self.app.clock.now().with_timezone(&tz).date_naive();
        // The stored UTC moment, seen in the clinic's zone, is on the stored local date.
        let local = treated
            .treated_at
            .and_utc()
            .with_timezone(&tz)
            .naive_local();
        assert_eq!(local, treated.treated_at_local);
        today.signed_duration_since(local.date()).num_days()
    }

    pub(crate) async fn alerts_to_the_clinic(&self) -> usize {
        self.sink
            .received()
            .iter()
            .filter(|m| m.rcpt_to == vec![CLINIC_EMAIL.to_string()])
            .count()
    }
}

/// A small JPEG carrying an EXIF segment with a GPS position, as phones write it.
pub(crate) fn photo_with_location() -> Vec<u8> {
    let mut plain = Vec::new();
    let img = image::RgbImage::from_pixel(16, 16, image::Rgb([210, 140, 120]));
    image::codecs::jpeg::JpegEncoder::new(&mut plain)
        .encode_image(&img)
        .unwrap();
    let payload = b"Exif\0\0GPSLatitude 51.5074 N GPSLongitude 0.1278 W";
    let len = (payload.len() + 2) as u16;
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn a_checkin_link_from_a_reminder_email_opens_the_form_and_records_nothing(app: TestApp) {
    let c = clinic(app).await;
    // The evening email goes out; its answers link to the check-in page.
    let treatment = c.treatment;
    let first = with_conn(&c.app, move |conn| {
        aftercare::usecases::store::reminders::for_treatment(conn, treatment).unwrap()
    })
    .await
    .remove(0);
    c.clock.set(first.send_at.and_utc() + Duration::minutes(1));
    assert!(c.worker.drain().await.unwrap().sent >= 1);
    let mail = c
        .sink
        .wait_for(1, StdDuration::from_secs(5))
        .await
        .remove(0);
    let text = mail.text_part("text/plain").unwrap();
    let html = mail.text_part("text/html").unwrap();
    assert!(text.contains("HOW IS YOUR SKIN TODAY?") && html.contains("How is your skin today?"));
    // Read on a phone: the sheet's button comes before the day's advice, and the clinic's
    // phone is a link to tap.
    let button = html
        .find(">Open your aftercare sheet<")
        .expect("the sheet's button");
    assert!(button < html.find("Where you are now").expect("the day's advice"));
    assert!(html.contains("<a href=\"tel:02079460000\""), "{html}");
    let worried = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Worried: "))
        .expect("a Worried link")
        .to_string();
    assert!(worried.contains("/checkin/") && worried.ends_with("?answer=worried"));

    // Opening it (as a mail scanner would) shows the form with the answer chosen…
    let patient = new_client();
    let r = patient.get(&worried).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-robots-tag"], "noindex, nofollow");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"answer-worried\" value=\"worried\" checked"));
    assert!(page.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
    // …with the plan's red flags by group and the normal signs to tick, and labels for each.
    assert!(page.contains("name=\"item\" value=\"emergency-0\""));
    assert!(page.contains("name=\"item\" value=\"call-now-0\""));
    assert!(page.contains("name=\"item\" value=\"normal-redness\""));
    assert!(page.contains("<label for=\"note\">") && page.contains("<label for=\"photo\">"));
    // …and records nothing.
    assert_eq!(count_rows(&c.app, "checkins").await, 0);

    // The online sheet asks too.
    let sheet = link_in(&text, "/s/");
    let sheet = patient
        .get(&sheet)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sheet.contains("How is your skin today?") && sheet.contains("/checkin/"));
    assert!(sheet.contains("?answer=unsure"));
}

async fn worried_with_an_emergency_item_shows_the_emergency_number_and_alerts_once(app: TestApp) {
    let c = clinic(app).await;
    let r = c
        .send(&[("answer", "worried"), ("item", "emergency-0")], None)
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("<h1>Call 999 now</h1>"), "{page}");
    assert!(page.contains("class=\"big-number\"><a href=\"tel:999\">999</a>"));
    assert!(page.contains("020 7946 0000"));
    assert!(!page.to_lowercase().contains("nothing to worry"));

    // One alert email to the clinic's address, with no health details.
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 1);
    let sent = c.worker.drain().await.unwrap();
    assert_eq!(sent.sent, 1, "{sent:?}");
    let mail = c
        .sink
        .wait_for(1, StdDuration::from_secs(5))
        .await
        .remove(0);
    assert_eq!(mail.rcpt_to, vec![CLINIC_EMAIL.to_string()]);
    assert_eq!(mail.subject().unwrap(), "A patient asked for help");
    let text = mail.text_part("text/plain").unwrap();
    assert!(text.contains(&format!("{}/attention", c.app.state.links.base_url)));
    let html = mail.text_part("text/html").unwrap();
    for detail in ["Maya", "Patel", "Swelling", "breathing", "999"] {
        assert!(
            !text.contains(detail)
                && !html.contains(detail)
                && !mail.subject().unwrap().contains(detail),
            "the alert mentions {detail}"
        );
    }
    // Exactly once: later rounds send nothing more.
    c.clock.advance(Duration::minutes(10));
    c.worker.drain().await.unwrap();
    assert_eq!(c.alerts_to_the_clinic().await, 1);

    // A call-now answer: the clinic's phone, out of hours, told, and when it answers.
    let page = c
        .send(&[("answer", "worried"), ("item", "call-now-3")], None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Please call the clinic now"));
    assert!(page.contains("tel:02079460000") && page.contains("NHS 111"));
    assert!(page.contains("The clinic has been told"));
    assert!(page.contains("Mon to Fri, 9:00 to 17:00"));
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 2);
}

async fn only_signs_normal_today_are_called_common_and_raise_no_alert(app: TestApp) {
    let c = clinic(app).await;
    let day = c.day_today().await;
    // "As expected" with a sign inside its window: common on this day, nobody needs to act.
    let r = c
        .send(&[("answer", "fine"), ("item", "normal-tight")], None)
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!(
        "What you ticked is common on day {day} of healing"
    )));
    // The standard band's tight feeling lasts to day 5.
    assert!(page.contains("A tight feeling. It usually goes by day 5."));
    assert!(page.contains(&format!("What is normal on day {day}")));
    assert!(page.contains("When to get help") && page.contains("Call 999 straight away"));
    assert!(!page.to_lowercase().contains("nothing to worry"));
    assert!(!page.contains("The clinic has been told"));
    assert!(c
        .app
        .get_text_with(&c.staff, "/attention")
        .await
        .contains("Nothing needs attention"));
    // "Not sure" with the same sign and a note: the clinic reads it; the sign is still
    // common on its day, and no alert email goes.
    let r = c
        .send(
            &[
                ("answer", "unsure"),
                ("item", "normal-tight"),
                ("note", "Feels tight"),
            ],
            None,
        )
        .await;
    let page = r.text().await.unwrap();
    assert!(page.contains("Thank you. The clinic will read your answer"));
    assert!(page.contains(&format!(
        "What you ticked is common on day {day} of healing"
    )));
    assert_eq!(count_rows(&c.app, "checkins").await, 2);
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 0);
    c.worker.drain().await.unwrap();
    assert_eq!(c.alerts_to_the_clinic().await, 0);
}

async fn staff_see_it_under_needs_attention_and_acknowledge_it(app: TestApp) {
    let c = clinic(app).await;
    let home = c.app.get_text_with(&c.staff, "/").await;
    assert!(
        home.contains("Needs attention</a>"),
        "no count when nothing waits"
    );
    c.send(
        &[
            ("answer", "worried"),
            ("item", "call-now-2"),
            ("note", "Yellow spots since this morning"),
        ],
        None,
    )
    .await;
    // An "as expected" answer is recorded but needs no one.
    c.send(&[("answer", "fine")], None).await;
    let home = c.app.get_text_with(&c.staff, "/").await;
    let count = "<span class=\"count\" aria-label=\"1 waiting\">1</span>";
    assert!(home.contains(count));
    // A form shown again with its errors (a POST's page) has the count too.
    let again = c
        .app
        .post_form_with(&c.staff, "/patients/new", &[("name", "")])
        .await;
    assert_eq!(again.status().as_u16(), 422);
    assert!(again.text().await.unwrap().contains(count));
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(list.contains("Maya Patel") && list.contains("Yellow spots since this morning"));
    assert!(list.contains("Pus, or spots that spread"));
    // The front desk calls back from the list: the patient's phone is a link to tap.
    let patient = scalar(
        &c.app,
        &format!(
            "SELECT patient_id FROM treatments WHERE id = {}",
            c.treatment
        ),
    )
    .await;
    let r = c
        .app
        .post_form_with(
            &c.staff,
            &format!("/patients/{patient}/edit"),
            &[
                ("name", "Maya Patel"),
                ("email", "maya@example.com"),
                ("email_consent", "yes"),
                ("phone", "+44 7700 900123"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "the phone is saved");
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(
        list.contains("Call: <a class=\"tel\" href=\"tel:+447700900123\">+44 7700 900123</a>"),
        "the card has no link to call the patient"
    );
    assert_eq!(list.matches("class=\"acknowledge\"").count(), 1);
    let id = scalar(
        &c.app,
        "SELECT max(id) FROM checkins WHERE answer = 'worried'",
    )
    .await;

    // Visitors are sent to sign in.
    assert_eq!(c.app.get("/attention").await.status().as_u16(), 303);
    // A note is required.
    let path = format!("/attention/{id}/acknowledge");
    c.app
        .post_form_with(&c.staff, &path, &[("note", " ")])
        .await;
    assert!(c
        .app
        .get_text_with(&c.staff, "/attention")
        .await
        .contains("Yellow spots"));
    let r = c
        .app
        .post_form_with(
            &c.staff,
            &path,
            &[("note", "Called her, visit booked for 3pm")],
        )
        .await;
    assert_redirect_to(&r, "/attention");
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(list.contains("Nothing needs attention"));
    let actions = c.app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "checkin.recorded"));
    assert!(actions.iter().any(|a| a == "checkin.acknowledged"));
    // The treatment page keeps both answers as a timeline, with what was done.
    let page = c
        .app
        .get_text_with(&c.practitioner, &format!("/treatments/{}", c.treatment))
        .await;
    assert!(page.contains("<h2>Check-ins</h2>"));
    assert_eq!(page.matches("<li class=\"checkin checkin-").count(), 2);
    assert!(page.contains("Called her, visit booked for 3pm"));
}

async fn a_tampered_or_deleted_treatments_token_is_404(app: TestApp) {
    let c = clinic(app).await;
    let path = c.checkin_path();
    let flipped = if path.ends_with('A') { 'B' } else { 'A' };
    let tampered = format!("{}{flipped}", &path[..path.len() - 1]);
    assert_eq!(c.app.get(&tampered).await.status().as_u16(), 404);
    let (content_type, body) = multipart(&[("answer", "worried")], None);
    let r = c
        .app
        .client
        .post(c.app.url(&tampered))
        .header("content-type", content_type.clone())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The sheet's token does not open the check-in page.
    let sheet = c.app.state.links.sheet(c.treatment);
    let sheet_token = sheet.rsplit('/').next().unwrap();
    assert_eq!(
        c.app
            .get(&format!("/checkin/{sheet_token}"))
            .await
            .status()
            .as_u16(),
        404
    );
    // A POST without the form's key (a forged one) is refused.
    let r = c
        .app
        .client
        .post(c.app.url(&path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Nor is one with the right key sent from another site.
    let html = c.app.get_text(&path).await;
    let key = hidden_value(&html, "form_key").unwrap();
    let (content_type, body) = multipart(&[("form_key", &key), ("answer", "worried")], None);
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = c
            .app
            .client
            .post(c.app.url(&path))
            .header("content-type", content_type.clone())
            .header(header, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{header}: {value}");
    }
    assert_eq!(count_rows(&c.app, "checkins").await, 0);
    // Once the treatment is deleted its link is gone too.
    let r = c
        .app
        .post_form_with(
            &c.practitioner,
            &format!("/treatments/{}/delete", c.treatment),
            &[],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(c.app.get(&path).await.status().as_u16(), 404);
}

async fn a_photo_with_exif_location_comes_back_without_it(app: TestApp) {
    let c = clinic(app).await;
    let photo = photo_with_location();
    assert!(contains(&photo, b"GPSLatitude"));
    let r = c
        .send(
            &[("answer", "unsure"), ("item", "normal-redness")],
            Some(&photo),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let id = scalar(&c.app, "SELECT max(checkin_id) FROM checkin_photos").await;
    let path = format!("/checkins/{id}/photo");
    let r = c.app.get_with(&c.staff, &path).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let back = r.bytes().await.unwrap();
    assert!(!contains(&back, b"Exif") && !contains(&back, b"GPS"));
    let decoded = image::load_from_memory(&back).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (16, 16));
    // Only signed-in users see it.
    assert_eq!(c.app.get(&path).await.status().as_u16(), 303);
    assert!(c
        .app
        .get_text_with(&c.staff, "/attention")
        .await
        .contains(&format!("src=\"{path}\"")));

    // Kept for the retention setting (90 days), then housekeeping deletes it.
    c.clock.advance(Duration::days(89));
    assert_eq!(c.worker.housekeep().await.unwrap().photos, 0);
    c.clock.advance(Duration::days(2));
    assert_eq!(c.worker.housekeep().await.unwrap().photos, 1);
    // (Housekeeping far ahead also ended every session, so the table says it.)
    assert_eq!(count_rows(&c.app, "checkin_photos").await, 0);
    assert_eq!(count_rows(&c.app, "checkins").await, 1, "the answer stays");
}

async fn a_20_mb_upload_is_refused_with_a_clear_message_and_nothing_saved(app: TestApp) {
    let c = clinic(app).await;
    let mut huge = photo_with_location();
    huge.resize(20 * 1024 * 1024, 0);
    let r = c
        .send(
            &[("answer", "worried"), ("item", "emergency-0")],
            Some(&huge),
        )
        .await;
    assert_eq!(r.status().as_u16(), 413);
    let page = r.text().await.unwrap();
    assert!(page.contains("The photo is larger than 10 MB, so nothing was sent."));
    // The answer is still chosen, ready to send again.
    assert!(
        page.contains("value=\"worried\" checked")
            && page.contains("value=\"emergency-0\" id=\"item-emergency-0\" checked")
    );
    assert_eq!(count_rows(&c.app, "checkins").await, 0);
    assert_eq!(count_rows(&c.app, "checkin_photos").await, 0);
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 0);
    // A file that is no photo is refused by name, and nothing is kept either.
    let r = c
        .send(&[("answer", "unsure")], Some(b"%PDF-1.7 not a photo"))
        .await;
    assert_refused_saying(r, "Use a JPEG, PNG or WebP picture.").await;
    // So is a note past its limit.
    let long = "a".repeat(2001);
    let r = c
        .send(&[("answer", "unsure"), ("note", long.as_str())], None)
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(count_rows(&c.app, "checkins").await, 0);
}

async fn a_few_checkins_an_hour_at_most(app: TestApp) {
    let c = clinic(app).await;
    for _ in 0..3 {
        let r = c
            .send(&[("answer", "worried"), ("item", "call-now-0")], None)
            .await;
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = c
        .send(&[("answer", "worried"), ("item", "call-now-0")], None)
        .await;
    assert_eq!(r.status().as_u16(), 429);
    let page = r.text().await.unwrap();
    assert!(page.contains("several answers in the last hour, so this one was not saved"));
    assert!(page.contains("In an emergency, call 999."));
    assert_eq!(count_rows(&c.app, "checkins").await, 3);
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 3);
    c.app.clock.advance(Duration::minutes(61));
    let r = c.send(&[("answer", "fine")], None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(count_rows(&c.app, "checkins").await, 4);
}

/// An alert email meets a mail server whose certificate is not trusted: it waits,
/// not failed and its attempt not counted, and goes once the settings are fixed.
async fn an_alert_waits_out_wrong_mail_settings(app: TestApp) {
    let c = clinic(app).await;
    let untrusted = SmtpSink::start_tls(TlsMode::StartTls, &TestCa::new()).await;
    let wrong = Worker {
        mailer: Arc::new(Mailer::smtp(&untrusted.url()).unwrap()),
        ..c.worker.clone()
    };
    c.send(&[("answer", "worried"), ("item", "call-now-3")], None)
        .await;
    let report = wrong.drain().await.unwrap();
    assert!(report.held == 1 && report.paused, "{report:?}");
    let waiting = "SELECT count(*) FROM checkin_alerts WHERE status = 'pending' AND attempts = 0 \
                   AND last_error LIKE '%certificate is not trusted: invalid peer certificate: UnknownIssuer'";
    assert_eq!(scalar(&c.app, waiting).await, 1);
    // Fixed settings (here: the plain sink), a fresh worker: it goes at once.
    assert_eq!(c.worker.drain().await.unwrap().sent, 1);
    assert_eq!(c.alerts_to_the_clinic().await, 1);
}

crate::on_both_databases!(
    an_alert_waits_out_wrong_mail_settings,
    a_checkin_link_from_a_reminder_email_opens_the_form_and_records_nothing,
    worried_with_an_emergency_item_shows_the_emergency_number_and_alerts_once,
    only_signs_normal_today_are_called_common_and_raise_no_alert,
    staff_see_it_under_needs_attention_and_acknowledge_it,
    a_tampered_or_deleted_treatments_token_is_404,
    a_photo_with_exif_location_comes_back_without_it,
    a_20_mb_upload_is_refused_with_a_clear_message_and_nothing_saved,
    a_few_checkins_an_hour_at_most,
);
