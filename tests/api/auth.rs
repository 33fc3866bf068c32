//! First-run setup, log-in, lock-out, sessions and passwords.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::helpers::*;
use aftercare::usecases::accounts;
use aftercare::usecases::store;

async fn setup_token(app: &TestApp) -> String {
    with_conn(app, |conn| accounts::issue_setup_token(conn).unwrap())
        .await
        .expect("no user yet, so a setup token")
}

async fn user_count(app: &TestApp) -> i64 {
    with_conn(app, |conn| store::users::count(conn).unwrap()).await
}

async fn first_run_setup_works_once_and_only_once(app: TestApp) {
    let token = setup_token(&app).await;
    let path = format!("/setup/{token}");
    let page = app.get_text(&path).await;
    assert!(page.contains("Create the clinic's first admin account"));

    // A mistake keeps what was typed and says what is wrong, beside the field.
    let response = app
        .post_form(
            &path,
            &[
                ("name", "Ana Admin"),
                ("email", "ana@clinic.example"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Use at least 12 characters."));
    assert!(html.contains("value=\"ana@clinic.example\""));
    assert_eq!(user_count(&app).await, 0);

    let response = app
        .post_form(
            &path,
            &[
                ("name", "Ana Admin"),
                ("email", "Ana@Clinic.example"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_redirect_to(&response, "/login");
    assert_eq!(user_count(&app).await, 1);

    // The link is spent: neither the page nor the form works again.
    assert_eq!(app.get(&path).await.status().as_u16(), 404);
    let again = app
        .post_form(
            &path,
            &[
                ("name", "Eve"),
                ("email", "eve@clinic.example"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status().as_u16(), 404);
    assert_eq!(user_count(&app).await, 1);

    // The new admin signs in with the (case-insensitive) email.
    let response = app
        .log_in_with(&app.client, "ana@clinic.example", PASSWORD)
        .await;
    assert_redirect_to(&response, "/");
    let home = app.get_text("/").await;
    assert!(home.contains("Hello, Ana Admin"));
    assert!(home.contains("Clinic admin"));
    assert!(
        with_conn(&app, |conn| accounts::issue_setup_token(conn).unwrap())
            .await
            .is_none()
    );
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_message(app: TestApp) {
    app.add_user("pat@clinic.example", "practitioner").await;
    let wrong = app
        .log_in_with(&app.client, "pat@clinic.example", "not the password")
        .await;
    assert_eq!(wrong.status().as_u16(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .log_in_with(&app.client, "nobody@clinic.example", "not the password")
        .await;
    assert_eq!(unknown.status().as_u16(), 401);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("Email or password is incorrect."));
    assert!(unknown.contains("Email or password is incorrect."));
    // What was typed stays; the password does not.
    assert!(wrong.contains("value=\"pat@clinic.example\""));
    assert!(!wrong.contains("not the password"));

    let ok = app
        .log_in_with(&app.client, "pat@clinic.example", PASSWORD)
        .await;
    assert_redirect_to(&ok, "/");
    assert!(app.get_text("/").await.contains("Practitioner"));
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"login.failed".to_string()));
    assert!(actions.contains(&"login.succeeded".to_string()));
}

async fn the_sixth_wrong_password_meets_a_locked_account(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    for attempt in 1..=5 {
        let r = app
            .log_in_with(&app.client, "sam@clinic.example", "wrong password!")
            .await;
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Email or password is incorrect."),
            "attempt {attempt}"
        );
    }
    let sixth = app
        .log_in_with(&app.client, "sam@clinic.example", "wrong password!")
        .await;
    assert!(sixth
        .text()
        .await
        .unwrap()
        .contains("locked for 15 minutes"));
    // Even the right password is refused while locked.
    let right = app
        .log_in_with(&app.client, "sam@clinic.example", PASSWORD)
        .await;
    assert_eq!(right.status().as_u16(), 401);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("locked for 15 minutes"));
    assert_redirect_to(&app.get("/").await, "/login?next=%2F");
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"login.locked".to_string()));
    assert!(actions.contains(&"login.refused_locked".to_string()));
}

async fn one_client_address_is_throttled_after_many_failures(app: TestApp) {
    // Different accounts, so no single account locks first.
    for i in 0..aftercare::auth::lockout::IP_THRESHOLD {
        let email = format!("guess{i}@clinic.example");
        let r = app
            .log_in_with(&app.client, &email, "wrong password!")
            .await;
        assert_eq!(r.status().as_u16(), 401);
    }
    let r = app
        .log_in_with(&app.client, "guess-last@clinic.example", "wrong password!")
        .await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("too many failed sign-in attempts"));
}

async fn a_deactivated_users_open_session_stops_working(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let staff_id = app.add_user("desk@clinic.example", "staff").await;
    let staff = new_client();
    assert_redirect_to(
        &app.log_in_with(&staff, "desk@clinic.example", PASSWORD)
            .await,
        "/",
    );
    assert_eq!(app.get_with(&staff, "/").await.status().as_u16(), 200);

    let r = app
        .post_form_with(&admin, &format!("/admin/users/{staff_id}/deactivate"), &[])
        .await;
    assert_redirect_to(&r, &format!("/admin/users/{staff_id}"));

    assert_redirect_to(&app.get_with(&staff, "/").await, "/login?next=%2F");
    // And they cannot sign in again.
    let again = app
        .log_in_with(&staff, "desk@clinic.example", PASSWORD)
        .await;
    assert_eq!(again.status().as_u16(), 401);
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.deactivated".to_string()));
}

async fn next_to_another_host_is_ignored(app: TestApp) {
    app.add_user("pat@clinic.example", "practitioner").await;
    for (next, expected) in [
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/account/password", "/account/password"),
    ] {
        let r = app
            .log_in_then(&new_client(), "pat@clinic.example", next)
            .await;
        assert_redirect_to(&r, expected);
    }
    // The log-in page carries `next` through its form.
    let page = app
        .get_with(&new_client(), "/login?next=%2Fadmin%2Faudit")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&page, "next").as_deref(), Some("/admin/audit"));
}

async fn a_session_ends_after_the_idle_timeout(app: TestApp) {
    let client = app.signed_in("staff").await;
    assert_eq!(app.get_with(&client, "/").await.status().as_u16(), 200);
    // Nine hours without a request (the default idle timeout is eight).
    let now = app.now();
    with_conn(&app, move |conn| {
        use aftercare::usecases::store::schema::sessions;
        use diesel::prelude::*;
        diesel::update(sessions::table)
            .set(sessions::last_seen_at.eq(now - chrono::Duration::hours(9)))
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_redirect_to(&app.get_with(&client, "/").await, "/login?next=%2F");
}

async fn a_password_reset_ends_sessions_and_its_link_works_once(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let user_id = app.add_user("pat@clinic.example", "practitioner").await;
    let pat = new_client();
    app.log_in_with(&pat, "pat@clinic.example", PASSWORD).await;

    let r = app
        .post_form_with(
            &admin,
            &format!("/admin/users/{user_id}/password-link"),
            &[],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // The link does not travel in the flash cookie (nor in any cookie).
    for cookie in r.headers().get_all("set-cookie") {
        let value = cookie.to_str().unwrap();
        let payload = value.split(['=', '.', ';']).nth(1).unwrap_or_default();
        let decoded = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&decoded).contains("set-password"),
            "{value}"
        );
    }
    // The old password has ended at once: it was reset because it may have leaked.
    assert_eq!(
        app.log_in_with(&new_client(), "pat@clinic.example", PASSWORD)
            .await
            .status()
            .as_u16(),
        401
    );
    // The admin's page shows the link, from the server, until it is used.
    let page = app
        .get_with(&admin, &format!("/admin/users/{user_id}"))
        .await
        .text()
        .await
        .unwrap();
    let start = page
        .find("/set-password/")
        .expect("the link is shown to the admin");
    let link: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();

    // Their open session is gone.
    assert_redirect_to(&app.get_with(&pat, "/").await, "/login?next=%2F");

    let newpass = "a brand new passphrase";
    let r = app
        .post_form_with(
            &pat,
            &link,
            &[("password", newpass), ("password_confirm", newpass)],
        )
        .await;
    assert_redirect_to(&r, "/login");
    assert_eq!(app.get_with(&pat, &link).await.status().as_u16(), 404);
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{user_id}"))
        .await;
    assert!(
        !page.contains("/set-password/"),
        "a used link is no longer shown"
    );
    assert_eq!(
        app.log_in_with(&pat, "pat@clinic.example", PASSWORD)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_redirect_to(
        &app.log_in_with(&pat, "pat@clinic.example", newpass).await,
        "/",
    );
}

async fn users_change_their_own_password(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    let (laptop, desk) = (new_client(), new_client());
    app.log_in_with(&laptop, "sam@clinic.example", PASSWORD)
        .await;
    app.log_in_with(&desk, "sam@clinic.example", PASSWORD).await;

    let bad = app
        .post_form_with(
            &laptop,
            "/account/password",
            &[
                ("current_password", "nope"),
                ("password", "x"),
                ("password_confirm", "x"),
            ],
        )
        .await;
    assert_eq!(bad.status().as_u16(), 422);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains("This is not your current password."));
    assert!(bad.contains("Use at least 12 characters."));

    let newpass = "another long passphrase";
    let ok = app
        .post_form_with(
            &laptop,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", newpass),
                ("password_confirm", newpass),
            ],
        )
        .await;
    assert_redirect_to(&ok, "/");
    assert_eq!(
        app.get_with(&laptop, "/").await.status().as_u16(),
        200,
        "this session stays"
    );
    assert_eq!(
        app.get_with(&desk, "/").await.status().as_u16(),
        303,
        "other sessions end"
    );
}

async fn wrong_current_passwords_lock_like_sign_in_failures_and_are_audited(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    let sam = new_client();
    app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await;
    let newpass = "another long passphrase";
    let change = |current: &'static str| {
        let sam = sam.clone();
        let app = &app;
        async move {
            let r = app
                .post_form_with(
                    &sam,
                    "/account/password",
                    &[
                        ("current_password", current),
                        ("password", newpass),
                        ("password_confirm", newpass),
                    ],
                )
                .await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for _ in 0..5 {
        let (status, page) = change("a guess at it").await;
        assert_eq!(status, 422);
        assert!(page.contains("This is not your current password."));
    }
    // The sixth meets the lock, even with the right password.
    let (status, page) = change(PASSWORD).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("your account is locked for 15 minutes"),
        "{page}"
    );
    let audited = "SELECT count(*) FROM audit_log \
                   WHERE action = 'user.password_change_failed' AND subject = 'sam@clinic.example'";
    assert_eq!(scalar(&app, audited).await, 5);
    // The same lock as sign-in's: this address cannot sign in as Sam either.
    let r = app
        .log_in_with(&new_client(), "sam@clinic.example", PASSWORD)
        .await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("locked for 15 minutes"));
    // Once it has passed, the right password changes it.
    app.clock.advance(chrono::Duration::minutes(16));
    let (status, _) = change(PASSWORD).await;
    assert_eq!(status, 303);
}

async fn signing_out_ends_the_session(app: TestApp) {
    let client = app.signed_in("staff").await;
    let r = app.post_form_with(&client, "/logout", &[]).await;
    assert_redirect_to(&r, "/login");
    assert!(app
        .get_with(&client, "/login")
        .await
        .text()
        .await
        .unwrap()
        .contains("You are signed out."));
    assert_redirect_to(&app.get_with(&client, "/").await, "/login?next=%2F");
}

crate::on_both_databases!(
    first_run_setup_works_once_and_only_once,
    a_wrong_password_and_an_unknown_email_get_the_same_message,
    the_sixth_wrong_password_meets_a_locked_account,
    one_client_address_is_throttled_after_many_failures,
    a_deactivated_users_open_session_stops_working,
    next_to_another_host_is_ignored,
    a_session_ends_after_the_idle_timeout,
    a_password_reset_ends_sessions_and_its_link_works_once,
    users_change_their_own_password,
    wrong_current_passwords_lock_like_sign_in_failures_and_are_audited,
    signing_out_ends_the_session,
);
