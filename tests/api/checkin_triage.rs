//! Check-in triage (#22): nothing a patient says is lost, a "normal" sign past its window is
//! never called common, the result and its reason are stored apart from the answers and
//! shown to staff, the done page says who reads the answer and when, and a check-in that
//! waits past the clinic's reply time reminds the clinic once.

use aftercare::clock::Clock;
use aftercare::store::checkins::{CheckinRow, TriageRow};
use chrono::{Duration, NaiveDate};

use crate::checkins::{clinic, clinic_treated_at, Clinic, CLINIC_EMAIL};
use crate::helpers::*;

const REMINDER_SUBJECT: &str = "A check-in is still waiting for a reply";

/// Each check-in of the clinic's treatment with its stored triage, oldest first.
async fn stored(c: &Clinic) -> Vec<(CheckinRow, TriageRow)> {
    let treatment = c.treatment;
    with_conn(&c.app, move |conn| {
        aftercare::store::checkins::for_treatment(conn, treatment).unwrap()
    })
    .await
    .into_iter()
    .map(|(row, triage, _)| (row, triage))
    .collect()
}

/// Today's date in the clinic's zone (Europe/London) by the app's clock.
fn clinic_today(c: &Clinic) -> NaiveDate {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    c.app.clock.now().with_timezone(&tz).date_naive()
}

/// The emails the clinic got with this subject.
fn to_the_clinic(c: &Clinic, subject: &str) -> Vec<crate::smtp_sink::Received> {
    c.sink
        .received()
        .into_iter()
        .filter(|m| m.rcpt_to == vec![CLINIC_EMAIL.to_string()])
        .filter(|m| m.subject().as_deref() == Some(subject))
        .collect()
}

/// What the done page says about who reads the answer: the opening hours from the clinic's
/// settings, that the form is not watched out of hours, and where to turn then.
fn says_who_reads_it(page: &str) {
    assert!(page.contains("Who reads your answer, and when"), "{page}");
    assert!(page.contains(
        "The team at Glow Clinic reads answers when the clinic is open: Mon to Fri, 9:00 to 17:00."
    ));
    assert!(page.contains("No one watches this form when the clinic is closed."));
    assert!(page.contains("If you need help then: NHS 111"));
    assert!(page.contains("In an emergency, call 999."));
}

async fn as_expected_with_a_worrying_note_reaches_needs_attention(app: TestApp) {
    let c = clinic(app).await;
    // "As expected" alone needs no one, and the page says so.
    let r = c.send(&[("answer", "fine")], None).await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    says_who_reads_it(&page);
    assert!(page.contains("Your answer does not need a reply."));

    let note = "Fine mostly, but there is a small blister on my lip";
    let r = c.send(&[("answer", "fine"), ("note", note)], None).await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Thank you. The clinic will read your answer"));
    says_who_reads_it(&page);
    assert!(page.contains("They aim to reply within 1 working day."));
    assert!(!page.contains("does not need a reply"));

    // Stored apart from the answers: the result, the rule that decided it, the version.
    let rows = stored(&c).await;
    assert_eq!(rows.len(), 2);
    let (quiet, noted) = (&rows[0], &rows[1]);
    assert_eq!(
        (quiet.1.result.as_str(), quiet.1.rule.as_str()),
        ("none", "")
    );
    assert_eq!(
        (noted.0.answer.as_str(), noted.0.note.as_str()),
        ("fine", note)
    );
    assert_eq!(
        (noted.1.result.as_str(), noted.1.rule.as_str()),
        ("to-review", "free text")
    );
    assert!(!noted.1.protocol_version.is_empty());
    // No alert email for it, but its reply-time reminder waits.
    assert_eq!(count_rows(&c.app, "checkin_alerts").await, 0);
    assert_eq!(
        scalar(
            &c.app,
            "SELECT count(*) FROM checkin_overdue WHERE status = 'pending'"
        )
        .await,
        1
    );

    // Staff see it under Needs attention, with why; the quiet one is not there.
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert_eq!(list.matches("class=\"acknowledge\"").count(), 1);
    assert!(list.contains("Maya Patel") && list.contains(note));
    assert!(list.contains("To review") && list.contains("Why: <strong>free text</strong>"));
    assert!(list.contains("Reply by "));
    let home = c.app.get_text_with(&c.staff, "/").await;
    assert!(home.contains("<span class=\"count\" aria-label=\"1 waiting\">1</span>"));
    // The treatment's page shows the reason too.
    let page = c
        .app
        .get_text_with(&c.practitioner, &format!("/treatments/{}", c.treatment))
        .await;
    assert!(page.contains("Why: <strong>free text</strong>"));

    // A photo alone, and "Not sure" alone, are to review as well.
    let photo = crate::checkins::photo_with_location();
    c.send(&[("answer", "fine")], Some(&photo)).await;
    c.app.clock.advance(Duration::minutes(61));
    c.send(&[("answer", "unsure")], None).await;
    let rules: Vec<_> = stored(&c)
        .await
        .into_iter()
        .map(|(_, t)| (t.result, t.rule))
        .collect();
    assert_eq!(
        rules[2..],
        [
            ("to-review".to_string(), "photo".to_string()),
            ("to-review".to_string(), "answer unsure".to_string())
        ]
    );
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert_eq!(list.matches("class=\"acknowledge\"").count(), 3);
}

async fn a_check_in_waiting_past_the_reply_time_reminds_the_clinic_once(app: TestApp) {
    let c = clinic(app).await;
    let sent_at = c.app.clock.now();
    c.send(
        &[("answer", "worried"), ("note", "Itchy spots on my cheek")],
        None,
    )
    .await;
    // Within the reply time (one working day, at least 24 hours): nothing.
    c.clock.set(sent_at + Duration::hours(23));
    c.worker.drain().await.unwrap();
    assert!(to_the_clinic(&c, REMINDER_SUBJECT).is_empty());
    // Past it (a working day is at most 3 calendar days later, over a weekend): one email.
    c.clock.set(sent_at + Duration::days(4));
    c.worker.drain().await.unwrap();
    let reminders = to_the_clinic(&c, REMINDER_SUBJECT);
    assert_eq!(reminders.len(), 1);
    let text = reminders[0].text_part("text/plain").unwrap();
    let html = reminders[0].text_part("text/html").unwrap();
    assert!(text.contains(&format!("{}/attention", c.app.state.links.base_url)));
    for detail in ["Maya", "Patel", "Itchy", "cheek", "spots"] {
        assert!(
            !text.contains(detail) && !html.contains(detail),
            "the reminder mentions {detail}"
        );
    }
    // Never twice: later rounds, even with the lease long gone, send nothing more.
    for days in [5, 12] {
        c.clock.set(sent_at + Duration::days(days));
        c.worker.drain().await.unwrap();
    }
    assert_eq!(to_the_clinic(&c, REMINDER_SUBJECT).len(), 1);
    assert_eq!(c.alerts_to_the_clinic().await, 1, "and no alert either");
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(list.contains("reminder email to the clinic: <span class=\"status status-sent\">sent"));

    // A second one, acknowledged within the reply time: no reminder, ever.
    c.app.clock.advance(Duration::hours(2));
    c.send(&[("answer", "unsure")], None).await;
    let id = scalar(
        &c.app,
        "SELECT max(id) FROM checkins WHERE answer = 'unsure'",
    )
    .await;
    let r = c
        .app
        .post_form_with(
            &c.staff,
            &format!("/attention/{id}/acknowledge"),
            &[("note", "Called her: all fine")],
        )
        .await;
    assert_redirect_to(&r, "/attention");
    c.clock.set(c.app.clock.now() + Duration::days(10));
    c.worker.drain().await.unwrap();
    assert_eq!(to_the_clinic(&c, REMINDER_SUBJECT).len(), 1);
    assert_eq!(
        scalar(
            &c.app,
            &format!("SELECT count(*) FROM checkin_overdue WHERE checkin_id = {id} AND status = 'cancelled'")
        )
        .await,
        1
    );
}

async fn the_reply_time_is_a_clinic_setting_checked_beside_its_field(app: TestApp) {
    let c = clinic(app).await;
    let admin = c.app.signed_in("admin").await;
    let form = c.app.get_text_with(&admin, "/admin/clinic").await;
    assert!(form.contains("Reply to check-ins within (working days)"));
    assert!(form.contains("name=\"reply_days\" type=\"number\" value=\"1\""));
    let settings = |days: &'static str| {
        vec![
            ("name", "Glow Clinic"),
            ("phone", "020 7946 0000"),
            ("email", CLINIC_EMAIL),
            ("opening_hours", "Mon to Fri, 9:00 to 17:00"),
            ("out_of_hours", "NHS 111"),
            ("time_zone", "Europe/London"),
            ("send_hour", "9"),
            ("sender_email", "aftercare@glow.example"),
            ("reply_days", days),
        ]
    };
    let r = c
        .app
        .post_form_with(&admin, "/admin/clinic", &settings("0"))
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains(
        "<p class=\"error\" id=\"reply_days-error\">Enter a whole number of working days from 1 to 10, like 1.</p>"
    ));
    assert!(
        page.contains("name=\"reply_days\" type=\"number\" value=\"0\""),
        "as typed"
    );
    let r = c
        .app
        .post_form_with(&admin, "/admin/clinic", &settings("3"))
        .await;
    assert_redirect_to(&r, "/admin/clinic");
    let form = c.app.get_text_with(&admin, "/admin/clinic").await;
    assert!(form.contains("name=\"reply_days\" type=\"number\" value=\"3\""));
    // Patients are told it.
    let page = c
        .send(&[("answer", "worried")], None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("They aim to reply within 3 working days."));
}

/// The check-in page names the right patient and their day of healing, counted in the
/// clinic's zone from the treatment's local date.
async fn the_check_in_names_the_patient_and_their_day(app: TestApp) {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let today = app.clock.now().with_timezone(&tz).date_naive();
    let treated = today - Duration::days(2);
    let c = clinic_treated_at(app, &format!("{treated}T23:30"), "1.0").await;
    let day = clinic_today(&c).signed_duration_since(treated).num_days();
    assert_eq!(day, 2);
    let form = c.app.get_text(&c.checkin_path()).await;
    assert!(form.contains(&format!(
        "Hello Maya. Today is day {day} after your treatment on {}.",
        treated.format("%A %-d %B %Y")
    )));
    let page = c
        .send(&[("answer", "unsure")], None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("What is normal on day {day}")));
    assert_eq!(stored(&c).await[0].0.day as i64, day);
}

crate::on_both_databases!(
    as_expected_with_a_worrying_note_reaches_needs_attention,
    a_check_in_waiting_past_the_reply_time_reminds_the_clinic_once,
    the_reply_time_is_a_clinic_setting_checked_beside_its_field,
    the_check_in_names_the_patient_and_their_day,
);
