//! The clinic admin's pages: the audit log in clinic time with its filters, a new user's
//! set-password link (on their page until used, emailed when a mail server is set), and the
//! time-zone picker on Clinic settings.

use chrono::{TimeZone, Utc};

use crate::helpers::*;
use crate::support::smtp_sink::SmtpSink;

/// The audit log's rows: the text between `<tbody>` and `</tbody>`, one item per `<tr>`.
fn audit_rows(page: &str) -> Vec<&str> {
    let body = page
        .split("<tbody>")
        .nth(1)
        .and_then(|rest| rest.split("</tbody>").next())
        .unwrap_or_else(|| panic!("no table of entries: {page}"));
    body.split("<tr>").skip(1).collect()
}

async fn the_audit_log_shows_clinic_time_and_filters_by_who_what_patient_and_clinic_dates(
    app: TestApp,
) {
    // 07:30 UTC on 4 December is still the evening of the 3rd in Los Angeles.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 4, 7, 30, 0).unwrap());
    app.configure_clinic_in(
        "Sunset Skin",
        "desk@sunset.example",
        "America/Los_Angeles",
        "Call the clinic's mobile.",
    )
    .await;
    let admin = app.signed_in("admin").await;
    let practitioner = app.signed_in("practitioner").await;
    let maya = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap());
    let olu = app.add_patient(&admin, "Olu Ade", "olu@example.com").await;

    let page = app.get_text_with(&admin, "/admin/audit").await;
    assert!(
        page.contains("Times in the clinic's time zone, America/Los_Angeles."),
        "{page}"
    );
    let rows = audit_rows(&page);
    let maya_row = rows
        .iter()
        .find(|r| r.contains("Maya Patel"))
        .expect("Maya's entry is listed");
    assert!(maya_row.contains("2026-12-03 23:30:00 PST"), "{maya_row}");
    assert!(
        maya_row.contains("datetime=\"2026-12-04T07:30:00Z\""),
        "{maya_row}"
    );

    // Clinic dates: 4 December in Los Angeles holds Olu's entry, not Maya's.
    let page = app
        .get_text_with(
            &admin,
            "/admin/audit?what=patient.created&from=2026-12-04&to=2026-12-04",
        )
        .await;
    let rows = audit_rows(&page);
    assert_eq!(rows.len(), 1, "{page}");
    assert!(rows[0].contains("Olu Ade"), "{page}");
    assert!(
        page.contains("value=\"2026-12-04\""),
        "the dates stay in the form"
    );
    assert!(
        page.contains("<option selected>patient.created</option>"),
        "the action stays chosen"
    );
    let page = app
        .get_text_with(&admin, "/admin/audit?from=2026-12-03&to=2026-12-03")
        .await;
    assert!(audit_rows(&page).iter().any(|r| r.contains("Maya Patel")));
    assert!(!audit_rows(&page).iter().any(|r| r.contains("Olu Ade")));

    // By patient: a name as recorded, or the patient's number.
    for patient in ["maya", &maya.to_string(), &format!("patient {maya}")] {
        let page = app
            .get_text_with(&admin, &format!("/admin/audit?patient={patient}"))
            .await;
        let rows = audit_rows(&page);
        assert!(!rows.is_empty(), "{patient}: {page}");
        assert!(
            rows.iter().all(|r| r.contains(&format!("patient {maya}"))),
            "{patient}: {page}"
        );
    }
    let page = app
        .get_text_with(&admin, &format!("/admin/audit?patient={olu}"))
        .await;
    assert!(audit_rows(&page).iter().all(|r| r.contains("Olu Ade")));

    // By who: part of an email; a practitioner's entries only.
    let page = app
        .get_text_with(&admin, "/admin/audit?who=PRACTITIONER-")
        .await;
    let rows = audit_rows(&page);
    assert!(!rows.is_empty(), "{page}");
    assert!(rows.iter().all(|r| r.contains("practitioner-")), "{page}");
    assert!(rows.iter().any(|r| r.contains("Maya Patel")), "{page}");

    // Nothing matches: an empty table, not an error.
    let page = app
        .get_text_with(&admin, "/admin/audit?who=nobody%25here")
        .await;
    assert!(audit_rows(&page).is_empty(), "{page}");
    assert!(page.contains(" 0 entries."), "{page}");
}

async fn an_unreadable_audit_date_is_explained_beside_its_field(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let r = app
        .get_with(&admin, "/admin/audit?from=4%2F12%2F2026&to=2026-12-05")
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(
            "<p class=\"error\" id=\"from-error\">Enter a date as YYYY-MM-DD, like 2026-12-05.</p>"
        ),
        "{page}"
    );
    assert!(page.contains("value=\"4/12/2026\""), "what was typed stays");
    assert!(!page.contains("id=\"to-error\""), "{page}");

    let r = app
        .get_with(&admin, "/admin/audit?from=2026-12-05&to=2026-12-01")
        .await;
    assert_refused_saying(r, "The last date is before the first").await;
}

async fn audit_pages_keep_their_filters(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let now = aftercare::clock::Clock::now(&*app.clock).naive_utc();
    let actor = aftercare::usecases::audit::Actor::anonymous("the test", "127.0.0.1");
    with_conn(&app, move |conn| {
        for i in 0..60 {
            let subject = if i % 2 == 0 { "patient 7" } else { "patient 8" };
            aftercare::usecases::audit::audit(conn, &actor, "patient.updated", subject, "", now)
                .unwrap();
        }
    })
    .await;
    let page = app
        .get_text_with(&admin, "/admin/audit?what=patient.updated&patient=7")
        .await;
    assert_eq!(audit_rows(&page).len(), 30, "{page}");
    assert!(page.contains("Page 1 of 1"), "{page}");
    let page = app
        .get_text_with(&admin, "/admin/audit?what=patient.updated")
        .await;
    assert_eq!(audit_rows(&page).len(), 50);
    assert!(page.contains("Page 1 of 2"), "{page}");
    let start = page.find("href=\"/admin/audit?").expect("a next-page link") + 6;
    let next = page[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(next.contains("what=patient.updated"), "{next}");
    let page = app.get_text_with(&admin, &next).await;
    assert!(page.contains("Page 2 of 2"), "{page}");
    assert_eq!(audit_rows(&page).len(), 10, "{page}");
}

async fn the_time_zone_picker_lists_common_zones_first_then_every_other_once(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let page = app.get_text_with(&admin, "/admin/clinic").await;
    let common = page
        .find("<optgroup label=\"Common zones\">")
        .expect("a group of common zones");
    let others = page
        .find("<optgroup label=\"All other zones\">")
        .expect("then all the others");
    assert!(common < others);
    let position = |zone: &str| {
        let option = format!(">{zone}</option>");
        assert_eq!(page.matches(&option).count(), 1, "{zone} is offered once");
        page.find(&option).unwrap()
    };
    for zone in [
        "Europe/London",
        "Europe/Dublin",
        "America/New_York",
        "America/Los_Angeles",
        "Australia/Sydney",
    ] {
        assert!(
            (common..others).contains(&position(zone)),
            "{zone} is common"
        );
    }
    assert!(position("Asia/Tokyo") > others);
    assert!(position("Africa/Abidjan") > others);
    assert!(
        page.contains("data-filter-label="),
        "static/app.js adds a box to filter it"
    );

    // An unknown zone is still refused with the clear message.
    let r = app
        .post_form_with(
            &admin,
            "/admin/clinic",
            &[
                ("name", "Glow Clinic"),
                ("time_zone", "Mars/Olympus_Mons"),
                ("send_hour", "9"),
                ("sender_email", "aftercare@glow.example"),
            ],
        )
        .await;
    assert_refused_saying(r, "Choose a time zone from the list, like Europe/London.").await;
}

/// The one-time link on a user's admin page.
fn link_on(page: &str) -> String {
    let start = page
        .find("/set-password/")
        .expect("the link is on the page");
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect()
}

/// An admin adds Pat with a set-password link: the user page they land on.
async fn add_pat_with_a_link(app: &TestApp, admin: &reqwest::Client) -> (i64, String) {
    let r = app
        .post_form_with(
            admin,
            "/admin/users/new",
            &[
                ("name", "Pat Jones"),
                ("email", "pat@clinic.example"),
                ("role", "practitioner"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let id = id_in_location(&r);
    (
        id,
        app.get_text_with(admin, &format!("/admin/users/{id}"))
            .await,
    )
}

async fn a_new_users_link_is_emailed_to_them_and_stays_on_their_page_until_used(db: Db) {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(db, &[("AFTERCARE_SMTP_URL", &sink.url())]).await;
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let admin = app.signed_in("admin").await;
    let (pat, page) = add_pat_with_a_link(&app, &admin).await;
    assert!(
        page.contains("Their one-time link to choose a password was emailed to pat@clinic.example"),
        "{page}"
    );
    let link = link_on(&page);
    let sent = sink.wait_for(1, std::time::Duration::from_secs(10)).await;
    assert_eq!(sent[0].rcpt_to, ["pat@clinic.example"], "to them only");
    let text = sent[0].text_part("text/plain").unwrap();
    assert!(text.contains(&format!("{}{link}", app.address)), "{text}");
    assert!(text.contains("Hello Pat Jones"), "{text}");
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.password_link_emailed".to_string()));

    // Still there on a later visit, the same link, until it expires.
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{pat}"))
        .await;
    assert_eq!(link_on(&page), link);
    assert!(
        page.contains("It was emailed to pat@clinic.example"),
        "{page}"
    );
    app.clock.advance(chrono::Duration::hours(73));
    // The admin's own session has timed out by then: another admin looks.
    let admin = app.signed_in("admin").await;
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{pat}"))
        .await;
    assert!(
        !page.contains("/set-password/"),
        "an expired link is not shown"
    );
    assert!(page.contains("their one-time link has expired"), "{page}");
    assert!(page.contains("Make a new link"), "{page}");

    // A fresh link: emailed again, shown, and different.
    let r = app
        .post_form_with(&admin, &format!("/admin/users/{pat}/password-link"), &[])
        .await;
    assert_redirect_to(&r, &format!("/admin/users/{pat}"));
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{pat}"))
        .await;
    let fresh = link_on(&page);
    assert_ne!(fresh, link);
    let sent = sink.wait_for(2, std::time::Duration::from_secs(10)).await;
    assert!(sent[1].text_part("text/plain").unwrap().contains(&fresh));

    // Used: gone from the page, which now offers a reset instead.
    let pat_browser = new_client();
    let newpass = "a brand new passphrase";
    let r = app
        .post_form_with(
            &pat_browser,
            &fresh,
            &[("password", newpass), ("password_confirm", newpass)],
        )
        .await;
    assert_redirect_to(&r, "/login");
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{pat}"))
        .await;
    assert!(!page.contains("/set-password/"), "{page}");
    assert!(page.contains("Reset password"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_users_link_is_emailed_on_sqlite() {
    a_new_users_link_is_emailed_to_them_and_stays_on_their_page_until_used(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(aftercare_pg),
    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
)]
async fn a_new_users_link_is_emailed_on_postgres() {
    a_new_users_link_is_emailed_to_them_and_stays_on_their_page_until_used(Db::Postgres).await;
}

/// Nothing listens on port 1: the mail server cannot be reached.
mod unreachable_mail {
    use super::*;

    async fn a_link_that_cannot_be_emailed_says_so_and_stays_on_the_page(app: TestApp) {
        let admin = app.signed_in("admin").await;
        let (_, page) = add_pat_with_a_link(&app, &admin).await;
        assert!(
            page.contains("flash-error")
                && page
                    .contains("Their one-time link could not be emailed to pat@clinic.example ("),
            "{page}"
        );
        assert!(page.contains("give them the link below yourself"), "{page}");
        link_on(&page);
        assert!(app
            .audit_actions()
            .await
            .contains(&"user.password_link_email_failed".to_string()));
    }

    crate::on_both_databases!(
        settings &[("AFTERCARE_SMTP_URL", "smtp://127.0.0.1:1")];
        a_link_that_cannot_be_emailed_says_so_and_stays_on_the_page,
    );
}

async fn without_a_mail_server_the_link_is_only_on_the_page(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let (_, page) = add_pat_with_a_link(&app, &admin).await;
    assert!(
        page.contains("Pat Jones was added. Give them the one-time link below"),
        "{page}"
    );
    link_on(&page);
    let files = std::fs::read_dir(app.mail_dir.path())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "no email written for the link");
}

crate::on_both_databases!(
    without_a_mail_server_the_link_is_only_on_the_page,
    the_audit_log_shows_clinic_time_and_filters_by_who_what_patient_and_clinic_dates,
    an_unreadable_audit_date_is_explained_beside_its_field,
    audit_pages_keep_their_filters,
    the_time_zone_picker_lists_common_zones_first_then_every_other_once,
);
