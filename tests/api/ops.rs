//! Operations: the health check's view of the worker, and housekeeping.

use std::sync::Arc;

use aftercare::jobs::{ManualClock, Worker};
use aftercare::usecases::health::{self, DUE_MAX_AGE, HEARTBEAT_MAX_AGE};
use aftercare::usecases::housekeeping::Pruned;
use aftercare::usecases::store::schema::{login_attempts, password_tokens, sessions};
use chrono::{Duration, Utc};
use diesel::{QueryDsl, RunQueryDsl};

use crate::helpers::*;

/// The app's worker, on a clock the test moves.
fn worker_at(app: &TestApp, clock: Arc<ManualClock>) -> Worker {
    Worker {
        clock,
        ..aftercare::startup::worker_for(&app.state).unwrap()
    }
}

async fn healthz_json(app: &TestApp) -> (u16, serde_json::Value) {
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

async fn healthz_reports_the_heartbeat_and_judges_due_mail(app: TestApp) {
    let (status, body) = healthz_json(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["worker_in_process"], false);
    assert!(body["heartbeat_age_seconds"].is_null(), "{body}");
    assert!(body["oldest_due_age_seconds"].is_null(), "{body}");

    app.ada_treated_an_hour_ago(&[]).await;
    let now = Utc::now();
    worker_at(&app, Arc::new(ManualClock::new(now)))
        .run_once()
        .await
        .unwrap();
    let (status, body) = healthz_json(&app).await;
    assert_eq!(status, 200, "{body}");
    let age = body["heartbeat_age_seconds"].as_i64().expect("a heartbeat");
    assert!((0..60).contains(&age), "{body}");

    // As a process running the worker sees it, at later moments.
    let judge = |later: Duration, in_process: bool| {
        let at = (now + later).naive_utc();
        with_conn(&app, move |c| health::check(c, at, in_process).unwrap())
    };
    assert!(judge(Duration::zero(), true).await.is_ok());
    let silent = judge(HEARTBEAT_MAX_AGE + Duration::seconds(5), true).await;
    assert_eq!(silent.problems.len(), 1, "{silent:?}");
    assert!(silent.problems[0].contains("last beat"), "{silent:?}");
    // Days later the treatment's reminders are long due and nobody sent them.
    let behind = judge(Duration::days(3), true).await;
    let waited = behind.oldest_due_age_seconds.expect("due reminders");
    assert!(waited > DUE_MAX_AGE.num_seconds(), "{behind:?}");
    assert!(
        behind.problems.iter().any(|p| p.contains("due for")),
        "{behind:?}"
    );
    // `serve --no-worker` reports the same figures without failing on them.
    let web_only = judge(Duration::days(3), false).await;
    assert!(web_only.is_ok(), "{web_only:?}");
    assert_eq!(web_only.oldest_due_age_seconds, Some(waited));
}

async fn housekeeping_prunes_only_what_has_expired(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let user = app.add_user("pat@clinic.example", "practitioner").await;
    // A failed attempt for an account the reset below leaves alone (a reset
    // clears the failures of its own account).
    let r = app
        .log_in_with(&new_client(), "nobody@clinic.example", "wrong password")
        .await;
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .post_form_with(&admin, &format!("/admin/users/{user}/password-link"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let counts = || async {
        with_conn(&app, |c| {
            (
                sessions::table.count().get_result::<i64>(c).unwrap(),
                login_attempts::table.count().get_result::<i64>(c).unwrap(),
                password_tokens::table.count().get_result::<i64>(c).unwrap(),
            )
        })
        .await
    };
    let (sessions_before, attempts_before, tokens_before) = counts().await;
    assert!(sessions_before >= 1 && attempts_before >= 2 && tokens_before == 1);

    let clock = Arc::new(ManualClock::new(Utc::now()));
    let worker = worker_at(&app, clock.clone());
    worker.run_once().await.unwrap(); // a heartbeat to prune later
    assert_eq!(worker.housekeep().await.unwrap(), Pruned::default());
    assert_eq!(counts().await, (sessions_before, attempts_before, 1));

    // Past every session's end and the link's expiry (72 h); attempts are kept a week.
    clock.advance(Duration::days(4));
    let pruned = worker.housekeep().await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            sessions: sessions_before as usize,
            password_tokens: 1,
            ..Pruned::default()
        }
    );
    assert_eq!(counts().await, (0, attempts_before, 0));

    clock.advance(Duration::days(4));
    let pruned = worker.housekeep().await.unwrap();
    assert_eq!(pruned.login_attempts, attempts_before as usize);
    assert_eq!(pruned.heartbeats, 1);
    assert_eq!(counts().await, (0, 0, 0));
}

/// The Nu HTML Checker refuses `autocomplete="username"` on an email input.
async fn sign_in_email_inputs_use_a_valid_autocomplete(app: TestApp) {
    let html = app.get_text("/login").await;
    let input = html
        .split("<input")
        .find(|i| i.contains("name=\"email\""))
        .expect("an email field");
    assert!(input.contains("type=\"email\""), "{input}");
    assert!(input.contains("autocomplete=\"email\""), "{input}");
}

crate::on_both_databases!(
    healthz_reports_the_heartbeat_and_judges_due_mail,
    housekeeping_prunes_only_what_has_expired,
    sign_in_email_inputs_use_a_valid_autocomplete,
);
