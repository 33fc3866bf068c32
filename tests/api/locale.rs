//! A clinic's locale: a US clinic's pages, sheet and emails write "Friday, December 4, 2026"
//! and "2:30 PM"; a UK clinic (the default) "Friday 4 December 2026" and "14:30". The wording
//! of the protocol stays as written.

use crate::helpers::*;

const ZONE: &str = "America/Los_Angeles";

/// An admin sets up a Los Angeles clinic that writes dates the US way; `locale` as sent.
async fn us_clinic(app: &TestApp, locale: &str) -> reqwest::Response {
    let admin = app.signed_in("admin").await;
    app.post_form_with(
        &admin,
        "/admin/clinic",
        &[
            ("name", "Sunset Skin"),
            ("phone", "(310) 555-0100"),
            ("email", "hello@sunset.example"),
            ("opening_hours", "Mon to Fri, 9 AM to 6 PM"),
            (
                "out_of_hours",
                "Call our answering service on (310) 555-0199.",
            ),
            ("time_zone", ZONE),
            ("send_hour", "9"),
            ("locale", locale),
            ("sender_email", "aftercare@sunset.example"),
        ],
    )
    .await
}

async fn a_us_clinic_writes_month_first_and_the_12_hour_clock_everywhere(app: TestApp) {
    let r = us_clinic(&app, "en-US").await;
    assert_eq!(r.status().as_u16(), 303, "settings saved");
    let practitioner = app.signed_in("practitioner").await;
    let tz: chrono_tz::Tz = ZONE.parse().unwrap();
    let day = chrono::Utc::now().with_timezone(&tz).date_naive() - chrono::Duration::days(1);
    let (_, treatment) = app
        .patient_with_treatment(
            &practitioner,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", &format!("{day}T14:30")),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let long = day.format("%A, %B %-d, %Y").to_string();
    let short = day.format("%a, %b %-d").to_string();

    // The printed sheet.
    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{treatment}/sheet"))
        .await;
    assert!(
        sheet.contains(&format!("Treated {long} at 2:30 PM")),
        "{sheet}"
    );
    assert!(
        sheet.contains(&format!("{short}, 2:30 PM – ")),
        "a phase's times"
    );
    assert!(!sheet.contains("14:30"), "a 24-hour time on a US sheet");

    // The staff's treatment page.
    let page = app
        .get_text_with(&practitioner, &format!("/treatments/{treatment}"))
        .await;
    assert!(page.contains(&format!("Treatment on {long}, 2:30 PM")));

    // Each email, as the patient gets it.
    let ids = with_conn(&app, move |conn| {
        use diesel::prelude::*;
        aftercare::usecases::store::schema::reminders::table
            .filter(aftercare::usecases::store::schema::reminders::treatment_id.eq(treatment))
            .select(aftercare::usecases::store::schema::reminders::id)
            .load::<i64>(conn)
            .unwrap()
    })
    .await;
    assert!(ids.len() > 3, "a plan's emails");
    for id in ids {
        let email = app
            .get_text_with(
                &practitioner,
                &format!("/treatments/{treatment}/reminders/{id}/preview"),
            )
            .await;
        assert!(
            email.contains(&format!("{long} at 2:30 PM")),
            "email {id} does not name the treatment the US way"
        );
        assert!(!email.contains("14:30"), "email {id} has a 24-hour time");
    }

    // An unknown locale is refused beside its field, and nothing changes.
    let r = us_clinic(&app, "fr-FR").await;
    assert_eq!(r.status().as_u16(), 422);
    let form = r.text().await.unwrap();
    assert!(form.contains("id=\"locale-error\""));
    let stored = with_conn(&app, |conn| {
        aftercare::usecases::clinic::get(conn).unwrap().locale
    })
    .await;
    assert_eq!(stored, aftercare::dates::Locale::EnUs);
}

async fn a_uk_clinic_keeps_day_first_and_the_24_hour_clock(app: TestApp) {
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let practitioner = app.signed_in("practitioner").await;
    let (when, day) = yesterday_afternoon();
    let (_, treatment) = app
        .patient_with_treatment(
            &practitioner,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{treatment}/sheet"))
        .await;
    let long = day.format("%A %-d %B %Y").to_string();
    assert!(
        sheet.contains(&format!("Treated {long} at 14:30")),
        "{sheet}"
    );
    assert!(!sheet.contains(" PM"));
}

crate::on_both_databases!(
    a_us_clinic_writes_month_first_and_the_12_hour_clock_everywhere,
    a_uk_clinic_keeps_day_first_and_the_24_hour_clock,
);
