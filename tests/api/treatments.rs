//! Patients, recording treatments, the sheet and the patient's link.

use crate::helpers::*;
use aftercare::usecases::store;

async fn a_practitioner_records_a_treatment_and_the_sheet_shows_its_dates(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Maya Patel", "maya@example.com")
        .await;
    let (when, day) = yesterday_afternoon();
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
                ("area_1", "forehead"),
                ("depth_1", "0.5"),
                ("device", "Pen A6"),
                ("products", "HA serum"),
                ("internal_notes", "Patient nervous; check in"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let id = id_in_location(&r);
    assert_eq!(r.headers()["location"], format!("/treatments/{id}"));

    let sheet = app
        .get_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await
        .text()
        .await
        .unwrap();
    assert!(sheet.contains("Maya Patel"));
    assert!(sheet.contains("Cheeks (1.0 mm)") && sheet.contains("Forehead (0.5 mm)"));
    // The first phase starts at the treatment: its weekday and date are the patient's own.
    let first = format!("{}, 14:30", day.format("%a %-d %b"));
    assert!(sheet.contains(&first), "sheet shows {first}");
    let next_day = (day + chrono::Duration::days(1))
        .format("%a %-d %b")
        .to_string();
    assert!(sheet.contains(&next_day), "sheet shows {next_day}");
    assert!(sheet.contains("When your skincare can come back"));
    assert!(sheet.contains("When to get help"));
    assert!(
        !sheet.contains("Patient nervous"),
        "internal notes never reach the sheet"
    );

    // Stored in one piece: the treatment, its two areas and the plan.
    let (areas, plan_json) = with_conn(&app, move |conn| {
        (
            store::treatments::areas(conn, id).unwrap().len(),
            store::treatments::find(conn, id)
                .unwrap()
                .unwrap()
                .plan_json,
        )
    })
    .await;
    assert_eq!(areas, 2);
    assert!(plan_json.contains("\"phases\""));
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"treatment.recorded".to_string()));
    assert!(actions.contains(&"sheet.opened_by_staff".to_string()));

    let home = app.get_with(&practitioner, "/").await.text().await.unwrap();
    assert!(home.contains("Recent treatments") && home.contains("Maya Patel"));
    // A second treatment for the same patient.
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "neck"),
                ("depth_0", "0.75"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let page = app
        .get_with(&practitioner, &format!("/patients/{patient}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("Aftercare sheet</a>").count(), 2);
}

async fn invalid_treatments_get_field_errors_and_save_nothing(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Jo Bloggs", "jo@example.com")
        .await;
    let (when, _) = yesterday_afternoon();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("treated_at", when.as_str())],
            "Add at least one treated area",
        ),
        (
            &[
                ("treated_at", when.as_str()),
                ("area_0", "cheeks"),
                ("depth_0", "7"),
            ],
            "Enter the needle depth in mm, from 0.1 to 3",
        ),
        (
            &[
                ("treated_at", "2099-01-01T10:00"),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
            "This date is in the future",
        ),
    ];
    for (fields, message) in cases {
        let r = app.record_treatment(&practitioner, patient, fields).await;
        assert_eq!(r.status().as_u16(), 422, "{message}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "{message}");
        assert!(html.contains("Nothing was saved"));
    }
    // What was typed is kept.
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", "2099-01-01T10:00"),
                ("area_0", "cheeks"),
                ("depth_0", "7"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"2099-01-01T10:00\"") && html.contains("value=\"7\""));
    assert!(html.contains("<option value=\"cheeks\" selected"));
    let count = with_conn(&app, move |conn| {
        store::treatments::for_patient(conn, patient).unwrap().len()
    })
    .await;
    assert_eq!(count, 0);
}

async fn a_missing_email_with_consent_is_refused(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let r = app
        .post_form_with(
            &staff,
            "/patients/new",
            &[("name", "No Mail"), ("email_consent", "yes")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter an email address to send aftercare emails to"));
    assert!(html.contains("value=\"No Mail\""));
    let found = with_conn(&app, |conn| {
        store::patients::search(conn, "no mail", 0, 10)
            .unwrap()
            .len()
    })
    .await;
    assert_eq!(found, 0);
    // Without consent, no email is needed.
    assert_eq!(
        app.post_form_with(&staff, "/patients/new", &[("name", "No Mail")])
            .await
            .status()
            .as_u16(),
        303
    );
}

async fn staff_view_and_print_but_may_not_record_or_edit(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let staff = app.signed_in("staff").await;
    let patient = app.add_patient(&staff, "Ana Lima", "ana@example.com").await;
    let (when, _) = yesterday_afternoon();
    let id = id_in_location(
        &app.record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await,
    );

    for path in [
        format!("/patients/{patient}"),
        format!("/treatments/{id}"),
        format!("/treatments/{id}/sheet"),
        "/patients?q=ana".into(),
    ] {
        assert_eq!(
            app.get_with(&staff, &path).await.status().as_u16(),
            200,
            "{path}"
        );
    }
    for path in [
        format!("/patients/{patient}/treatments/new"),
        format!("/treatments/{id}/edit"),
        format!("/treatments/{id}/delete"),
    ] {
        assert_eq!(
            app.get_with(&staff, &path).await.status().as_u16(),
            403,
            "GET {path}"
        );
    }
    let r = app
        .record_treatment(
            &staff,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    for path in [
        format!("/treatments/{id}/edit"),
        format!("/treatments/{id}/delete"),
    ] {
        let r = app
            .post_form_with(
                &staff,
                &path,
                &[("treated_at", &when), ("area_0", "neck"), ("depth_0", "2")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 403, "POST {path}");
    }
    // Another practitioner may not change someone else's treatment either.
    let other = app.signed_in("practitioner").await;
    assert_eq!(
        app.get_with(&other, &format!("/treatments/{id}/edit"))
            .await
            .status()
            .as_u16(),
        403
    );
    let unchanged = with_conn(&app, move |conn| {
        store::treatments::areas(conn, id).unwrap()
    })
    .await;
    assert_eq!(unchanged[0].area_id, "cheeks");
    // Only admins change clinic settings.
    assert_eq!(
        app.get_with(&staff, "/admin/clinic")
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        app.get_with(&practitioner, "/admin/clinic")
            .await
            .status()
            .as_u16(),
        403
    );
}

async fn an_edit_recomputes_the_plan_and_a_delete_hides_it(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let (when, _) = yesterday_afternoon();
    let (patient, id) = app
        .patient_with_treatment(
            &practitioner,
            "Sol Rivera",
            "sol@example.com",
            &[
                ("treated_at", &when),
                ("area_0", "periorbital"),
                ("depth_0", "0.25"),
            ],
        )
        .await;
    let before = app
        .get_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await
        .text()
        .await
        .unwrap();

    let r = app
        .post_form_with(
            &practitioner,
            &format!("/treatments/{id}/edit"),
            &[
                ("treated_at", &when),
                ("area_0", "abdomen"),
                ("depth_0", "2.0"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let after = app
        .get_with(&practitioner, &format!("/treatments/{id}/sheet"))
        .await
        .text()
        .await
        .unwrap();
    assert!(after.contains("(2.0 mm)") && !after.contains("0.25 mm"));
    assert_ne!(before, after, "the plan was recomputed");

    let confirm = app
        .get_with(&practitioner, &format!("/treatments/{id}/delete"))
        .await
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("Delete this treatment?"));
    let r = app
        .post_form_with(&practitioner, &format!("/treatments/{id}/delete"), &[])
        .await;
    assert_redirect_to(&r, &format!("/patients/{patient}"));
    assert_eq!(
        app.get_with(&practitioner, &format!("/treatments/{id}/sheet"))
            .await
            .status()
            .as_u16(),
        404
    );
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"treatment.edited".to_string())
            && actions.contains(&"treatment.deleted".to_string())
    );
}

async fn the_patient_link_opens_the_sheet_and_a_tampered_one_is_404(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let (when, _) = yesterday_afternoon();
    let (_, id) = app
        .patient_with_treatment(
            &practitioner,
            "Kim Lee",
            "kim@example.com",
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await;
    let page = app
        .get_with(&practitioner, &format!("/treatments/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let link = hidden_value(&page, "patient-link").or_else(|| {
        let start = page.find(&format!("{}/s/", app.address))?;
        Some(page[start..].split('"').next()?.to_string())
    });
    let link = link.expect("the treatment page shows the patient's link");
    let path = link.strip_prefix(&app.address).unwrap().to_string();

    let anonymous = new_client();
    let r = app.get_with(&anonymous, &path).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(r.headers()["x-robots-tag"]
        .to_str()
        .unwrap()
        .contains("noindex"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Kim Lee") && html.contains("noindex"));

    let other_id = format!("/s/t{}.{}", id + 1, path.rsplit('.').next().unwrap());
    let mut flipped = path.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [other_id.as_str(), flipped.as_str(), "/s/t1", "/s/garbage"] {
        assert_eq!(
            app.get_with(&anonymous, bad).await.status().as_u16(),
            404,
            "{bad}"
        );
    }
    assert!(app
        .audit_actions()
        .await
        .contains(&"sheet.opened_by_patient".to_string()));
}

async fn patients_are_found_by_name_or_email(app: TestApp) {
    let staff = app.signed_in("staff").await;
    app.add_patient(&staff, "Zoë Adams", "zoe@example.com")
        .await;
    app.add_patient(&staff, "Bob 100% Real", "bob@example.com")
        .await;
    let html = app
        .get_with(&staff, "/patients?q=ZOË")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Zoë Adams") && !html.contains("Bob"));
    let html = app
        .get_with(&staff, "/patients?q=bob%40ex")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Bob 100% Real"));
    // LIKE wildcards in the query are taken literally.
    let html = app
        .get_with(&staff, "/patients?q=%25")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Bob 100% Real") && !html.contains("Zoë"));
    // A duplicate email is warned about.
    let r = app
        .post_form_with(
            &staff,
            "/patients/new",
            &[("name", "Zoe A."), ("email", "ZOE@example.com")],
        )
        .await;
    let page = app
        .get_with(&staff, r.headers()["location"].to_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("another patient has the same email"));
}

async fn admins_set_the_clinic_details_used_on_sheets(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let bad = app
        .post_form_with(
            &admin,
            "/admin/clinic",
            &[
                ("name", "Glow"),
                ("time_zone", "Mars/Base"),
                ("send_hour", "9"),
                ("sender_email", "x"),
            ],
        )
        .await;
    assert_eq!(bad.status().as_u16(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("Choose a time zone from the list"));
    assert!(html.contains("value=\"Glow\""));
    let ok = app
        .post_form_with(
            &admin,
            "/admin/clinic",
            &[
                ("name", "Glow Skin Clinic"),
                ("phone", "020 7946 0000"),
                ("time_zone", "America/New_York"),
                ("send_hour", "8"),
                ("sender_email", "aftercare@glow.example"),
                ("out_of_hours", "Call 911 in an emergency."),
            ],
        )
        .await;
    assert_redirect_to(&ok, "/admin/clinic");
    let patient = app
        .add_patient(&admin, "Eve Stone", "eve@example.com")
        .await;
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let day = chrono::Utc::now().with_timezone(&tz).date_naive() - chrono::Duration::days(1);
    let id = id_in_location(
        &app.record_treatment(
            &admin,
            patient,
            &[
                ("treated_at", &format!("{day}T10:00")),
                ("area_0", "hands"),
                ("depth_0", "1"),
            ],
        )
        .await,
    );
    let sheet = app
        .get_with(&admin, &format!("/treatments/{id}/sheet"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        sheet.contains("Glow Skin Clinic")
            && sheet.contains("020 7946 0000")
            && sheet.contains("Call 911 in an emergency.")
    );
}

/// A depth outside the area's usual range comes back once, with the warning beside it and a
/// "Yes, this depth is right" box: nothing is saved and no email queued until it is ticked for
/// that very depth; then the audit log says it was confirmed, and an edit keeps the
/// confirmation only while the depth stays the same.
async fn an_unusual_depth_is_confirmed_before_anything_is_saved_or_emailed(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Jo Bloggs", "jo@example.com")
        .await;
    let (when, _) = yesterday_afternoon();
    let with = |confirmed: &'static str, depth: &'static str| {
        let mut fields = vec![
            ("treated_at", when.clone()),
            ("area_0", "periorbital".to_string()),
            ("depth_0", depth.to_string()),
            ("area_1", "cheeks".to_string()),
            ("depth_1", "1.0".to_string()),
        ];
        if !confirmed.is_empty() {
            fields.push(("depth_confirmed", confirmed.to_string()));
        }
        fields
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, practitioner) = (&app, &practitioner);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.record_treatment(practitioner, patient, &fields).await
        }
    };

    let r = post(with("", "2.0")).await;
    assert_eq!(
        r.status().as_u16(),
        422,
        "an unusual depth is not saved unasked"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("Nothing was saved"));
    assert!(html.contains(
        "2.0 mm is deeper than usual here: Around the eyes is usually treated at 0.2–0.5 mm."
    ));
    assert!(html.contains(
        "<input type=\"checkbox\" name=\"depth_confirmed\" value=\"periorbital 2.0\"> Yes, this depth is right"
    ));
    assert!(html.contains("value=\"2.0\""), "the depth as typed is kept");
    // A tick given for another depth does not confirm this one.
    let r = post(with("periorbital 1.5", "2.0")).await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(count_rows(&app, "treatments").await, 0);
    assert_eq!(count_rows(&app, "reminders").await, 0, "no email queued");

    let r = post(with("periorbital 2.0", "2.0")).await;
    assert_eq!(r.status().as_u16(), 303, "confirmed, it is recorded");
    let id = id_in_location(&r);
    assert_eq!(count_rows(&app, "treatments").await, 1);
    assert!(
        count_rows(&app, "reminders").await > 0,
        "its emails are queued"
    );
    let audited = scalar(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'treatment.recorded' \
         AND detail LIKE '%unusual depth confirmed: periorbital 2%'",
    )
    .await;
    assert_eq!(audited, 1);

    // Editing: the stored depth stays confirmed; a new unusual depth asks again.
    let form = app
        .get_text_with(&practitioner, &format!("/treatments/{id}/edit"))
        .await;
    assert!(form.contains("value=\"periorbital 2.0\" checked"));
    let edit = |fields: Vec<(&'static str, String)>| {
        let (app, practitioner) = (&app, &practitioner);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form_with(practitioner, &format!("/treatments/{id}/edit"), &fields)
                .await
        }
    };
    assert_eq!(
        edit(with("periorbital 2.0", "2.0")).await.status().as_u16(),
        303
    );
    assert_eq!(
        edit(with("periorbital 2.0", "2.5")).await.status().as_u16(),
        422
    );
}

crate::on_both_databases!(
    an_unusual_depth_is_confirmed_before_anything_is_saved_or_emailed,
    a_practitioner_records_a_treatment_and_the_sheet_shows_its_dates,
    invalid_treatments_get_field_errors_and_save_nothing,
    a_missing_email_with_consent_is_refused,
    staff_view_and_print_but_may_not_record_or_edit,
    an_edit_recomputes_the_plan_and_a_delete_hides_it,
    the_patient_link_opens_the_sheet_and_a_tampered_one_is_404,
    patients_are_found_by_name_or_email,
    admins_set_the_clinic_details_used_on_sheets,
);
