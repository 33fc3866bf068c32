//! Fenced leases and the clock (issue #23): an outcome counts only from the claim that holds
//! the row; a lease near its end starts no send; steps of the wall clock send nothing early
//! and nothing twice; and two `aftercare worker` processes behind a relay slower than a
//! lease allows for a batch send each email once.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use aftercare::jobs::{lease, ManualClock, Worker, WorkerConfig};
use aftercare::mail::Mailer;
use aftercare::usecases::reminders::{self, Outcome};
use aftercare::usecases::store::{self, reminders::ReminderRow};
use chrono::{Duration, Utc};

use crate::helpers::*;
use crate::instances::Process;
use crate::smtp_sink::SmtpSink;

/// `n` patients, each treated an hour ago and sent the sheet now: `n` emails due at once, one
/// per patient. Returns their rows.
async fn sheets_due(app: &TestApp, n: usize) -> Vec<ReminderRow> {
    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let mut due = Vec::new();
    for i in 0..n {
        let fields = [
            ("treated_at", when.as_str()),
            ("area_0", "cheeks"),
            ("depth_0", "1.0"),
        ];
        let (_, treatment) = app
            .patient_with_treatment(
                &practitioner,
                &format!("Patient {i}"),
                &format!("patient{i}@example.com"),
                &fields,
            )
            .await;
        let path = format!("/treatments/{treatment}/send-sheet");
        let r = app
            .post_form_with(&practitioner, &path, &[("click", "now")])
            .await;
        assert_eq!(r.status().as_u16(), 303, "sheet sent now");
        let rows = with_conn(app, move |conn| {
            store::reminders::for_treatment(conn, treatment).unwrap()
        })
        .await;
        due.extend(
            rows.into_iter()
                .filter(|r| r.reminder_key.starts_with("sheet-now")),
        );
    }
    assert_eq!(due.len(), n);
    due
}

async fn row(app: &TestApp, id: i64) -> ReminderRow {
    with_conn(app, move |conn| {
        store::reminders::find(conn, id).unwrap().unwrap()
    })
    .await
}

/// A worker on `clock` sending to `sink`, one email at a time.
fn one_at_a_time(app: &TestApp, sink: &SmtpSink, clock: Arc<ManualClock>) -> Worker {
    let worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), clock);
    Worker {
        config: WorkerConfig {
            concurrency: 1,
            ..worker.config.clone()
        },
        ..worker
    }
}

/// Each of these emails reached the sink exactly once.
fn each_once(sink: &SmtpSink, rows: &[ReminderRow]) {
    let received = sink.message_ids();
    for r in rows {
        let times = received.iter().filter(|id| **id == r.message_id).count();
        assert_eq!(
            times, 1,
            "{} ({}) reached the sink once",
            r.message_id, r.reminder_key
        );
    }
}

async fn an_outcome_recorded_with_a_stale_token_changes_nothing(app: TestApp) {
    let due = sheets_due(&app, 1).await;
    let id = due[0].id;
    let now = Utc::now() + Duration::minutes(1);
    let claim = move |at: chrono::DateTime<Utc>, token: &'static str| {
        move |conn: &mut store::DbConn| {
            store::write_tx(conn, |c| {
                store::reminders::claim(
                    c,
                    store::Claim {
                        now: at.naive_utc(),
                        lease_until: (at + Duration::minutes(2)).naive_utc(),
                        limit: 10,
                        token,
                    },
                )
            })
            .unwrap()
        }
    };
    // Worker A claims it; its lease runs out; worker B takes it over.
    assert_eq!(with_conn(&app, claim(now, "A")).await, vec![id]);
    assert_eq!(
        with_conn(&app, claim(now + Duration::minutes(1), "B")).await,
        Vec::<i64>::new(),
        "not while A's lease holds"
    );
    assert_eq!(
        with_conn(&app, claim(now + Duration::minutes(3), "B")).await,
        vec![id]
    );
    let before = row(&app, id).await;
    // A's outcomes, each of them, change nothing now: the row is B's.
    let late = (now + Duration::minutes(4)).naive_utc();
    for outcome in [
        Outcome::Sent,
        Outcome::Failed("refused".into()),
        Outcome::Retry {
            error: "busy".into(),
            next: late,
        },
        Outcome::Held("wrong password".into()),
        Outcome::Cancelled(reminders::Reason::Unsubscribed),
    ] {
        let lost = with_conn(&app, move |conn| {
            reminders::record_outcomes(conn, "worker-a", "A", vec![(id, outcome, late)], late)
                .unwrap()
        })
        .await;
        assert_eq!(lost, vec![id], "A is told it lost the row");
        assert_eq!(row(&app, id).await, before, "the row is as B left it");
    }
    with_conn(&app, move |conn| {
        reminders::release(conn, "A", &[id], late).unwrap();
        reminders::renew(conn, "worker-a", "A", late, late).unwrap()
    })
    .await;
    assert_eq!(
        row(&app, id).await,
        before,
        "nor can A give it back or renew it"
    );
    // B's outcome counts.
    let lost = with_conn(&app, move |conn| {
        reminders::record_outcomes(conn, "worker-b", "B", vec![(id, Outcome::Sent, late)], late)
            .unwrap()
    })
    .await;
    assert!(lost.is_empty());
    let sent = row(&app, id).await;
    assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 2));
    assert_eq!(sent.lease_expires_at, None);
}

async fn a_lease_near_its_end_starts_no_send(app: TestApp) {
    let sink = SmtpSink::start().await;
    sink.set_delay(StdDuration::from_millis(800));
    let clock = Arc::new(ManualClock::new(Utc::now() + Duration::minutes(1)));
    let base = one_at_a_time(&app, &sink, clock.clone());
    // Renewals that never get through (the database unreachable from this worker, say).
    let worker = Worker {
        config: WorkerConfig {
            renew_leases: false,
            ..base.config.clone()
        },
        ..base
    };
    let due = sheets_due(&app, 3).await;
    let round = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run_once().await.unwrap() }
    });
    // While the first email is with the server, most of the lease goes by: what is left is
    // less than the longest send.
    first_send_started(&sink).await;
    let longest = worker.mailer.longest_send();
    clock.pass(worker.config.lease - longest + StdDuration::from_secs(1));
    let report = round.await.unwrap();
    assert_eq!(
        (report.claimed, report.sent, report.released),
        (3, 1, 2),
        "{report:?}"
    );
    assert_eq!(sink.received().len(), 1);
    let mut given_back = 0;
    for r in &due {
        let now = row(&app, r.id).await;
        if now.status == "pending" {
            given_back += 1;
            assert_eq!(now.attempts, 0, "the attempt is not counted");
            assert_eq!(now.lease_expires_at, None);
        }
    }
    assert_eq!(given_back, 2);
    // The next round has a lease of its own, and sends them.
    let report = worker.drain().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    each_once(&sink, &due);
}

async fn the_clock_going_back_sends_nothing_before_its_time(app: TestApp) {
    let sink = SmtpSink::start().await;
    sink.set_delay(StdDuration::from_millis(500));
    let due = sheets_due(&app, 3).await;
    let at = due[0].send_at.and_utc();
    let clock = Arc::new(ManualClock::new(at + Duration::minutes(1)));
    let worker = one_at_a_time(&app, &sink, clock.clone());
    let round = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run_once().await.unwrap() }
    });
    first_send_started(&sink).await;
    // An NTP step back an hour, after the claim, with the first email on its way.
    clock.jump(-Duration::hours(1));
    let report = round.await.unwrap();
    assert_eq!((report.sent, report.released), (1, 2), "{report:?}");
    // Back before their time, they wait for it: none goes early.
    assert_eq!(worker.drain().await.unwrap().claimed, 0);
    clock.set(at - Duration::seconds(1));
    assert_eq!(worker.drain().await.unwrap().claimed, 0);
    assert_eq!(sink.received().len(), 1);
    clock.set(at + Duration::seconds(1));
    assert_eq!(worker.drain().await.unwrap().sent, 2);
    each_once(&sink, &due);
    for r in &due {
        let sent = row(&app, r.id).await;
        assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 1));
        assert!(
            sent.sent_at.unwrap() >= r.send_at,
            "sent at or after its time"
        );
    }
}

async fn the_clock_going_forward_sends_nothing_twice(app: TestApp) {
    let sink = SmtpSink::start().await;
    sink.set_delay(StdDuration::from_millis(700));
    let due = sheets_due(&app, 4).await;
    let clock = Arc::new(ManualClock::new(
        due[0].send_at.and_utc() + Duration::minutes(1),
    ));
    let first = one_at_a_time(&app, &sink, clock.clone());
    let second = one_at_a_time(&app, &sink, clock.clone());
    let round = tokio::spawn({
        let first = first.clone();
        async move { first.run_once().await.unwrap() }
    });
    first_send_started(&sink).await;
    // Forward an hour: by the stored expiry, every lease of the claim has run out. The
    // worker holding it notices the step within a second or two and renews it.
    clock.jump(Duration::hours(1));
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    // The other worker may find the patients' evening emails due an hour later, but nothing
    // of the live claim.
    second.drain().await.unwrap();
    let report = round.await.unwrap();
    assert_eq!((report.sent, report.lost), (4, 0), "{report:?}");
    second.drain().await.unwrap();
    each_once(&sink, &due);
    for r in &due {
        let sent = row(&app, r.id).await;
        assert_eq!(
            (sent.status.as_str(), sent.attempts),
            ("sent", 1),
            "claimed once"
        );
    }
}

crate::on_both_databases!(
    an_outcome_recorded_with_a_stale_token_changes_nothing,
    a_lease_near_its_end_starts_no_send,
    the_clock_going_back_sends_nothing_before_its_time,
    the_clock_going_forward_sends_nothing_twice,
);

/// The probe's repro of issue #23, scaled down by settings in its proportions: the relay takes
/// longer per message than the old code's SMTP timeout (15 s), and a worker's batch takes
/// longer than its lease. Two `aftercare worker` processes on one PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(aftercare_pg),
    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
)]
async fn two_workers_behind_a_slow_relay_send_each_email_once() {
    const EMAILS: usize = 12;
    const DELAY: StdDuration = StdDuration::from_secs(16);
    let (db, url) = TestDb::fresh(Db::Postgres);
    let sink = SmtpSink::start().await;
    sink.set_delay(DELAY);
    let app = spawn_app_on(db, &url, &[("AFTERCARE_SMTP_URL", &sink.url())]).await;
    app.configure_clinic("Glow Clinic", "hello@glow.example")
        .await;
    let due = sheets_due(&app, EMAILS).await;

    // Every step 1 s but the answer to the end of the data, which may take 17 s: the longest
    // send is 23 s and the lease 34 s. A worker claims 9 and sends 3 at a time, so its batch
    // takes 3 × 16 = 48 s, longer than the lease.
    let settings: &[(&str, &str)] = &[
        ("AFTERCARE_SMTP_TIMEOUT_GREETING", "1"),
        ("AFTERCARE_SMTP_TIMEOUT_COMMAND", "1"),
        ("AFTERCARE_SMTP_TIMEOUT_DATA_START", "1"),
        ("AFTERCARE_SMTP_TIMEOUT_DATA_BLOCK", "1"),
        ("AFTERCARE_SMTP_TIMEOUT_DATA_END", "17"),
        ("AFTERCARE_WORKER_BATCH", "9"),
        ("AFTERCARE_WORKER_CONCURRENCY", "3"),
    ];
    let timeouts = aftercare::mail::SmtpTimeouts {
        greeting: StdDuration::from_secs(1),
        command: StdDuration::from_secs(1),
        data_start: StdDuration::from_secs(1),
        data_block: StdDuration::from_secs(1),
        data_end: StdDuration::from_secs(17),
    };
    let lease = lease::lease_for(timeouts.longest_send(1));
    assert!(
        DELAY >= StdDuration::from_secs(15),
        "as slow as the probe's relay"
    );
    assert!(DELAY * 3 > lease, "a batch outlasts the lease: {lease:?}");

    let started = Instant::now();
    let workers = [
        Process::start_with(&["worker"], &url, &sink.url(), settings),
        Process::start_with(&["worker"], &url, &sink.url(), settings),
    ];
    let sent =
        "SELECT COUNT(*) FROM reminders WHERE reminder_key LIKE 'sheet-now%' AND status = 'sent'";
    let deadline = started + StdDuration::from_secs(120);
    while scalar(&app, sent).await < EMAILS as i64 {
        assert!(
            Instant::now() < deadline,
            "all marked sent within two minutes: {} of {EMAILS}, {} received",
            scalar(&app, sent).await,
            sink.received().len()
        );
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    let took = started.elapsed();
    // Anything sent twice would have reached the sink by the time its row was marked; give a
    // stray repeat a few seconds more anyway.
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    drop(workers);
    let received = sink.message_ids();
    let mut unique = received.clone();
    unique.sort();
    unique.dedup();
    eprintln!(
        "slow relay: {EMAILS} emails, {} received, {} duplicates, all marked sent after {:.1} s",
        received.len(),
        received.len() - unique.len(),
        took.as_secs_f64()
    );
    each_once(&sink, &due);
    let beating = scalar(&app, "SELECT COUNT(*) FROM worker_heartbeats").await;
    assert!(beating >= 2, "both workers took part: {beating}");
}

/// Waits (10 s at most) until the worker's first email is with the server.
async fn first_send_started(sink: &SmtpSink) {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while sink.connections() == 0 {
        assert!(Instant::now() < deadline, "the first send started");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}
