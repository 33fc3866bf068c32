//! Reminder emails: the outbox, the worker with a moved clock, real SMTP on
//! loopback, retries, failures, unsubscribes, edits and deletes.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aftercare::jobs::{ManualClock, Worker, WorkerConfig};
use aftercare::mail::Mailer;
use aftercare::usecases::store::{self, reminders::ReminderRow};
use chrono::{DateTime, Duration, Utc};

use crate::helpers::*;
use crate::smtp_sink::{Received, SmtpSink};

pub(crate) struct Mailroom {
    pub app: TestApp,
    pub sink: SmtpSink,
    pub clock: Arc<ManualClock>,
    pub worker: Worker,
    pub staff: reqwest::Client,
}

fn worker(app: &TestApp, mailer: Mailer, clock: Arc<ManualClock>) -> Worker {
    let worker = app.worker_with(mailer, clock);
    Worker {
        config: WorkerConfig {
            max_attempts: 3,
            ..worker.config.clone()
        },
        ..worker
    }
}

pub(crate) async fn mailroom(app: TestApp) -> Mailroom {
    let sink = SmtpSink::start().await;
    // The worker's own clock: moving it far ahead leaves the app's sessions alone.
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = worker(&app, Mailer::smtp(&sink.url()).unwrap(), clock.clone());
    let staff = app.signed_in("staff").await;
    Mailroom {
        app,
        sink,
        clock,
        worker,
        staff,
    }
}

/// A practitioner records a face treatment done an hour ago for a patient who
/// consented to emails; returns (patient id, treatment id).
async fn recorded_treatment(app: &TestApp, areas: &[(&str, &str)]) -> (i64, i64) {
    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let names: Vec<(String, String)> = (0..areas.len())
        .map(|i| (format!("area_{i}"), format!("depth_{i}")))
        .collect();
    let mut fields = vec![("treated_at", when.as_str())];
    for ((area, depth), (area_field, depth_field)) in areas.iter().zip(&names) {
        fields.push((area_field, area));
        fields.push((depth_field, depth));
    }
    app.patient_with_treatment(&practitioner, "Maya Patel", "maya@example.com", &fields)
        .await
}

pub(crate) async fn rows(app: &TestApp, treatment: i64) -> Vec<ReminderRow> {
    with_conn(app, move |conn| {
        store::reminders::for_treatment(conn, treatment).unwrap()
    })
    .await
}

fn pending(rows: &[ReminderRow]) -> Vec<&ReminderRow> {
    rows.iter().filter(|r| r.status == "pending").collect()
}

fn at(row: &ReminderRow) -> DateTime<Utc> {
    row.send_at.and_utc()
}

async fn reminders_arrive_at_their_times_as_time_moves_on(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) =
        recorded_treatment(&m.app, &[("cheeks", "1.0"), ("forehead", "0.5")]).await;
    let schedule = rows(&m.app, treatment).await;
    // Evening, dailies and milestones: a standard depth heals in 7 days.
    assert_eq!(schedule[0].kind, "evening");
    assert_eq!(schedule.iter().filter(|r| r.kind == "daily").count(), 7);
    assert!(schedule.iter().any(|r| r.kind == "milestone"));
    assert!(schedule
        .iter()
        .all(|r| r.status == "pending" && r.patient_id == patient));
    assert_eq!(schedule[0].reminder_key, "evening");

    // Nothing is due yet.
    assert_eq!(m.worker.drain().await.unwrap().sent, 0);
    assert!(m.sink.received().is_empty());

    // Move time to each of the first three reminders: each arrives then, and only then.
    for (n, row) in schedule.iter().take(3).enumerate() {
        m.clock.set(at(row) - Duration::minutes(1));
        assert_eq!(
            m.worker.drain().await.unwrap().sent,
            0,
            "{} not before its time",
            row.reminder_key
        );
        m.clock.set(at(row) + Duration::minutes(1));
        assert_eq!(
            m.worker.drain().await.unwrap().sent,
            1,
            "{} at its time",
            row.reminder_key
        );
        let got = m.sink.wait_for(n + 1, StdDuration::from_secs(5)).await;
        let mail = &got[n];
        assert_eq!(mail.subject().unwrap(), row.subject);
        assert_eq!(mail.header("Message-ID").unwrap(), row.message_id);
        assert_eq!(mail.rcpt_to, vec!["maya@example.com".to_string()]);
        assert!(mail
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"));
        let unsubscribe = mail.header("List-Unsubscribe").unwrap();
        assert!(unsubscribe.starts_with('<') && unsubscribe.contains("/unsubscribe/"));
        assert_eq!(
            mail.header("List-Unsubscribe-Post").unwrap(),
            "List-Unsubscribe=One-Click"
        );
        let text = &mail.text_part("text/plain").expect("a plain text part");
        let html = &mail.text_part("text/html").expect("an HTML part");
        assert!(text.contains("Hello Maya,") && html.contains("Hello Maya,"));
        assert!(text.contains("Do:") && text.contains("Avoid:"));
        assert!(text.contains("WHEN TO GET HELP"));
        if n == 0 {
            // The links work: the sheet opens without log-in; the unsubscribe page asks first.
            let sheet = link_in(text, "/s/");
            let anonymous = new_client();
            let page = anonymous.get(&sheet).send().await.unwrap();
            assert_eq!(page.status().as_u16(), 200);
            assert!(page.text().await.unwrap().contains("Maya Patel"));
            let stop = link_in(text, "/unsubscribe/");
            assert_eq!(unsubscribe, format!("<{stop}>"));
            let page = text_at(&anonymous, &stop).await;
            assert!(page.contains("Stop the emails"));
        }
    }
    let after = rows(&m.app, treatment).await;
    assert_eq!(after.iter().filter(|r| r.status == "sent").count(), 3);
    assert!(after
        .iter()
        .filter(|r| r.status == "sent")
        .all(|r| r.sent_at.is_some() && r.attempts == 1));
    // Staff see the statuses on the treatment page.
    let page = m
        .app
        .get_with(&m.staff, &format!("/treatments/{treatment}"))
        .await
        .text()
        .await
        .unwrap();
    // (Labelled "saved to file": this app's own settings write mail to files; the test's
    // worker sends through the sink.)
    assert_eq!(page.matches("status-sent\">").count(), 3);
    let preview = m
        .app
        .get_with(
            &m.staff,
            &format!("/treatments/{treatment}/reminders/{}/preview", after[3].id),
        )
        .await;
    assert_eq!(preview.status().as_u16(), 200);
    assert!(preview.text().await.unwrap().contains("Hello Maya,"));
}

async fn a_temporary_failure_is_retried_then_delivered(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let first = rows(&m.app, treatment).await.remove(0);
    m.sink.fail_next(1, 451, "4.3.0 mailbox busy, try later");
    m.clock.set(at(&first) + Duration::minutes(1));
    let report = m.worker.drain().await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    let row = rows(&m.app, treatment).await.remove(0);
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    assert!(
        row.last_error.as_deref().unwrap().contains("451"),
        "{:?}",
        row.last_error
    );
    assert!(row.next_attempt_at > row.send_at, "backed off");
    // Not before the back-off has passed; then delivered.
    assert_eq!(m.worker.drain().await.unwrap().claimed, 0);
    m.clock
        .set(row.next_attempt_at.and_utc() + Duration::seconds(1));
    assert_eq!(m.worker.drain().await.unwrap().sent, 1);
    assert_eq!(m.sink.wait_for(1, StdDuration::from_secs(5)).await.len(), 1);
    let row = rows(&m.app, treatment).await.remove(0);
    assert_eq!(
        (row.status.as_str(), row.attempts, row.last_error.as_deref()),
        ("sent", 2, None)
    );
}

async fn a_permanent_failure_fails_at_once_and_shows_on_the_outbox(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let first = rows(&m.app, treatment).await.remove(0);
    m.sink.fail_next(1, 550, "5.1.1 no such user here");
    m.clock.set(at(&first) + Duration::minutes(1));
    assert_eq!(m.worker.drain().await.unwrap().failed, 1);
    let row = rows(&m.app, treatment).await.remove(0);
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));

    let outbox = m
        .app
        .get_with(&m.staff, "/outbox?status=failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        outbox.contains("Maya Patel")
            && outbox.contains("550")
            && outbox.contains("no such user here")
    );
    let home = m.app.get_with(&m.staff, "/").await.text().await.unwrap();
    assert!(home.contains("1 reminder email could not be sent"));
    // Practitioners do not watch the outbox; staff and admins do.
    let practitioner = m.app.signed_in("practitioner").await;
    assert_eq!(
        m.app
            .get_with(&practitioner, "/outbox")
            .await
            .status()
            .as_u16(),
        403
    );

    // Staff retry it: it goes out on the next round.
    outbox_button(&m.app, &m.staff, row.id, "retry").await;
    // Its time is still ahead of the app's clock: it goes back in the queue,
    // to be sent at its own time and no earlier.
    let restored = rows(&m.app, treatment).await.remove(0);
    assert_eq!(
        (restored.status.as_str(), restored.next_attempt_at),
        ("pending", restored.send_at)
    );
    m.clock.set(at(&first) - Duration::minutes(1));
    assert_eq!(m.worker.run_once().await.unwrap().claimed, 0);
    m.clock.set(at(&first) + Duration::minutes(2));
    assert_eq!(m.worker.run_once().await.unwrap().sent, 1);
    assert_eq!(rows(&m.app, treatment).await[0].status, "sent");
    assert!(m
        .app
        .audit_actions()
        .await
        .contains(&"reminder.retried".to_string()));
}

async fn retries_give_up_after_the_configured_attempts(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    m.sink.fail_all(421, "4.7.0 service not available");
    let mut when = at(&rows(&m.app, treatment).await[0]) + Duration::minutes(1);
    for _ in 0..3 {
        m.clock.set(when);
        m.worker.run_once().await.unwrap();
        when += Duration::hours(2);
    }
    let row = rows(&m.app, treatment).await.remove(0);
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
    assert!(row.last_error.unwrap().contains("gave up after 3 attempts"));
}

async fn unsubscribing_by_post_cancels_the_rest_and_a_get_does_not(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let link = m.app.state.links.unsubscribe(patient);
    let path = link.strip_prefix(&m.app.address).unwrap();
    let before = pending(&rows(&m.app, treatment).await).len();

    // A link scanner's GET changes nothing.
    let anonymous = new_client();
    assert_eq!(
        m.app.get_with(&anonymous, path).await.status().as_u16(),
        200
    );
    assert_eq!(pending(&rows(&m.app, treatment).await).len(), before);

    // The mail client's one-click POST (RFC 8058): no cookie, no CSRF token.
    let r = anonymous
        .post(&link)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You will not get any more aftercare emails"));
    let after = rows(&m.app, treatment).await;
    assert!(pending(&after).is_empty());
    assert_eq!(
        after.iter().filter(|r| r.status == "cancelled").count(),
        before
    );
    m.clock.set(Utc::now() + Duration::days(60));
    assert_eq!(m.worker.drain().await.unwrap().sent, 0);
    assert!(m.sink.received().is_empty());
    let page = m
        .app
        .get_with(&m.staff, &format!("/patients/{patient}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Stopped by the patient"));
    // A tampered token is 404 and changes nothing.
    assert_eq!(
        anonymous
            .post(format!("{link}x"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

async fn an_edit_reschedules_pending_reminders(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let before = rows(&m.app, treatment).await;
    let day3 = before
        .iter()
        .find(|r| r.reminder_key == "day-3")
        .unwrap()
        .clone();
    // The treatment really was two days earlier, and on the abdomen at 2 mm.
    let when = clinic_time(-Duration::hours(49));
    let admin = m.app.signed_in("admin").await;
    let deeper = [
        ("treated_at", when.as_str()),
        ("area_0", "abdomen"),
        ("depth_0", "2.0"),
    ];
    let r = m.app.edit_treatment(&admin, treatment, &deeper).await;
    assert_eq!(r.status().as_u16(), 303);
    let after = rows(&m.app, treatment).await;
    let moved = after.iter().find(|r| r.id == day3.id).unwrap();
    assert_eq!(moved.status, "pending");
    assert_eq!(
        moved.send_at,
        day3.send_at - Duration::days(2),
        "day 3 is two days earlier"
    );
    // The evening email's new time is more than a day gone: it is no longer
    // current, so it is cancelled, not sent late.
    let evening = after.iter().find(|r| r.reminder_key == "evening").unwrap();
    assert_eq!(evening.status, "cancelled");
    // A body area heals longer: more daily reminders than before.
    let dailies = |rs: &[ReminderRow]| {
        rs.iter()
            .filter(|r| r.kind == "daily" && r.status == "pending")
            .count()
    };
    assert!(
        dailies(&after) > dailies(&before),
        "{} vs {}",
        dailies(&after),
        dailies(&before)
    );
    assert!(after
        .iter()
        .any(|r| r.reminder_key == "day-10" && r.status == "pending"));
}

/// An admin deletes the treatment through its form.
async fn delete_treatment(app: &TestApp, treatment: i64) {
    let admin = app.signed_in("admin").await;
    let r = app
        .post_form_with(&admin, &format!("/treatments/{treatment}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
}

async fn deleting_a_treatment_cancels_its_reminders(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    delete_treatment(&m.app, treatment).await;
    let after = rows(&m.app, treatment).await;
    assert!(after.iter().all(|r| r.status == "cancelled"));
    assert!(after[0].reason.as_deref().unwrap().contains("deleted"));
    m.clock.set(Utc::now() + Duration::days(60));
    assert_eq!(m.worker.drain().await.unwrap().sent, 0);
}

async fn stale_daily_reminders_are_skipped_and_milestones_still_go(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let schedule = rows(&m.app, treatment).await;
    // The app was down until an hour after the day-5 email was due.
    let day5 = schedule.iter().find(|r| r.day == 5).unwrap();
    m.clock.set(at(day5) + Duration::hours(1));
    let report = m.worker.drain().await.unwrap();
    let after = rows(&m.app, treatment).await;
    let skipped: Vec<_> = after.iter().filter(|r| r.status == "skipped").collect();
    assert_eq!(report.skipped, skipped.len());
    let mut late: Vec<&str> = skipped.iter().map(|r| r.reminder_key.as_str()).collect();
    late.sort_unstable();
    assert_eq!(
        late,
        ["day-1", "day-2", "day-3", "day-4", "evening"],
        "evening and days 1–4 were more than 12 hours late"
    );
    assert!(skipped
        .iter()
        .all(|r| r.kind != "milestone" && r.reason.as_deref().unwrap().contains("late")));
    let sent: Vec<_> = after.iter().filter(|r| r.status == "sent").collect();
    assert!(sent.iter().any(|r| r.id == day5.id), "today's email goes");
    assert!(after
        .iter()
        .filter(|r| r.kind == "milestone" && at(r) <= at(day5))
        .all(|r| r.status == "sent"));
    assert_eq!(m.sink.received().len(), sent.len());
}

async fn a_withdrawn_consent_cancels_and_a_new_one_reopens(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let total = rows(&m.app, treatment).await.len();
    let r = m
        .app
        .post_form_with(
            &m.staff,
            &format!("/patients/{patient}/edit"),
            &[("name", "Maya Patel"), ("email", "maya@example.com")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(pending(&rows(&m.app, treatment).await).is_empty());
    let r = m
        .app
        .post_form_with(
            &m.staff,
            &format!("/patients/{patient}/edit"),
            &[
                ("name", "Maya Patel"),
                ("email", "maya@example.com"),
                ("email_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(pending(&rows(&m.app, treatment).await).len(), total);
}

async fn a_worker_that_vanished_mid_send_is_replaced_after_its_lease(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let first = rows(&m.app, treatment).await.remove(0);
    let now = at(&first) + Duration::minutes(1);
    // Another worker claims the row and dies before sending.
    let claimed = with_conn(&m.app, move |conn| {
        store::write_tx(conn, |c| {
            store::reminders::claim(
                c,
                store::Claim {
                    now: now.naive_utc(),
                    lease_until: (now + Duration::minutes(2)).naive_utc(),
                    limit: 10,
                    token: "the vanished worker's",
                },
            )
        })
        .unwrap()
    })
    .await;
    assert_eq!(claimed, vec![first.id]);
    m.clock.set(now);
    assert_eq!(
        m.worker.drain().await.unwrap().claimed,
        0,
        "leased rows are left alone"
    );
    m.clock.set(now + Duration::minutes(3));
    assert_eq!(m.worker.drain().await.unwrap().sent, 1);
    assert_eq!(m.worker.drain().await.unwrap().claimed, 0);
    let ids = m.sink.message_ids();
    assert_eq!(ids, vec![first.message_id.clone()], "sent exactly once");
}

/// A patient with two treatments healing at once gets one email per morning: it covers
/// both, goes no earlier than its time, is retried as one, and marks both reminders sent.
async fn two_treatments_healing_at_once_get_one_email_a_morning(app: TestApp) {
    let m = mailroom(app).await;
    let practitioner = m.app.signed_in("practitioner").await;
    let (yesterday, _) = yesterday_afternoon();
    let (patient, face) = m
        .app
        .patient_with_treatment(
            &practitioner,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", &yesterday),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let today = clinic_time(-Duration::hours(1));
    let r = m
        .app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &today),
                ("area_0", "abdomen"),
                ("depth_0", "1.5"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let body = id_in_location(&r);
    let (face_rows, body_rows) = (rows(&m.app, face).await, rows(&m.app, body).await);
    // Every morning both send at, one email.
    let shared: Vec<(&ReminderRow, &ReminderRow)> = face_rows
        .iter()
        .filter(|f| f.status == "pending")
        .filter_map(|f| {
            body_rows
                .iter()
                .find(|b| b.send_at == f.send_at)
                .map(|b| (f, b))
        })
        .collect();
    assert!(shared.len() >= 3, "the two plans share mornings");
    let (f, b) = shared[0];
    m.clock.set(at(f) - Duration::minutes(1));
    m.worker.drain().await.unwrap();
    let before = m.sink.received().len();
    assert_eq!(
        m.worker.drain().await.unwrap().sent,
        0,
        "not before its time"
    );

    // The first try is refused for now: both reminders wait for the same retry.
    m.sink.fail_next(1, 451, "4.3.0 mailbox busy, try later");
    m.clock.set(at(f) + Duration::minutes(1));
    let report = m.worker.drain().await.unwrap();
    assert_eq!((report.claimed, report.retried), (2, 2));
    m.clock.set(at(f) + Duration::minutes(5));
    let report = m.worker.drain().await.unwrap();
    assert_eq!((report.claimed, report.sent), (2, 2));
    let got = m.sink.wait_for(before + 1, StdDuration::from_secs(5)).await;
    assert_eq!(got.len(), before + 1, "one email for both treatments");
    let mail = &got[before];
    let lead = if f.id < b.id { f } else { b };
    assert_eq!(mail.header("Message-ID").unwrap(), lead.message_id);
    assert_eq!(mail.subject().unwrap(), "Your aftercare for today");
    let text = mail.text_part("text/plain").unwrap();
    let html = mail.text_part("text/html").unwrap();
    for part in [&text, &html] {
        assert_eq!(
            part.matches("/s/").count(),
            2,
            "both sheets are linked: {part}"
        );
        assert!(part.contains(&format!("Today is day {}", f.day)), "{part}");
        assert!(part.contains(&format!("Today is day {}", b.day)), "{part}");
    }
    // The other treatment has a section of its own.
    assert!(text.contains("\nYOUR TREATMENT ON "), "{text}");
    assert!(html.contains(">Your treatment on "), "{html}");
    let sent = |rows: Vec<ReminderRow>, id: i64| {
        let row = rows.into_iter().find(|r| r.id == id).unwrap();
        (row.status, row.attempts, row.sent_at.is_some())
    };
    assert_eq!(
        sent(rows(&m.app, face).await, f.id),
        (store::reminders::Status::Sent, 2, true)
    );
    assert_eq!(
        sent(rows(&m.app, body).await, b.id),
        (store::reminders::Status::Sent, 2, true)
    );

    // The next shared morning: one email again, and nothing is sent twice.
    let (next, _) = shared[1];
    m.clock.set(at(next) + Duration::minutes(1));
    m.worker.drain().await.unwrap();
    let ids = m.sink.message_ids();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "no email twice");
    let on_that_morning = m
        .sink
        .received()
        .iter()
        .filter(|r| {
            r.header("Message-ID").unwrap() == next.message_id
                || r.header("Message-ID").unwrap() == shared[1].1.message_id
        })
        .count();
    assert_eq!(on_that_morning, 1);
}

async fn four_workers_deliver_each_of_a_thousand_reminders_once(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let start = Utc::now() - Duration::minutes(30);
    with_conn(&m.app, move |conn| {
        store::write_tx(conn, |c| {
            for i in 0..1000 {
                // Each its own time: reminders of a patient due at one time go as one email.
                let due = start + Duration::seconds(i);
                store::reminders::insert(
                    c,
                    &store::reminders::NewReminder {
                        treatment_id: treatment,
                        patient_id: patient,
                        reminder_key: format!("load-{i}"),
                        kind: "milestone",
                        day: 1,
                        subject: format!("Load test {i}"),
                        send_at: due.naive_utc(),
                        next_attempt_at: due.naive_utc(),
                        status: "pending",
                        reason: None,
                        message_id: format!("<load.{i}@test.example>"),
                        updated_at: due.naive_utc(),
                    },
                )?;
            }
            Ok::<_, aftercare::usecases::store::DbError>(())
        })
        .unwrap()
    })
    .await;
    m.clock.set(Utc::now());
    let workers: Vec<Worker> = (0..4)
        .map(|_| {
            let mut w = worker(
                &m.app,
                Mailer::smtp(&m.sink.url()).unwrap(),
                m.clock.clone(),
            );
            w.config.batch_size = 25;
            w
        })
        .collect();
    let reports = futures_util::future::join_all(workers.iter().map(|w| w.drain())).await;
    let sent: usize = reports.into_iter().map(|r| r.unwrap().sent).sum();
    assert_eq!(sent, 1000);
    let ids = m.sink.message_ids();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(
        (ids.len(), unique.len()),
        (1000, 1000),
        "each reminder exactly once"
    );
    let statuses = rows(&m.app, treatment).await;
    assert_eq!(statuses.iter().filter(|r| r.status == "sent").count(), 1000);
    // Each worker's SMTP pool holds at most 8 connections, reused for ~250 emails.
    let connections = m.sink.connections();
    assert!(connections <= 4 * 8, "{connections} SMTP connections");
}

/// More senders than the pool has connections: they wait for one and reuse it,
/// so 50 emails open at most 8 connections (lettre without its pool: 50).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_emails_share_at_most_eight_smtp_connections() {
    let sink = SmtpSink::start().await;
    let mailer = Arc::new(Mailer::smtp(&sink.url()).unwrap());
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..50 {
        let mailer = Arc::clone(&mailer);
        sends.spawn(async move {
            let message = lettre::Message::builder()
                .from("clinic@example.com".parse().unwrap())
                .to(format!("p{i}@example.com").parse().unwrap())
                .subject(format!("Pool {i}"))
                .message_id(Some(format!("<pool.{i}@test.example>")))
                .body(String::from("hello"))
                .unwrap();
            mailer.send(message).await
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.unwrap().unwrap();
    }
    let ids: std::collections::HashSet<_> = sink.message_ids().into_iter().collect();
    assert_eq!(ids.len(), 50);
    let connections = sink.connections();
    assert!(
        (1..=8).contains(&connections),
        "{connections} SMTP connections for 50 emails"
    );
}

async fn without_smtp_the_default_setup_writes_eml_files(app: TestApp) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let w = worker(
        &app,
        Mailer::files(app.mail_dir.path().to_path_buf()).unwrap(),
        clock.clone(),
    );
    let (_, treatment) = recorded_treatment(&app, &[("cheeks", "1.0")]).await;
    let first = rows(&app, treatment).await.remove(0);
    clock.set(at(&first) + Duration::minutes(1));
    assert_eq!(w.drain().await.unwrap().sent, 1);
    let files: Vec<_> = std::fs::read_dir(app.mail_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("MIME-Version: 1.0") && eml.contains("multipart/alternative"));
    assert!(eml.contains(&format!("Message-ID: {}", first.message_id)));
    assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
}

/// Staff press a row's `retry` or `cancel` button on the outbox; returns the
/// outbox page they land on, with its flash message.
async fn outbox_button(app: &TestApp, staff: &reqwest::Client, id: i64, action: &str) -> String {
    let r = app
        .post_form_with(
            staff,
            &format!("/outbox/{id}/{action}"),
            &[("back", "/outbox")],
        )
        .await;
    assert_redirect_to(&r, "/outbox");
    app.get_text_with(staff, "/outbox").await
}

/// The Retry button, whatever it says ("Restore", "Send now").
async fn press_retry(app: &TestApp, staff: &reqwest::Client, id: i64) -> String {
    outbox_button(app, staff, id, "retry").await
}

async fn cancel_then_retry_of_a_future_reminder_waits_for_its_day(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let day14 = rows(&m.app, treatment)
        .await
        .into_iter()
        .find(|r| r.day == 14)
        .expect("a reminder on day 14");
    outbox_button(&m.app, &m.staff, day14.id, "cancel").await;
    let outbox = m
        .app
        .get_text_with(&m.staff, "/outbox?status=cancelled")
        .await;
    assert!(
        outbox.contains(">Restore</button>"),
        "the button says what it does"
    );
    assert!(!outbox.contains(">Send now</button>"));

    let page = press_retry(&m.app, &m.staff, day14.id).await;
    assert!(page.contains("back in the queue and will go at its own time"));
    let restored = rows(&m.app, treatment)
        .await
        .into_iter()
        .find(|r| r.id == day14.id)
        .unwrap();
    assert_eq!(restored.status, "pending");
    assert_eq!(restored.next_attempt_at, day14.send_at);

    // Day 13: everything due so far goes, but not the day-14 email.
    m.clock.set(at(&day14) - Duration::days(1));
    m.worker.drain().await.unwrap();
    let subjects = |mails: Vec<Received>| -> Vec<String> {
        mails.iter().map(|r| r.subject().unwrap()).collect()
    };
    assert!(!subjects(m.sink.received()).contains(&day14.subject));
    let row = |rs: Vec<ReminderRow>| rs.into_iter().find(|r| r.id == day14.id).unwrap();
    assert_eq!(row(rows(&m.app, treatment).await).status, "pending");

    // Day 14, at its time: it is sent.
    m.clock.set(at(&day14) + Duration::minutes(1));
    m.worker.drain().await.unwrap();
    assert_eq!(row(rows(&m.app, treatment).await).status, "sent");
    assert!(subjects(m.sink.received()).contains(&day14.subject));
}

async fn retry_sends_a_passed_milestone_now_and_refuses_a_passed_day(app: TestApp) {
    let m = mailroom(app).await;
    let (_, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let schedule = rows(&m.app, treatment).await;
    let daily = schedule.iter().find(|r| r.kind == "daily").unwrap().clone();
    let milestone = schedule
        .iter()
        .find(|r| r.kind == "milestone")
        .unwrap()
        .clone();
    for id in [daily.id, milestone.id] {
        outbox_button(&m.app, &m.staff, id, "cancel").await;
    }
    // The app's clock moves to the day after the milestone: the daily email's
    // day is long gone, the milestone is still true.
    let later = at(&milestone) + Duration::days(1);
    m.app.clock.set(later);
    m.clock.set(later);
    let staff = m.app.signed_in("staff").await;
    let outbox = m
        .app
        .get_text_with(&staff, "/outbox?status=cancelled")
        .await;
    assert!(outbox.contains(">Send now</button>"));
    assert!(outbox.contains("Its day has passed"));

    let page = press_retry(&m.app, &staff, daily.id).await;
    assert!(
        page.contains(&format!(
            "this is the email for day {} of healing, and that day has passed",
            daily.day
        )),
        "Retry of a passed daily email says why it is refused"
    );
    let page = press_retry(&m.app, &staff, milestone.id).await;
    assert!(page.contains("will be sent within a minute"));
    m.worker.drain().await.unwrap();
    let after = rows(&m.app, treatment).await;
    let status_of = |id: i64| after.iter().find(|r| r.id == id).unwrap().status;
    assert_eq!(status_of(daily.id), "cancelled");
    assert_eq!(status_of(milestone.id), "sent");
    let sent: Vec<String> = m
        .sink
        .received()
        .iter()
        .map(|r| r.subject().unwrap())
        .collect();
    assert!(sent.contains(&milestone.subject) && !sent.contains(&daily.subject));
}

async fn a_treatment_recorded_late_still_sends_its_evening_email(app: TestApp) {
    // 19:00 in London (GMT in January): the treatment was at 10:00, so its
    // evening email (18:00) is an hour late when it is recorded.
    let evening_of_treatment: DateTime<Utc> = "2027-01-12T19:00:00Z".parse().unwrap();
    app.clock.set(evening_of_treatment);
    let m = mailroom(app).await;
    m.clock.set(evening_of_treatment);
    let practitioner = m.app.signed_in("practitioner").await;
    let (_, treatment) = m
        .app
        .patient_with_treatment(
            &practitioner,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", "2027-01-12T10:00"),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let evening = rows(&m.app, treatment).await.remove(0);
    assert_eq!(evening.reminder_key, "evening");
    assert_eq!(evening.send_at, "2027-01-12T18:00:00".parse().unwrap());
    assert_eq!(evening.status, "pending", "{:?}", evening.reason);
    assert_eq!(m.worker.drain().await.unwrap().sent, 1);
    let mail = m.sink.wait_for(1, StdDuration::from_secs(5)).await;
    assert_eq!(mail[0].subject().unwrap(), evening.subject);
    assert_eq!(rows(&m.app, treatment).await[0].status, "sent");
}

async fn a_name_no_header_can_carry_fails_the_email_with_a_reason(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    // A row saved before the forms refused line breaks.
    with_conn(&m.app, move |conn| {
        use diesel::RunQueryDsl;
        let sql = |newline: &str| {
            format!("UPDATE patients SET name = 'Maya' || {newline} || 'Bcc: x@evil.test' WHERE id = {patient}")
        };
        match conn {
            store::DbConn::Sqlite(c) => diesel::sql_query(sql("char(13, 10)")).execute(c),
            store::DbConn::Pg(c) => diesel::sql_query(sql("chr(13) || chr(10)")).execute(c),
        }
    })
    .await
    .unwrap();
    let first = rows(&m.app, treatment).await.remove(0);
    m.clock.set(at(&first) + Duration::minutes(1));
    let report = m.worker.drain().await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    let row = rows(&m.app, treatment).await.remove(0);
    assert_eq!(row.status, "failed");
    let reason = row.last_error.unwrap();
    assert!(
        reason.contains("the patient's name contains a line break"),
        "{reason}"
    );
    assert!(m.sink.received().is_empty());
}

/// Found by the fuzz test: consent withdrawn, the treatment deleted, then
/// consent given again re-opened the deleted treatment's emails.
async fn a_deleted_treatments_emails_never_come_back(app: TestApp) {
    let m = mailroom(app).await;
    let (patient, treatment) = recorded_treatment(&m.app, &[("cheeks", "1.0")]).await;
    let consent = |given: bool| {
        let mut form = vec![("name", "Maya Patel"), ("email", "maya@example.com")];
        if given {
            form.push(("email_consent", "yes"));
        }
        form
    };
    let edit = format!("/patients/{patient}/edit");
    let r = m.app.post_form_with(&m.staff, &edit, &consent(false)).await;
    assert_eq!(r.status().as_u16(), 303);
    delete_treatment(&m.app, treatment).await;
    let r = m.app.post_form_with(&m.staff, &edit, &consent(true)).await;
    assert_eq!(r.status().as_u16(), 303);
    let after = rows(&m.app, treatment).await;
    assert!(pending(&after).is_empty());
    // Nor does Retry bring one back.
    let page = press_retry(&m.app, &m.staff, after[0].id).await;
    assert!(page.contains("treatment was deleted"));
    assert!(pending(&rows(&m.app, treatment).await).is_empty());
    m.clock.set(Utc::now() + Duration::days(60));
    assert_eq!(m.worker.drain().await.unwrap().sent, 0);
}

crate::on_both_databases!(
    reminders_arrive_at_their_times_as_time_moves_on,
    a_temporary_failure_is_retried_then_delivered,
    a_permanent_failure_fails_at_once_and_shows_on_the_outbox,
    retries_give_up_after_the_configured_attempts,
    unsubscribing_by_post_cancels_the_rest_and_a_get_does_not,
    an_edit_reschedules_pending_reminders,
    deleting_a_treatment_cancels_its_reminders,
    stale_daily_reminders_are_skipped_and_milestones_still_go,
    a_withdrawn_consent_cancels_and_a_new_one_reopens,
    a_worker_that_vanished_mid_send_is_replaced_after_its_lease,
    four_workers_deliver_each_of_a_thousand_reminders_once,
    two_treatments_healing_at_once_get_one_email_a_morning,
    without_smtp_the_default_setup_writes_eml_files,
    cancel_then_retry_of_a_future_reminder_waits_for_its_day,
    retry_sends_a_passed_milestone_now_and_refuses_a_passed_day,
    a_treatment_recorded_late_still_sends_its_evening_email,
    a_name_no_header_can_carry_fails_the_email_with_a_reason,
    a_deleted_treatments_emails_never_come_back,
);
