//! The front desk's outbox: it opens on what goes next, has a Today view in the clinic's time,
//! offers nothing that would fail for an erased patient; the email preview's envelope; counts
//! that read "1 treatment".

use std::sync::Arc;

use aftercare::jobs::ManualClock;
use aftercare::mail::Mailer;
use aftercare::usecases::store::{self, reminders::ReminderRow};
use chrono::{DateTime, Duration, NaiveDate};

use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

const NAME: &str = "Maya Patel";
const EMAIL: &str = "maya@example.com";

/// The clinic's zone (the test app's default).
fn clinic_zone() -> chrono_tz::Tz {
    "Europe/London".parse().unwrap()
}

/// A cheeks treatment done an hour ago for Maya, through the form; returns (patient, treatment).
async fn maya_treated(app: &TestApp) -> (i64, i64) {
    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let fields = [
        ("treated_at", when.as_str()),
        ("area_0", "cheeks"),
        ("depth_0", "1.0"),
    ];
    app.patient_with_treatment(&practitioner, NAME, EMAIL, &fields)
        .await
}

async fn rows_of(app: &TestApp, treatment: i64) -> Vec<ReminderRow> {
    with_conn(app, move |conn| {
        store::reminders::for_treatment(conn, treatment).unwrap()
    })
    .await
}

/// The outbox's list (its table body), as staff see it at `path`.
async fn listed(app: &TestApp, staff: &reqwest::Client, path: &str) -> String {
    let page = app.get_text_with(staff, path).await;
    match (page.find("<tbody>"), page.find("</tbody>")) {
        (Some(start), Some(end)) => page[start..end].to_string(),
        _ => String::new(),
    }
}

/// When each listed email is due, in the order listed.
fn due_times(list: &str) -> Vec<DateTime<chrono::FixedOffset>> {
    list.split("<td class=\"nowrap\"><time datetime=\"")
        .skip(1)
        .map(|rest| DateTime::parse_from_rfc3339(&rest[..rest.find('"').unwrap()]).unwrap())
        .collect()
}

/// Presses a row's `retry` or `cancel` button; returns the page staff land on.
async fn press(app: &TestApp, staff: &reqwest::Client, id: i64, action: &str) -> String {
    let r = app
        .post_form_with(
            staff,
            &format!("/outbox/{id}/{action}"),
            &[("back", "/outbox?view=all")],
        )
        .await;
    assert_redirect_to(&r, "/outbox?view=all");
    app.get_text_with(staff, "/outbox?view=all").await
}

async fn the_outbox_opens_on_what_goes_next_and_has_a_today_view(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let (_, treatment) = maya_treated(&app).await;
    let (_, other) = maya_treated(&app).await;
    let schedule = rows_of(&app, treatment).await;
    let first = schedule[0].clone();
    press(&app, &staff, first.id, "cancel").await;

    // By default: what is still to go, soonest first; not the cancelled one.
    let list = listed(&app, &staff, "/outbox").await;
    let times = due_times(&list);
    let unsent = rows_of(&app, treatment).await.len() + rows_of(&app, other).await.len() - 1;
    assert_eq!(times.len(), unsent, "every email still to go: {list}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "soonest first");
    assert_eq!(list.matches("status-pending\">").count(), unsent);
    assert!(!list.contains("status-cancelled"));
    let page = app.get_text_with(&staff, "/outbox").await;
    assert!(page.contains("aria-current=\"page\">Due next"));

    // Every email, newest first, is one link away; so is each status.
    let all = due_times(&listed(&app, &staff, "/outbox?view=all").await);
    assert_eq!(all.len(), unsent + 1);
    assert!(all.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let cancelled = listed(&app, &staff, "/outbox?status=cancelled").await;
    assert_eq!(due_times(&cancelled).len(), 1);
    assert!(cancelled.contains(&first.subject));

    // Today, in the clinic's zone, is the day of the first email: everything due that day,
    // whatever became of it, in the day's order.
    let now = first.send_at.and_utc();
    app.clock.set(now);
    let staff = app.signed_in("staff").await;
    let today: NaiveDate = now.with_timezone(&clinic_zone()).date_naive();
    let mut due_today: Vec<ReminderRow> = rows_of(&app, treatment).await;
    due_today.extend(rows_of(&app, other).await);
    due_today.retain(|r| {
        r.send_at
            .and_utc()
            .with_timezone(&clinic_zone())
            .date_naive()
            == today
    });
    let page = app.get_text_with(&staff, "/outbox?view=today").await;
    assert!(page.contains(&today.format("%a %-d %b %Y").to_string()));
    let list = listed(&app, &staff, "/outbox?view=today").await;
    let times = due_times(&list);
    assert_eq!(times.len(), due_today.len(), "{list}");
    assert!(times.iter().all(|t| t.date_naive() == today));
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        list.contains("status-cancelled") && list.contains(&first.subject),
        "the cancelled one is due today too"
    );

    // A made-up view is refused, not guessed.
    let r = app.get_with(&staff, "/outbox?view=tomorrow").await;
    assert_eq!(r.status().as_u16(), 400);
}

async fn an_erased_patients_emails_offer_no_button_that_would_fail(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let (patient, treatment) = maya_treated(&app).await;
    let schedule = rows_of(&app, treatment).await;
    // The first email fails for good at the mail server; a later one is cancelled.
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(
        schedule[0].send_at.and_utc() + Duration::minutes(1),
    ));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock);
    sink.fail_next(1, 550, "5.1.1 no such user here");
    assert_eq!(worker.drain().await.unwrap().failed, 1);
    let (failed, later) = (schedule[0].id, schedule[3].id);
    let page = press(&app, &staff, later, "cancel").await;
    // Before: the failed one can be sent again or cancelled, the cancelled one restored.
    assert!(page.contains(&format!("action=\"/outbox/{failed}/retry\"")));
    assert!(page.contains(&format!("action=\"/outbox/{failed}/cancel\"")));
    assert!(page.contains(&format!("action=\"/outbox/{later}/retry\"")));
    assert!(
        page.contains("(1 attempt)"),
        "one attempt, said in the singular"
    );

    let admin = app.signed_in("admin").await;
    let r = app
        .post_form_with(
            &admin,
            &format!("/patients/{patient}/erase"),
            &[("confirm_name", NAME)],
        )
        .await;
    assert_redirect_to(&r, &format!("/patients/{patient}"));
    let done = app
        .get_text_with(&admin, &format!("/patients/{patient}"))
        .await;
    assert!(
        done.contains("1 treatment kept without their identity")
            && done.contains("0 photos deleted"),
        "the counts read as English: {done}"
    );

    // After: no button for any of their emails, and a word on why.
    for path in [
        "/outbox?view=all",
        "/outbox?status=cancelled",
        "/outbox?status=failed",
    ] {
        let list = listed(&app, &staff, path).await;
        assert!(!due_times(&list).is_empty(), "{path} lists their emails");
        assert!(!list.contains("<form"), "{path} offers a button: {list}");
        assert!(
            list.contains("data was erased: nothing more is sent to them"),
            "{list}"
        );
    }
    // A page opened before the erasure cannot send one either; it says why.
    let page = press(&app, &staff, later, "retry").await;
    assert!(
        page.contains("data was erased: nothing more is sent to them"),
        "{page}"
    );
    let status = |id: i64| {
        format!("SELECT count(*) FROM reminders WHERE id = {id} AND status = 'cancelled'")
    };
    assert_eq!(scalar(&app, &status(later)).await, 1);
}

async fn a_failed_attempt_waiting_for_its_retry_is_due_next(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let (_, treatment) = maya_treated(&app).await;
    let first = rows_of(&app, treatment).await.remove(0);
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::new(
        first.send_at.and_utc() + Duration::minutes(1),
    ));
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock);
    sink.fail_next(1, 451, "4.3.0 mailbox busy, try later");
    assert_eq!(worker.drain().await.unwrap().retried, 1);
    let retrying = rows_of(&app, treatment).await.remove(0);
    assert_eq!(
        (retrying.status.as_str(), retrying.attempts),
        ("pending", 1)
    );

    let list = listed(&app, &staff, "/outbox").await;
    let first_row = &list[..list.find("</tr>").unwrap()];
    assert!(first_row.contains(&retrying.subject), "{list}");
    assert!(first_row.contains("(1 attempt)") && first_row.contains("mailbox busy"));
    let next_try = retrying
        .next_attempt_at
        .and_utc()
        .with_timezone(&clinic_zone());
    assert!(
        first_row.contains(&format!(
            "tried again <time datetime=\"{}\"",
            next_try.to_rfc3339()
        )),
        "{first_row}"
    );
}

async fn the_preview_shows_subject_and_recipient_and_links_back(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let (_, treatment) = maya_treated(&app).await;
    let row = rows_of(&app, treatment).await.remove(1);
    let path = format!("/treatments/{treatment}/reminders/{}/preview", row.id);
    let page = app.get_text_with(&staff, &path).await;
    let subject = format!(
        "id=\"preview-subject\" style=\"display:inline;margin:0;\">{}</dd>",
        row.subject
    );
    assert!(page.contains(&subject), "{page}");
    assert!(
        page.contains("Maya Patel &#60;maya@example.com&#62;"),
        "the To line as sent: {page}"
    );
    assert!(page.contains(&format!("href=\"/treatments/{treatment}\"")));
    assert!(page.contains("href=\"/outbox\""));
    assert!(page.contains("Hello Maya,"), "the email itself follows");
    assert!(!page.contains("id=\"preview-not-sent\""));
    // A practitioner has no outbox to go back to.
    let practitioner = app.signed_in("practitioner").await;
    let page = app.get_text_with(&practitioner, &path).await;
    assert!(page.contains(&format!("href=\"/treatments/{treatment}\"")));
    assert!(!page.contains("href=\"/outbox\""));
}

async fn the_preview_says_when_the_patient_cannot_be_emailed(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let (patient, treatment) = maya_treated(&app).await;
    let row = rows_of(&app, treatment).await.remove(1);
    let r = app
        .post_form_with(
            &staff,
            &format!("/patients/{patient}/edit"),
            &[("name", NAME), ("email", EMAIL)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "consent withdrawn");
    let path = format!("/treatments/{treatment}/reminders/{}/preview", row.id);
    let page = app.get_text_with(&staff, &path).await;
    assert!(page.contains("id=\"preview-not-sent\""), "{page}");
    assert!(page.contains("cannot be emailed"));
}

crate::on_both_databases!(
    the_outbox_opens_on_what_goes_next_and_has_a_today_view,
    an_erased_patients_emails_offer_no_button_that_would_fail,
    a_failed_attempt_waiting_for_its_retry_is_due_next,
    the_preview_shows_subject_and_recipient_and_links_back,
    the_preview_says_when_the_patient_cannot_be_emailed,
);
