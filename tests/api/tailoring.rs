//! Tailoring a plan over HTTP: adjustments, a note for the patient, add-ons and considerations.

use crate::helpers::*;

/// The day of the pending email announcing retinol's return.
async fn retinol_day(app: &TestApp, id: i64) -> i64 {
    let sql = format!(
        "SELECT CAST(MAX(day) AS BIGINT) FROM reminders WHERE treatment_id = {id} \
         AND reminder_key = 'active-retinol' AND status = 'pending'"
    );
    scalar(app, &sql).await
}

async fn a_practitioner_tailors_a_plan_and_the_sheet_and_emails_show_it(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let form = app.treatment_form(&practitioner, patient).await;
    // Collapsed by default, and a plain form field: no script needed.
    assert!(form.contains("<details class=\"tailor\" id=\"tailor\">"));
    assert!(form.contains("name=\"adjust_heat-sweat-water\""));
    // What matters clinically is in sight: add-ons and skin considerations sit on the form,
    // before the folded section.
    let folded = form.find("<details class=\"tailor\"").unwrap();
    for tick in [
        "name=\"add_on\" value=\"prp\"",
        "name=\"consideration\" value=\"cold-sores\"",
    ] {
        assert!(
            form.find(tick).expect(tick) < folded,
            "{tick} is folded away"
        );
    }

    let (when, _) = yesterday_afternoon();
    let base = [
        ("treated_at", when.as_str()),
        ("area_0", "cheeks"),
        ("depth_0", "1.0"),
    ];
    // Out of range: the form comes back with the error beside the field, nothing saved.
    let mut wrong = base.to_vec();
    wrong.push(("adjust_heat-sweat-water", "500"));
    let r = app.record_treatment(&practitioner, patient, &wrong).await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"adjust_heat-sweat-water-error\""));
    assert!(page.contains("choose from 72 to 168 hours"));
    // With the areas known, the hint gives this plan's default only, long lengths also in days.
    assert!(page.contains("Default 72 hours; choose 72 hours to 168 hours (7 days)."));
    assert!(page.contains("<details class=\"tailor\" id=\"tailor\" open>"));
    assert_eq!(count_rows(&app, "treatments").await, 0);

    let mut tailored = base.to_vec();
    tailored.extend([
        ("adjust_heat-sweat-water", "96"),
        ("adjust_active-retinol", "21"),
        ("patient_note", "Use the balm we gave you twice a day."),
        ("add_on", "prp"),
        ("consideration", "darker-skin"),
    ]);
    let r = app
        .record_treatment(&practitioner, patient, &tailored)
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let id = id_in_location(&r);

    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await;
    assert!(sheet.contains("From your practitioner"));
    assert!(sheet.contains("Use the balm we gave you twice a day."));
    assert!(sheet.contains("Adjusted for you"));
    // The patient reads their own words, not the staff label of the form.
    assert!(sheet.contains("Plasma from your own blood (PRP)"));
    assert!(sheet.contains("Your skin and dark patches"));
    assert!(!sheet.contains("Darker skin tone: dark patches more likely"));
    // 96 h after yesterday 14:30 is three days from today, 14:30.
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let ends = (chrono::Utc::now().with_timezone(&tz).date_naive() + chrono::Duration::days(3))
        .format("Until %a %-d %b, 14:30")
        .to_string();
    assert!(sheet.contains(&ends), "sheet shows {ends}");

    // The next morning email says the same.
    let next = scalar(
        &app,
        &format!(
            "SELECT MIN(id) FROM reminders WHERE treatment_id = {id} AND kind = 'daily' \
             AND status = 'pending'"
        ),
    )
    .await;
    let email = app
        .get_text_with(
            &practitioner,
            &format!("/treatments/{id}/reminders/{next}/preview"),
        )
        .await;
    assert!(email.contains("From your practitioner"));
    assert!(email.contains("Use the balm we gave you twice a day."));
    assert!(email.contains("Adjusted for you"));

    // The consideration stays on the patient: the next treatment's form starts with it ticked.
    let form = app.treatment_form(&practitioner, patient).await;
    assert!(form.contains("value=\"darker-skin\" checked"));
    assert!(!form.contains("value=\"prp\" checked"));

    // The audit log records each adjustment, with who made it.
    let detail = scalar(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'treatment.recorded' \
         AND detail LIKE '%adjusted heat-sweat-water: 96 hours (default 72, by practitioner)%' \
         AND actor_id IS NOT NULL",
    )
    .await;
    assert_eq!(detail, 1);

    // Staff may not tailor: the form is still 403 for them.
    let staff = app.signed_in("staff").await;
    let r = app
        .get_with(&staff, &format!("/treatments/{id}/edit"))
        .await;
    assert_eq!(r.status().as_u16(), 403);

    // An edit back to the default reschedules and drops the mark.
    assert_eq!(retinol_day(&app, id).await, 21);
    let r = app
        .post_form_with(&practitioner, &format!("/treatments/{id}/edit"), &base)
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let sheet = app
        .get_text_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await;
    assert!(!sheet.contains("Adjusted for you"));
    assert!(!sheet.contains("From your practitioner"));
    assert_eq!(
        retinol_day(&app, id).await,
        14,
        "the edit rescheduled the reminders"
    );
}

crate::on_both_databases!(a_practitioner_tailors_a_plan_and_the_sheet_and_emails_show_it,);
