//! Check-in triage (#22): nothing a patient says is lost, a "normal" sign past its window is
//! never called common, the result and its reason are stored apart from the answers and
//! shown to staff, the done page says who reads the answer and when, and a check-in that
//! waits past the clinic's reply time reminds the clinic once.

use aftercare::clock::Clock;
use aftercare::usecases::store::checkins::{CheckinRow, TriageRow};
use chrono::{Duration, NaiveDate};

use crate::checkins::{clinic, clinic_treated_at, Clinic, CLINIC_EMAIL};
use crate::helpers::*;

const REMINDER_SUBJECT: &str = "A check-in is still waiting for a reply";

/// Each check-in of the clinic's treatment with its stored triage, oldest first.
async fn stored(c: &Clinic) -> Vec<(CheckinRow, TriageRow)> {
    let treatment = c.treatment;
    with_conn(&c.app, move |conn| {
        aftercare::usecases::store::checkins::for_treatment(conn, treatment).unwrap()
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

/// The value of the checkbox whose label contains `text`.
fn item_id(form: &str, text: &str) -> String {
    let at = form
        .find(text)
        .unwrap_or_else(|| panic!("no box for {text:?}"));
    let marker = "name=\"item\" value=\"";
    let value = form[..at].rfind(marker).unwrap() + marker.len();
    form[value..].split('"').next().unwrap().to_string()
}

/// A standard treatment of the cheeks ten days ago, in the clinic's zone.
async fn ten_days_ago(app: TestApp) -> Clinic {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let today = app.clock.now().with_timezone(&tz).date_naive();
    let treated = today - Duration::days(10);
    clinic_treated_at(app, &format!("{treated}T11:00"), "1.0").await
}

async fn redness_on_day_10_is_never_called_common_and_reaches_needs_attention(app: TestApp) {
    let c = ten_days_ago(app).await;
    let day = c.day_today().await;
    assert_eq!(day, 10);
    let form = c.app.get_text(&c.checkin_path()).await;
    assert!(form.contains("Hello Maya. Today is day 10 after your treatment"));
    // Redness is no longer offered as normal, but as the red flag that names its last day,
    // among the "call the clinic" signs; no sign is normal for a standard treatment on day 10.
    assert!(!form.contains("value=\"normal-redness\""));
    assert!(!form.contains("Redness and warmth, like a mild sunburn"));
    assert!(!form.contains("Common and normal on day"));
    // One redness box, not two: the red flag wins over "still there after day 2".
    let flag =
        "Redness that has not faded by the end of day 2, or redness with swelling, pain or pus.";
    assert!(!form.contains("Redness or warmth that is still there after day 2"));
    assert!(!form.contains("value=\"past-redness\""));
    let boxes = form.split("name=\"item\"").skip(1);
    let redness: Vec<&str> = boxes
        .filter(|b| {
            let label = &b[..b.find("</label>").unwrap_or(b.len())];
            label.to_lowercase().contains("redness") && label.contains("day 2")
        })
        .collect();
    assert_eq!(redness.len(), 1, "one redness box past its window");
    let id = item_id(&form, flag);
    assert!(id.starts_with("call-now-"), "{id}");
    let call_now = form
        .find("fieldset class=\"flags flags-call-now\"")
        .unwrap();
    let fieldset_end = call_now + form[call_now..].find("</fieldset>").unwrap();
    assert!((call_now..fieldset_end).contains(&form.find(flag).unwrap()));
    // An old form's "normal" box, or its "still there" box, is not accepted.
    for old in ["normal-redness", "past-redness"] {
        let r = c.send(&[("answer", "fine"), ("item", old)], None).await;
        assert_eq!(r.status().as_u16(), 422, "{old}");
    }
    assert_eq!(count_rows(&c.app, "checkins").await, 0);

    let r = c.send(&[("answer", "fine"), ("item", &id)], None).await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Please call the clinic now"), "{page}");
    assert!(page.contains("The clinic has been told"));
    assert!(!page.contains("common on day"));
    assert!(page.contains("What is normal on day 10"));
    assert!(!page.contains("Redness and warmth, like a mild sunburn"));
    says_who_reads_it(&page);

    // Ticking it still triages as the red flag: call now, with an alert.
    let rows = stored(&c).await;
    assert_eq!(rows.len(), 1);
    let (answer, triage) = &rows[0];
    assert_eq!((answer.day, answer.urgency.as_str()), (10, "call-now"));
    assert_eq!(
        (triage.result.as_str(), triage.rule.clone()),
        ("call-now", format!("red flag {id}"))
    );
    c.worker.drain().await.unwrap();
    assert_eq!(c.alerts_to_the_clinic().await, 1);
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(list.contains("Maya Patel"));
    assert!(list.contains(&format!("Why: <strong>red flag {id}</strong>")));
    assert!(list.contains(&format!("(“{flag}”)")));
}

async fn a_cold_sore_tick_triages_as_call_the_clinic_and_alerts(app: TestApp) {
    // The cheeks, not the lips: every patient can tick it.
    let c = clinic(app).await;
    let form = c.app.get_text(&c.checkin_path()).await;
    let cold_sore = "Tingling, burning or small blisters on or near your lips";
    let id = item_id(&form, cold_sore);
    assert!(id.starts_with("call-now-"), "{id}");
    let page = c
        .send(&[("answer", "unsure"), ("item", &id)], None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Please call the clinic now"));
    assert!(page.contains("tel:02079460000") && page.contains("The clinic has been told"));
    let (_, triage) = &stored(&c).await[0];
    assert_eq!(
        (triage.result.as_str(), triage.rule.clone()),
        ("call-now", format!("red flag {id}"))
    );
    assert!(triage.reasons_json.contains(cold_sore));
    c.worker.drain().await.unwrap();
    assert_eq!(c.alerts_to_the_clinic().await, 1);
    let alert = &c.sink.received()[0];
    assert_eq!(alert.subject().unwrap(), "A patient asked for help");
    assert!(!alert.text_part("text/plain").unwrap().contains("blister"));
}

/// A plan stored before normal signs had windows: its old lines are offered, but a tick is
/// read by a clinician, never called common.
async fn an_old_plans_normal_lines_are_to_review_never_common(app: TestApp) {
    let c = ten_days_ago(app).await;
    let treatment = c.treatment;
    with_conn(&c.app, move |conn| {
        use aftercare::usecases::store::schema::treatments::dsl as t;
        use diesel::prelude::*;
        let plan: String = match conn {
            aftercare::usecases::store::DbConn::Sqlite(db) => {
                t::treatments.find(treatment).select(t::plan_json).first(db)
            }
            aftercare::usecases::store::DbConn::Pg(db) => {
                t::treatments.find(treatment).select(t::plan_json).first(db)
            }
        }
        .unwrap();
        let mut plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        let fields = plan.as_object_mut().unwrap();
        fields.remove("normal_signs");
        fields.insert(
            "normal".into(),
            serde_json::json!(["Redness and warmth for 1 to 3 days.", "A tight feeling."]),
        );
        let old = plan.to_string();
        let update = diesel::update(t::treatments.find(treatment)).set(t::plan_json.eq(old));
        match conn {
            aftercare::usecases::store::DbConn::Sqlite(db) => update.execute(db),
            aftercare::usecases::store::DbConn::Pg(db) => update.execute(db),
        }
        .unwrap();
    })
    .await;
    let form = c.app.get_text(&c.checkin_path()).await;
    assert!(form.contains("Common while your skin heals:"));
    assert_eq!(
        item_id(&form, "Redness and warmth for 1 to 3 days."),
        "normal-0"
    );
    let page = c
        .send(&[("answer", "fine"), ("item", "normal-0")], None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Thank you. The clinic will read your answer"));
    assert!(!page.contains("common on day"));
    let (_, triage) = &stored(&c).await[0];
    assert_eq!(
        (triage.result.as_str(), triage.rule.as_str()),
        ("to-review", "normal sign normal-0 without a window")
    );
    let list = c.app.get_text_with(&c.staff, "/attention").await;
    assert!(list.contains("Why: <strong>normal sign normal-0 without a window</strong>"));
}

crate::on_both_databases!(
    as_expected_with_a_worrying_note_reaches_needs_attention,
    a_check_in_waiting_past_the_reply_time_reminds_the_clinic_once,
    the_reply_time_is_a_clinic_setting_checked_beside_its_field,
    the_check_in_names_the_patient_and_their_day,
    redness_on_day_10_is_never_called_common_and_reaches_needs_attention,
    a_cold_sore_tick_triages_as_call_the_clinic_and_alerts,
    an_old_plans_normal_lines_are_to_review_never_common,
);
