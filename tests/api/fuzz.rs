//! Random form posts, as a careless user or an attacker would send them: a
//! valid CSRF token and whatever else in every state-changing form. Nothing
//! may answer 5xx or panic, and the database's invariants must hold after.
//! `AFTERCARE_FUZZ_SEED` replays a run; `AFTERCARE_FUZZ_POSTS` sets its size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Client;

use crate::helpers::*;

/// Panics on the server's threads, counted by a hook installed once.
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if thread.name().is_some_and(|n| n.starts_with("actix")) {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

const AREAS: &[&str] = &[
    "cheeks",
    "forehead",
    "periorbital",
    "abdomen",
    "neck",
    "hands",
    "scalp",
];

/// A value a form field might receive from a person or a script.
fn value(rng: &mut StdRng) -> String {
    let pick = rng.gen_range(0..20);
    match pick {
        0 => String::new(),
        1 => "   ".into(),
        2 => "x".repeat(rng.gen_range(200..5_000)),
        3 => "é".repeat(rng.gen_range(100..20_000)),
        4 => "Zoë 李 مريم 👩🏽‍⚕️ e\u{301}".into(),
        5 => format!(
            "Maya{}Patel",
            ['\r', '\n', '\t', '\u{0}', '\u{7f}', '\u{85}', '\u{202e}', '\u{2066}']
                .choose(rng)
                .unwrap()
        ),
        6 => [
            "-1",
            "0",
            "99999999999999999999",
            "1e308",
            "NaN",
            "inf",
            "0.0001",
            "2.5",
            "1,0",
            "0x10",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        7 => [
            "2026-02-30",
            "1899-12-31",
            "9999-12-31",
            "2026-13-01",
            "yesterday",
            "2026-11-30T25:00",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        8 => {
            let t = chrono::Utc::now() + chrono::Duration::hours(rng.gen_range(-24 * 40..24 * 3));
            t.format("%Y-%m-%dT%H:%M").to_string()
        }
        9 => AREAS.choose(rng).unwrap().to_string(),
        10 => format!("{:.1}", rng.gen_range(0.0..4.0)),
        11 => format!("p{}@example.com", rng.gen_range(0..50)),
        12 => [
            "a@b",
            "@x.com",
            "x@localhost",
            "\"q\"@x.com",
            "a@b@c.com",
            "<a@b.com>",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        13 => ["admin", "practitioner", "staff", "root", "ADMIN"]
            .choose(rng)
            .unwrap()
            .to_string(),
        14 => ["yes", "on", "no", "1"].choose(rng).unwrap().to_string(),
        15 => [
            "Europe/London",
            "America/New_York",
            "Mars/Olympus",
            "UTC",
            "",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        16 => rng.gen_range(-5..30).to_string(),
        17 => [
            "/outbox",
            "/treatments/1",
            "//evil.test",
            "/outbox?status=failed",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        18 => PASSWORD.into(),
        _ => (0..rng.gen_range(1..40))
            .map(|_| rng.gen::<char>())
            .collect(),
    }
}

/// What a careful user would type in `field`, so that some posts get through
/// and the state they change is exercised too.
fn plausible(field: &str, rng: &mut StdRng, ids: &Ids) -> String {
    let n = rng.gen_range(0..50);
    match field {
        "name" => format!("Maya Patel {n}"),
        "email" => format!("p{n}@example.com"),
        "phone" => "+44 20 7946 0000".into(),
        "date_of_birth" => "1985-04-23".into(),
        "email_consent" => "yes".into(),
        "patient_id" => ids.patient.to_string(),
        "treated_at" => clinic_time(-chrono::Duration::hours(rng.gen_range(0..72))),
        f if f.starts_with("area_") => AREAS.choose(rng).unwrap().to_string(),
        f if f.starts_with("depth_") => format!("{:.1}", rng.gen_range(0.2..2.5)),
        "device" => "Dermapen 4".into(),
        "role" => ["admin", "practitioner", "staff"]
            .choose(rng)
            .unwrap()
            .to_string(),
        "password" | "password_confirm" | "current_password" => PASSWORD.into(),
        "password_mode" => "link".into(),
        "back" => "/outbox".into(),
        "time_zone" => "Europe/London".into(),
        "send_hour" => "9".into(),
        "sender_email" => "aftercare@clinic.example".into(),
        _ => String::new(),
    }
}

/// A state-changing form: where it posts, and the fields it knows.
fn form(rng: &mut StdRng, ids: &Ids) -> (String, Vec<&'static str>) {
    let patient = *[ids.patient, ids.patient + 1, 999_999].choose(rng).unwrap();
    let treatment = *[ids.treatment, ids.treatment + 1, 999_999]
        .choose(rng)
        .unwrap();
    let user = *[ids.other_user, 999_999].choose(rng).unwrap();
    let reminder = rng.gen_range(1..40);
    let treatment_fields = vec![
        "patient_id",
        "treated_at",
        "area_0",
        "depth_0",
        "area_1",
        "depth_1",
        "area_11",
        "depth_11",
        "area_99",
        "device",
        "products",
        "internal_notes",
    ];
    match rng.gen_range(0..13) {
        0 | 1 => (
            "/patients/new".into(),
            vec!["name", "email", "phone", "date_of_birth", "email_consent"],
        ),
        2 => (
            format!("/patients/{patient}/edit"),
            vec!["name", "email", "phone", "date_of_birth", "email_consent"],
        ),
        3 | 4 => ("/treatments".into(), treatment_fields),
        5 => (format!("/treatments/{treatment}/edit"), treatment_fields),
        6 => (format!("/treatments/{treatment}/delete"), vec![]),
        7 => (
            "/admin/clinic".into(),
            vec![
                "name",
                "phone",
                "email",
                "address",
                "opening_hours",
                "out_of_hours",
                "time_zone",
                "send_hour",
                "sender_email",
            ],
        ),
        8 => (
            "/admin/users/new".into(),
            vec![
                "name",
                "email",
                "role",
                "password",
                "password_confirm",
                "password_mode",
            ],
        ),
        9 => {
            let action = ["role", "deactivate", "reactivate", "password-link"]
                .choose(rng)
                .unwrap();
            (format!("/admin/users/{user}/{action}"), vec!["role"])
        }
        10 => {
            let action = ["retry", "cancel"].choose(rng).unwrap();
            (format!("/outbox/{reminder}/{action}"), vec!["back"])
        }
        11 => (
            "/account/password".into(),
            vec!["current_password", "password", "password_confirm"],
        ),
        _ => {
            let token = ["x", "1.abc", "", "%00", "..%2F"].choose(rng).unwrap();
            (format!("/unsubscribe/{token}"), vec!["List-Unsubscribe"])
        }
    }
}

struct Ids {
    patient: i64,
    treatment: i64,
    other_user: i64,
}

async fn random_form_posts_never_break_the_app(app: TestApp) {
    count_server_panics();
    let seed = std::env::var("AFTERCARE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let posts: usize = std::env::var("AFTERCARE_FUZZ_POSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2500);
    eprintln!("fuzz: AFTERCARE_FUZZ_SEED={seed} AFTERCARE_FUZZ_POSTS={posts}");
    let mut rng = StdRng::seed_from_u64(seed);

    let admin_email = "fuzz-admin@clinic.example";
    app.add_user(admin_email, "admin").await;
    let other_user = app.add_user("other@clinic.example", "practitioner").await;
    let admin = new_client();
    assert_redirect_to(&app.log_in_with(&admin, admin_email, PASSWORD).await, "/");
    let (patient, treatment) = app
        .patient_with_treatment(
            &admin,
            "Maya Patel",
            "maya@example.com",
            &[
                ("treated_at", &clinic_time(-chrono::Duration::hours(1))),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let ids = Ids {
        patient,
        treatment,
        other_user,
    };

    let mut token = app.csrf_for(&admin).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..posts {
        let (path, known) = form(&mut rng, &ids);
        let mut fields: Vec<(String, String)> = vec![("csrf_token".into(), token.clone())];
        // Most posts are careless; some are careful, so that changes go through.
        let careful = rng.gen_bool(0.3);
        let (missing, typo) = if careful { (0.0, 0.03) } else { (0.15, 0.5) };
        for name in known {
            if rng.gen_bool(missing) {
                continue;
            }
            let repeats = if rng.gen_bool(0.08) { 2 } else { 1 };
            for _ in 0..repeats {
                let v = if rng.gen_bool(typo) {
                    value(&mut rng)
                } else {
                    plausible(name, &mut rng, &ids)
                };
                fields.push((name.into(), v));
            }
        }
        if rng.gen_bool(0.05) {
            fields.push((value(&mut rng), value(&mut rng)));
        }
        fields.shuffle(&mut rng);
        let r = post(&admin, &app.url(&path), &fields).await;
        let status = r.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        assert!(
            status < 500,
            "post {n} of seed {seed}: {path} answered {status} to {:.2000}",
            format!("{fields:?}")
        );
        if status == 403
            || status == 303
                && r.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with("/login")
        {
            // The form changed who is signed in (a password change, say): sign in again.
            if app.get_with(&admin, "/").await.status().as_u16() != 200 {
                let r = app.log_in_with(&admin, admin_email, PASSWORD).await;
                if r.status().as_u16() != 303 {
                    // The fuzz changed the admin's password: reset it as an operator would.
                    reset_password(&app, admin_email).await;
                    app.log_in_with(&admin, admin_email, PASSWORD).await;
                }
            }
            token = app.csrf_for(&admin).await;
        }
    }
    eprintln!("fuzz: statuses {statuses:?}");
    assert!(
        statuses.get(&303).is_some_and(|&n| n > posts / 50),
        "some posts were accepted: {statuses:?}"
    );
    assert!(
        statuses.get(&422).is_some_and(|&n| n > posts / 20),
        "many were refused: {statuses:?}"
    );
    assert_eq!(
        SERVER_PANICS.load(Ordering::SeqCst),
        0,
        "a handler panicked (see the log)"
    );

    for (invariant, sql) in [
        ("every treatment has its areas", "SELECT count(*) FROM treatments t WHERE NOT EXISTS (SELECT 1 FROM treatment_areas a WHERE a.treatment_id = t.id)"),
        ("every treatment has its plan", "SELECT count(*) FROM treatments WHERE length(plan_json) < 10"),
        ("every treatment has its reminders", "SELECT count(*) FROM treatments t WHERE NOT EXISTS (SELECT 1 FROM reminders r WHERE r.treatment_id = t.id)"),
        ("no reminder pending for a deleted treatment", "SELECT count(*) FROM reminders r JOIN treatments t ON t.id = r.treatment_id WHERE r.status = 'pending' AND t.deleted_at IS NOT NULL"),
        ("no reminder pending for a patient who cannot be emailed", "SELECT count(*) FROM reminders r JOIN patients p ON p.id = r.patient_id WHERE r.status = 'pending' AND (NOT p.email_consent OR p.email IS NULL OR p.unsubscribed_at IS NOT NULL)"),
        ("names within their limits", "SELECT count(*) FROM patients WHERE length(name) > 200 OR length(name) = 0"),
        ("the clinic's name within its limit", "SELECT count(*) FROM clinic WHERE length(name) > 120"),
        ("at least one active admin", "SELECT count(*) FROM (SELECT 1 AS one) x WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND active)"),
    ] {
        assert_eq!(scalar(&app, sql).await, 0, "{invariant} (seed {seed})");
    }
    assert!(
        count_rows(&app, "treatments").await > 1,
        "some treatments were recorded"
    );
}

async fn post(client: &Client, url: &str, fields: &[(String, String)]) -> reqwest::Response {
    client.post(url).form(fields).send().await.unwrap()
}

async fn reset_password(app: &TestApp, email: &str) {
    let (email, now) = (email.to_string(), app.now());
    with_conn(app, move |conn| {
        let user = aftercare::usecases::store::users::find_by_email(conn, &email)
            .unwrap()
            .unwrap();
        let hash = aftercare::auth::password::hash(PASSWORD);
        aftercare::usecases::store::users::set_password_hash(conn, user.id, &hash, now).unwrap();
    })
    .await;
}

crate::on_both_databases!(random_form_posts_never_break_the_app);
