//! The faults an attacker or a careless user found (issue 11), each shown
//! fixed as a user meets the app: redirects, header-safe names, lock-outs,
//! CSRF bound to a session, revoked links, limits, HEAD.

use std::net::IpAddr;
use std::time::{Duration as StdDuration, Instant};

use reqwest::{redirect, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// A browser on another machine: its requests come from `ip` (any
/// 127.0.0.0/8 address reaches the app over loopback).
pub(crate) fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

/// Posts the sign-in form with exactly this CSRF token.
async fn log_in_with_token(
    app: &TestApp,
    client: &Client,
    token: &str,
    email: &str,
) -> reqwest::Response {
    let form = [
        ("csrf_token", token),
        ("email", email),
        ("password", PASSWORD),
    ];
    app.post_raw_with(client, "/login", &form).await
}

const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.test",
    "/\r/evil.test",
    "/\n/evil.test",
    "/\n",
    "/\\evil.test",
    "\\\\evil.test",
    "//evil.test",
    "https://evil.test/",
    "http:evil.test",
    "javascript:alert(1)",
];

async fn every_hostile_next_lands_on_the_start_page(app: TestApp) {
    app.add_user("pat@clinic.example", "practitioner").await;
    // Local paths are followed; a percent sign in a path is only a path.
    let local = [("/patients?q=maya", "/patients?q=maya"), ("/%0A", "/%0A")];
    let hostile = HOSTILE_NEXT.iter().map(|next| (*next, "/"));
    for (next, expected) in hostile.chain(local) {
        let client = new_client();
        let r = app.log_in_then(&client, "pat@clinic.example", next).await;
        assert_redirect_to(&r, expected);
        // Signed in already, the log-in page sends them on, just as safely.
        let encoded = serde_urlencoded::to_string([("next", next)]).unwrap();
        let r = app.get_with(&client, &format!("/login?{encoded}")).await;
        assert_redirect_to(&r, expected);
    }
    // The address as the attacker sent it: an encoded newline, never a 500.
    let r = app.get_with(&new_client(), "/login?next=/%0A").await;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"next\" value=\"/\""));
}

async fn a_name_with_a_line_break_gets_a_field_error_and_nothing_is_saved(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let r = app
        .post_form_with(
            &staff,
            "/patients/new",
            &[
                ("name", "Maya Patel\r\nBcc: everyone@evil.test"),
                ("email", "maya@example.com"),
                ("email_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"name-error\""),
        "the error is beside the field"
    );
    assert!(page.contains("line break"));
    assert!(
        page.contains("value=\"maya@example.com\""),
        "what was typed stays"
    );
    assert_eq!(count_rows(&app, "patients").await, 0);

    // The clinic's name goes into every email's From: the same rule, and a limit.
    let admin = app.signed_in("admin").await;
    let base = [
        ("phone", "+44 20 7946 0000"),
        ("email", ""),
        ("address", "1 High Street\r\nLondon"),
        ("opening_hours", ""),
        ("out_of_hours", ""),
        ("time_zone", "Europe/London"),
        ("send_hour", "9"),
        ("sender_email", "aftercare@clinic.example"),
    ];
    let huge = "A".repeat(200_000);
    for (name, error) in [
        ("Glow\nClinic", "line break"),
        ("Glow\u{202E}cinilC", "control character"),
        (huge.as_str(), "at most 120 characters"),
    ] {
        let mut form = vec![("name", name)];
        form.extend_from_slice(&base);
        let r = app.post_form_with(&admin, "/admin/clinic", &form).await;
        assert_eq!(r.status().as_u16(), 422, "{error}");
        assert!(r.text().await.unwrap().contains(error));
    }
    assert_eq!(
        count_rows(&app, "clinic").await,
        scalar(&app, "SELECT count(*) FROM clinic WHERE configured = false").await,
        "the clinic was never saved"
    );
    // A multi-line address is fine.
    let mut form = vec![("name", "Glow Clinic")];
    form.extend_from_slice(&base);
    assert_eq!(
        app.post_form_with(&admin, "/admin/clinic", &form)
            .await
            .status()
            .as_u16(),
        303
    );
}

async fn an_address_the_mailer_would_refuse_is_refused_by_the_form(app: TestApp) {
    let staff = app.signed_in("staff").await;
    for email in ["maya@localhost", "maya\"@example.com", "maya@exa_mple..com"] {
        let r = app
            .post_form_with(
                &staff,
                "/patients/new",
                &[("name", "Maya"), ("email", email), ("email_consent", "yes")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 422, "{email}");
        assert!(r.text().await.unwrap().contains("id=\"email-error\""));
    }
    assert_eq!(count_rows(&app, "patients").await, 0);
}

/// Five wrong passwords for `email` from `client`; the sixth attempt's page.
async fn lock_out(app: &TestApp, client: &Client, email: &str) -> String {
    for _ in 0..5 {
        app.log_in_with(client, email, "wrong password!").await;
    }
    app.log_in_with(client, email, PASSWORD)
        .await
        .text()
        .await
        .unwrap()
}

async fn a_strangers_failures_do_not_lock_the_user_out_of_their_own_computer(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    let stranger = client_from([127, 0, 0, 2]);
    let page = lock_out(&app, &stranger, "sam@clinic.example").await;
    assert!(page.contains("locked for 15 minutes on this computer"));
    // And again, a lock later: each lasts longer.
    app.clock.advance(chrono::Duration::minutes(16));
    let page = lock_out(&app, &stranger, "sam@clinic.example").await;
    assert!(page.contains("locked for 30 minutes"), "{page}");

    // Sam, at the clinic's desk, signs in at once.
    let sam = client_from([127, 0, 0, 3]);
    let r = app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await;
    assert_redirect_to(&r, "/");
}

async fn an_admin_reset_lifts_a_lock(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let id = app.add_user("sam@clinic.example", "staff").await;
    let sam = new_client();
    let page = lock_out(&app, &sam, "sam@clinic.example").await;
    assert!(page.contains("locked for 15 minutes"));
    let r = app
        .post_form_with(&admin, &format!("/admin/users/{id}/password-link"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // The old password has ended; the link gives Sam a new one, and no lock
    // is left in the way.
    let r = app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(!r.text().await.unwrap().contains("locked"));
    let page = app
        .get_text_with(&admin, &format!("/admin/users/{id}"))
        .await;
    let start = page.find("/set-password/").expect("the link is shown");
    let link: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();
    let newpass = "sam's brand new passphrase";
    let r = app
        .post_form_with(
            &sam,
            &link,
            &[("password", newpass), ("password_confirm", newpass)],
        )
        .await;
    assert_redirect_to(&r, "/login");
    let r = app.log_in_with(&sam, "sam@clinic.example", newpass).await;
    assert_redirect_to(&r, "/");
}

async fn the_right_password_on_a_deactivated_account_is_not_a_failure(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let id = app.add_user("sam@clinic.example", "staff").await;
    let r = app
        .post_form_with(&admin, &format!("/admin/users/{id}/deactivate"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let sam = new_client();
    for _ in 0..6 {
        let r = app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await;
        assert_eq!(r.status().as_u16(), 401);
        assert!(r.text().await.unwrap().contains("deactivated"));
    }
    let failures = scalar(
        &app,
        "SELECT count(*) FROM login_attempts WHERE email = 'sam@clinic.example' AND NOT succeeded",
    )
    .await;
    assert_eq!(failures, 0);
    // Reactivated, Sam is not locked out.
    app.post_form_with(&admin, &format!("/admin/users/{id}/reactivate"), &[])
        .await;
    assert_redirect_to(
        &app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await,
        "/",
    );
}

async fn a_csrf_token_from_another_session_or_from_before_sign_in_is_refused(app: TestApp) {
    let ana = app.signed_in("staff").await;
    let bea = app.signed_in("staff").await;
    let anas_token = app.csrf_for(&ana).await;
    let form = [
        ("csrf_token", anas_token.as_str()),
        ("name", "Planted Patient"),
    ];
    let r = app.post_raw_with(&bea, "/patients/new", &form).await;
    assert_eq!(r.status().as_u16(), 403);

    // A token minted before sign-in stops working once signed in.
    app.add_user("cy@clinic.example", "staff").await;
    let cy = new_client();
    let anonymous_token = app.csrf_for(&cy).await;
    assert_redirect_to(
        &app.log_in_with(&cy, "cy@clinic.example", PASSWORD).await,
        "/",
    );
    let form = [
        ("csrf_token", anonymous_token.as_str()),
        ("name", "Planted Patient"),
    ];
    let r = app.post_raw_with(&cy, "/patients/new", &form).await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(count_rows(&app, "patients").await, 0);

    // After sign-out the old token is dead too (the seed was replaced).
    let token = app.csrf_for(&cy).await;
    let r = app
        .post_raw_with(&cy, "/logout", &[("csrf_token", token.as_str())])
        .await;
    assert_redirect_to(&r, "/login");
    let r = log_in_with_token(&app, &cy, &token, "cy@clinic.example").await;
    assert_eq!(r.status().as_u16(), 403);
}

async fn a_deactivated_users_set_password_link_is_gone(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let r = app
        .post_form_with(
            &admin,
            "/admin/users/new",
            &[
                ("name", "Dee"),
                ("email", "dee@clinic.example"),
                ("role", "staff"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let page = app.get_text_with(&admin, &location).await;
    let start = page.find("/set-password/").expect("the link is shown");
    let link: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();
    assert_eq!(app.get(&link).await.status().as_u16(), 200);
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    app.post_form_with(&admin, &format!("/admin/users/{id}/deactivate"), &[])
        .await;
    assert_eq!(app.get(&link).await.status().as_u16(), 404);
    // Reactivating does not bring the link back.
    app.post_form_with(&admin, &format!("/admin/users/{id}/reactivate"), &[])
        .await;
    assert_eq!(app.get(&link).await.status().as_u16(), 404);
}

async fn signing_in_again_ends_the_old_session(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    let sam = new_client();
    let first = app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await;
    let old_cookie = first
        .cookies()
        .find(|c| c.name() == "aftercare_session")
        .unwrap()
        .value()
        .to_string();
    // Sam signs in again in the same browser (another tab, say).
    let token = app.csrf_for(&sam).await;
    let r = log_in_with_token(&app, &sam, &token, "sam@clinic.example").await;
    assert_redirect_to(&r, "/");
    assert_eq!(app.get_with(&sam, "/").await.status().as_u16(), 200);
    // The old session's cookie, replayed elsewhere, opens nothing.
    let replay = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .get(app.url("/"))
        .header("Cookie", format!("aftercare_session={old_cookie}"))
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, "/login?next=%2F");
    assert_eq!(count_rows(&app, "sessions").await, 1);
}

async fn bad_requests_get_plain_words_and_400(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let token = app.csrf_for(&staff).await;
    // Each body is sent as it is, encoded by hand.
    for (body, says) in [
        (
            "name=Maya&name=Maya",
            "a field is missing, repeated or not what this form expects",
        ),
        ("name=Ma%FFya", "not text"),
    ] {
        let r = staff
            .post(app.url("/patients/new"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}&{body}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains(says) && !page.contains("duplicate field"),
            "{body}"
        );
    }
    let r = app.get_with(&staff, "/patients?q=Ma%FFya").await;
    assert_eq!(r.status().as_u16(), 400);
    let r = app.get_with(&staff, "/outbox?page=many").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(!r.text().await.unwrap().contains("invalid digit"));
    assert_eq!(count_rows(&app, "patients").await, 0);
}

async fn a_body_that_trickles_in_is_cut_off(app: TestApp) {
    let address = app.address.strip_prefix("http://").unwrap().to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        loop {
            if stream.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(StdDuration::from_secs(1)).await;
            if started.elapsed() > StdDuration::from_secs(30) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(StdDuration::from_secs(12), trickle).await;
    assert!(
        started.elapsed() < StdDuration::from_secs(12),
        "the server stopped reading within seconds"
    );
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(StdDuration::from_secs(2), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

async fn head_works_wherever_get_does(app: TestApp) {
    for path in ["/static/app.css", "/login", "/healthz"] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type")
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
}

/// A browser whose requests reach the app through a reverse proxy that says
/// it forwarded them for `ip`.
fn client_via_proxy(ip: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_address() {
    // The tests connect from 127.0.0.1: here that is the clinic's proxy.
    let app = spawn_app_with(
        Db::Sqlite,
        &[("AFTERCARE_TRUSTED_PROXIES", "127.0.0.1, ::1")],
    )
    .await;
    app.add_user("sam@clinic.example", "staff").await;
    let stranger = client_via_proxy("203.0.113.9");
    let page = lock_out(&app, &stranger, "sam@clinic.example").await;
    assert!(page.contains("locked for 15 minutes on this computer"));
    // Sam, behind the same proxy from another address, is not locked out.
    let sam = client_via_proxy("198.51.100.7");
    assert_redirect_to(
        &app.log_in_with(&sam, "sam@clinic.example", PASSWORD).await,
        "/",
    );
    let from_stranger = scalar(
        &app,
        "SELECT count(*) FROM login_attempts WHERE ip = '203.0.113.9' AND NOT succeeded",
    )
    .await;
    assert_eq!(
        from_stranger, 5,
        "failures are recorded with the client's address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trusted_proxy_a_forwarded_address_is_ignored() {
    let app = spawn_app_with(Db::Sqlite, &[]).await;
    app.add_user("sam@clinic.example", "staff").await;
    // A stranger cannot dodge the lock by claiming a new address each time.
    let page = lock_out(&app, &client_via_proxy("203.0.113.9"), "sam@clinic.example").await;
    assert!(page.contains("locked for 15 minutes on this computer"));
    let r = app
        .log_in_with(
            &client_via_proxy("198.51.100.7"),
            "sam@clinic.example",
            PASSWORD,
        )
        .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("locked for 15 minutes on this computer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookies_carry_the_host_prefix() {
    let app = spawn_app_with(
        Db::Sqlite,
        &[("AFTERCARE_BASE_URL", "https://clinic.example")],
    )
    .await;
    let r = app.get("/login").await;
    let csrf = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-aftercare_csrf="))
        .expect("the CSRF cookie has the __Host- name");
    assert!(csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"));
}

crate::on_both_databases!(
    every_hostile_next_lands_on_the_start_page,
    a_name_with_a_line_break_gets_a_field_error_and_nothing_is_saved,
    an_address_the_mailer_would_refuse_is_refused_by_the_form,
    a_strangers_failures_do_not_lock_the_user_out_of_their_own_computer,
    an_admin_reset_lifts_a_lock,
    the_right_password_on_a_deactivated_account_is_not_a_failure,
    a_csrf_token_from_another_session_or_from_before_sign_in_is_refused,
    a_deactivated_users_set_password_link_is_gone,
    signing_in_again_ends_the_old_session,
    bad_requests_get_plain_words_and_400,
    a_body_that_trickles_in_is_cut_off,
    head_works_wherever_get_does,
);
