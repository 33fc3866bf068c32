//! Every route names who may use it; this table checks each role against each
//! route, so a new route without a policy (or with the wrong one) shows up here.

use crate::helpers::*;

const ALL: &[&str] = &["admin", "practitioner", "staff"];
const CLINICIANS: &[&str] = &["admin", "practitioner"];
const FRONT_DESK: &[&str] = &["admin", "staff"];
const ADMINS: &[&str] = &["admin"];

/// (method, path, roles allowed). `{p}` is a patient, `{t}` a treatment
/// recorded by the practitioner, `{r}` one of its reminders.
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("GET", "/", ALL),
    ("GET", "/account/password", ALL),
    ("POST", "/account/password", ALL),
    ("GET", "/patients", ALL),
    ("GET", "/patients/new", ALL),
    ("POST", "/patients/new", ALL),
    ("GET", "/patients/{p}", ALL),
    ("GET", "/patients/{p}/edit", ALL),
    ("POST", "/patients/{p}/edit", ALL),
    ("GET", "/patients/{p}/export", ADMINS),
    ("GET", "/patients/{p}/erase", ADMINS),
    ("POST", "/patients/{p}/erase", ADMINS),
    ("GET", "/patients/{p}/treatments/new", CLINICIANS),
    ("POST", "/treatments", CLINICIANS),
    ("GET", "/treatments/{t}", ALL),
    ("GET", "/treatments/{t}/sheet", ALL),
    ("GET", "/treatments/{t}/reminders/{r}/preview", ALL),
    ("GET", "/treatments/{t}/edit", CLINICIANS),
    ("POST", "/treatments/{t}/edit", CLINICIANS),
    ("GET", "/treatments/{t}/delete", CLINICIANS),
    ("GET", "/outbox", FRONT_DESK),
    ("POST", "/outbox/{r}/retry", FRONT_DESK),
    ("POST", "/outbox/{r}/cancel", FRONT_DESK),
    ("GET", "/attention", ALL),
    ("POST", "/attention/1/acknowledge", ALL),
    ("GET", "/checkins/1/photo", ALL),
    ("GET", "/admin/clinic", ADMINS),
    ("POST", "/admin/clinic", ADMINS),
    ("GET", "/admin/retention", ADMINS),
    ("POST", "/admin/retention", ADMINS),
    ("GET", "/admin/users", ADMINS),
    ("GET", "/admin/users/new", ADMINS),
    ("POST", "/admin/users/new", ADMINS),
    ("GET", "/admin/users/1", ADMINS),
    ("POST", "/admin/users/1/role", ADMINS),
    ("POST", "/admin/users/1/password-link", ADMINS),
    ("GET", "/admin/audit", ADMINS),
    ("GET", "/admin/system", ADMINS),
];

async fn each_role_gets_403_exactly_on_the_routes_it_may_not_use(app: TestApp) {
    app.add_user("owner@clinic.example", "admin").await; // user 1
    let practitioner = app.signed_in("practitioner").await;
    let patient = app
        .add_patient(&practitioner, "Ana Lima", "ana@example.com")
        .await;
    let p = patient.to_string();
    let when = clinic_time(-chrono::Duration::hours(1));
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await;
    let t = id_in_location(&r);
    let reminder = with_conn(&app, move |conn| {
        aftercare::store::reminders::for_treatment(conn, t).unwrap()[0].id
    })
    .await;
    let clients = [
        ("admin", app.signed_in("admin").await),
        ("practitioner", practitioner),
        ("staff", app.signed_in("staff").await),
    ];

    for (method, pattern, allowed) in ROUTES {
        let path = pattern
            .replace("{p}", &p)
            .replace("{t}", &t.to_string())
            .replace("{r}", &reminder.to_string());
        for (role, client) in &clients {
            let status = match *method {
                "GET" => app.get_with(client, &path).await.status().as_u16(),
                // Valid CSRF token, harmless (mostly invalid) fields: only the role decides 403.
                _ => app
                    .post_form_with(client, &path, &[("role", "admin")])
                    .await
                    .status()
                    .as_u16(),
            };
            if allowed.contains(role) {
                assert_ne!(status, 403, "{role} must be allowed {method} {path}");
                assert!(status < 500, "{role} {method} {path} gave {status}");
            } else {
                assert_eq!(status, 403, "{role} must be refused {method} {path}");
            }
        }
    }
}

crate::on_both_databases!(each_role_gets_403_exactly_on_the_routes_it_may_not_use);
