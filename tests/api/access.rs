//! CSRF, and user administration (who may use which route: `routes.rs`).

use crate::helpers::*;
use aftercare::usecases::store;

async fn a_post_without_a_valid_csrf_token_changes_nothing(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let fields = [
        ("name", "Mallory"),
        ("email", "mallory@clinic.example"),
        ("role", "admin"),
        ("password_mode", "password"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    let missing = app.post_raw_with(&admin, "/admin/users/new", &fields).await;
    assert_eq!(missing.status().as_u16(), 403);
    assert!(missing
        .text()
        .await
        .unwrap()
        .contains("This form has expired"));
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "forged-token"));
    assert_eq!(
        app.post_raw_with(&admin, "/admin/users/new", &forged)
            .await
            .status()
            .as_u16(),
        403
    );
    // A token from another browser does not work either.
    let other = app.csrf_for(&new_client()).await;
    let mut stolen = fields.to_vec();
    stolen.push(("csrf_token", &other));
    assert_eq!(
        app.post_raw_with(&admin, "/admin/users/new", &stolen)
            .await
            .status()
            .as_u16(),
        403
    );
    // Log-in and log-out need the token too.
    assert_eq!(
        app.post_raw_with(&admin, "/logout", &[])
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        app.get_with(&admin, "/").await.status().as_u16(),
        200,
        "still signed in"
    );

    let found = with_conn(&app, |conn| {
        store::users::find_by_email(conn, "mallory@clinic.example").unwrap()
    })
    .await;
    assert!(found.is_none());
    // With the token, the same form works.
    assert_eq!(
        app.post_form_with(&admin, "/admin/users/new", &fields)
            .await
            .status()
            .as_u16(),
        303
    );
}

async fn admins_add_users_and_manage_roles(app: TestApp) {
    let admin = app.signed_in("admin").await;
    // Errors beside the fields, values kept.
    let r = app
        .post_form_with(
            &admin,
            "/admin/users/new",
            &[
                ("name", ""),
                ("email", "not-an-email"),
                ("role", "root"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter the person"));
    assert!(html.contains("Enter an email address like name@clinic.com."));
    assert!(html.contains("Choose a role."));
    assert!(html.contains("value=\"not-an-email\""));

    // A one-time link instead of a password.
    let r = app
        .post_form_with(
            &admin,
            "/admin/users/new",
            &[
                ("name", "Nia Nurse"),
                ("email", "nia@clinic.example"),
                ("role", "practitioner"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let page = app.get_with(&admin, &location).await.text().await.unwrap();
    assert!(page.contains("Nia Nurse was added"));
    let start = page.find("/set-password/").unwrap();
    let link: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();
    let nia = new_client();
    let pass = "nia's own passphrase";
    assert_redirect_to(
        &app.post_form_with(
            &nia,
            &link,
            &[("password", pass), ("password_confirm", pass)],
        )
        .await,
        "/login",
    );
    assert_redirect_to(
        &app.log_in_with(&nia, "nia@clinic.example", pass).await,
        "/",
    );

    // Role change shows at once, and duplicates are refused.
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    app.post_form_with(
        &admin,
        &format!("/admin/users/{id}/role"),
        &[("role", "staff")],
    )
    .await;
    assert!(app
        .get_with(&nia, "/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Front desk"));
    let dup = app
        .post_form_with(
            &admin,
            "/admin/users/new",
            &[
                ("name", "Nia 2"),
                ("email", "NIA@clinic.example"),
                ("role", "staff"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert!(dup
        .text()
        .await
        .unwrap()
        .contains("Someone already has an account with this email."));
    let list = app
        .get_with(&admin, "/admin/users")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Nia Nurse") && list.contains("nia@clinic.example"));
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"user.created".to_string()));
    assert!(actions.contains(&"user.role_changed".to_string()));
}

async fn the_last_admin_cannot_be_demoted_or_deactivated(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let r = app
        .post_form_with(&admin, "/admin/users/1/role", &[("role", "staff")])
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("only active admin"));
    let other = app.add_user("boss@clinic.example", "admin").await;
    app.post_form_with(&admin, &format!("/admin/users/{other}/deactivate"), &[])
        .await;
    let r = app
        .post_form_with(&admin, "/admin/users/1/role", &[("role", "staff")])
        .await;
    assert_eq!(r.status().as_u16(), 422, "the other admin is deactivated");
    let reactivated = app
        .post_form_with(&admin, &format!("/admin/users/{other}/reactivate"), &[])
        .await;
    assert_eq!(reactivated.status().as_u16(), 303);
    assert_eq!(
        app.post_form_with(&admin, "/admin/users/1/role", &[("role", "staff")])
            .await
            .status()
            .as_u16(),
        303
    );
}

async fn the_audit_log_lists_events_newest_first(app: TestApp) {
    let admin = app.signed_in("admin").await;
    app.log_in_with(&new_client(), "someone@clinic.example", "wrong password!")
        .await;
    let html = app
        .get_with(&admin, "/admin/audit")
        .await
        .text()
        .await
        .unwrap();
    let failed = html.find("login.failed").expect("failure listed");
    let succeeded = html.find("login.succeeded").expect("success listed");
    assert!(failed < succeeded, "newest first");
    assert!(html.contains("someone@clinic.example"));
    assert!(html.contains("Page 1 of 1"));
}

crate::on_both_databases!(
    a_post_without_a_valid_csrf_token_changes_nothing,
    admins_add_users_and_manage_roles,
    the_last_admin_cannot_be_demoted_or_deactivated,
    the_audit_log_lists_events_newest_first,
);
