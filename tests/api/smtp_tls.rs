//! Mail over TLS to a clinic's own server, with real handshakes: the SMTP sink on
//! loopback speaks STARTTLS or TLS from the start, with a certificate from a CA made
//! in the test. Trusted through `AFTERCARE_SMTP_CA_FILE` (or the system store), mail
//! goes; untrusted, or with a refused password, `aftercare mail test` says so once and
//! plainly, and the worker holds the reminders (pending, the attempt not counted) and
//! the outbox says why, until the settings are fixed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aftercare::config::SmtpCaFile;
use aftercare::jobs::{Clock, MailState, ManualClock, Worker, WorkerConfig};
use aftercare::mail::Mailer;
use aftercare::usecases::reminders::smtp_config_error;
use aftercare::usecases::reminders::Reason;
use chrono::{Duration, Utc};

use crate::helpers::*;
use crate::reminders::rows;
use crate::smtp_sink::{SmtpSink, TestCa, TlsMode};

const UNTRUSTED: &str =
    "the SMTP server's certificate is not trusted: invalid peer certificate: UnknownIssuer";
/// The same after the apostrophe, as a page shows it (HTML-escaped before).
const UNTRUSTED_ON_A_PAGE: &str =
    "certificate is not trusted: invalid peer certificate: UnknownIssuer";

const MODES: [TlsMode; 2] = [TlsMode::StartTls, TlsMode::Implicit];

/// `aftercare mail test --to maya@example.com` run as an operator would, with these
/// settings (and no `SSL_CERT_*` but those given); returns (exit status, stdout, stderr).
async fn mail_test(settings: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aftercare"));
    command
        .args(["mail", "test", "--to", "maya@example.com"])
        .env(
            "AFTERCARE_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("mail.db").display()),
        )
        .env("AFTERCARE_LOG", "warn")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (name, value) in settings {
        command.env(name, value);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    drop(dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A CA made for the test, and its certificate in a PEM file (in the folder returned).
fn ca_and_file() -> (TestCa, tempfile::TempDir, PathBuf) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let file = ca.write_pem(dir.path());
    (ca, dir, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_delivers_over_starttls_and_smtps_when_the_ca_file_is_trusted() {
    let (ca, _dir, ca_file) = ca_and_file();
    for mode in MODES {
        let sink = SmtpSink::start_tls(mode, &ca).await;
        let (status, out, err) = mail_test(&[
            ("AFTERCARE_SMTP_URL", &sink.url()),
            ("AFTERCARE_SMTP_CA_FILE", ca_file.to_str().unwrap()),
        ])
        .await;
        assert_eq!(status, Some(0), "{mode:?}: {err}");
        assert!(
            out.contains("Sent a test email to maya@example.com"),
            "{out}"
        );
        let got = sink.wait_for(1, StdDuration::from_secs(5)).await;
        assert!(got[0].tls, "{mode:?}: the message came over TLS");
        assert_eq!(got[0].subject().unwrap(), "Aftercare: test email");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_says_once_and_plainly_that_an_unknown_ca_is_not_trusted() {
    let ca = TestCa::new();
    for mode in MODES {
        let sink = SmtpSink::start_tls(mode, &ca).await;
        let (status, _, err) = mail_test(&[("AFTERCARE_SMTP_URL", &sink.url())]).await;
        // 2, as for a bad setting: a retry cannot mend it.
        assert_eq!(status, Some(2), "{mode:?}: {err}");
        assert_eq!(err.matches(UNTRUSTED).count(), 1, "{mode:?}: {err}");
        assert_eq!(err.matches("UnknownIssuer").count(), 1, "{mode:?}: {err}");
        assert!(err.contains("AFTERCARE_SMTP_CA_FILE"), "{err}");
        assert!(!err.contains("temporary"), "{err}");
        assert!(sink.received().is_empty());
    }
}

/// The system's store is trusted too, and rustls-native-certs reads `SSL_CERT_FILE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_trusts_the_system_store_through_ssl_cert_file() {
    let (ca, _dir, ca_file) = ca_and_file();
    let sink = SmtpSink::start_tls(TlsMode::StartTls, &ca).await;
    let (status, _, err) = mail_test(&[
        ("AFTERCARE_SMTP_URL", &sink.url()),
        ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
    ])
    .await;
    assert_eq!(status, Some(0), "{err}");
    assert!(sink.wait_for(1, StdDuration::from_secs(5)).await[0].tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_says_plainly_when_the_password_is_refused() {
    let (ca, _dir, ca_file) = ca_and_file();
    let sink = SmtpSink::start_tls(TlsMode::StartTls, &ca).await;
    sink.refuse_logins();
    let (status, _, err) = mail_test(&[
        (
            "AFTERCARE_SMTP_URL",
            &sink.url_with_login("clinic", "wrong"),
        ),
        ("AFTERCARE_SMTP_CA_FILE", ca_file.to_str().unwrap()),
    ])
    .await;
    assert_eq!(status, Some(2), "{err}");
    let refused = "the SMTP server refused the user name or password: \
                   535 5.7.8 authentication credentials invalid";
    assert_eq!(err.matches(refused).count(), 1, "{err}");
    assert_eq!(err.matches("535").count(), 1, "{err}");
    assert!(sink.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_non_pem_ca_file_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "the clinic's CA is on the USB stick\n").unwrap();
    for (file, expected) in [
        (&missing, "cannot be read"),
        (&not_pem, "holds no PEM certificate"),
    ] {
        let (status, _, err) = mail_test(&[
            ("AFTERCARE_SMTP_URL", "smtp://localhost:2525?tls=required"),
            ("AFTERCARE_SMTP_CA_FILE", file.to_str().unwrap()),
        ])
        .await;
        assert_eq!(status, Some(2), "{err}");
        let named = format!("AFTERCARE_SMTP_CA_FILE: {} {expected}", file.display());
        assert!(err.contains(&named), "{err}");
    }
}

/// A worker sending to `sink` on `clock`, trusting the CA in `ca_file` (as
/// `AFTERCARE_SMTP_CA_FILE` names it) or only the system's and the bundled roots.
fn worker(
    app: &TestApp,
    sink: &SmtpSink,
    ca_file: Option<&std::path::Path>,
    clock: &Arc<ManualClock>,
) -> Worker {
    let extra_roots = ca_file.map_or_else(Vec::new, |path| SmtpCaFile::load(path).unwrap().certs);
    let mailer = Mailer::smtp_trusting(&sink.url(), &extra_roots, 8).unwrap();
    app.worker_with(mailer, clock.clone())
}

/// Records a face treatment done an hour ago for each patient, at the same time;
/// returns the treatments and when their evening emails are due.
async fn treatments_for(
    app: &TestApp,
    patients: &[(&str, &str)],
) -> (Vec<i64>, chrono::DateTime<Utc>) {
    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let mut treatments = Vec::new();
    for (name, email) in patients {
        let fields = [
            ("treated_at", when.as_str()),
            ("area_0", "cheeks"),
            ("depth_0", "1.0"),
        ];
        let (_, treatment) = app
            .patient_with_treatment(&practitioner, name, email, &fields)
            .await;
        treatments.push(treatment);
    }
    let evening = rows(app, treatments[0]).await[0].send_at.and_utc();
    (treatments, evening)
}

fn clock_at(at: chrono::DateTime<Utc>) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at))
}

async fn the_worker_delivers_over_starttls_and_smtps_when_the_ca_is_trusted(app: TestApp) {
    let (ca, _dir, ca_file) = ca_and_file();
    for (mode, email) in MODES
        .into_iter()
        .zip(["maya@example.com", "ana@example.com"])
    {
        let sink = SmtpSink::start_tls(mode, &ca).await;
        let (treatments, due) = treatments_for(&app, &[("Maya Patel", email)]).await;
        let clock = clock_at(due + Duration::minutes(1));
        let report = worker(&app, &sink, Some(&ca_file), &clock)
            .drain()
            .await
            .unwrap();
        assert_eq!((report.sent, report.held), (1, 0), "{mode:?}: {report:?}");
        let got = sink.wait_for(1, StdDuration::from_secs(5)).await;
        assert!(got[0].tls, "{mode:?}");
        assert_eq!(got[0].rcpt_to, [email]);
        assert_eq!(
            rows(&app, treatments[0]).await[0].status,
            "sent",
            "{mode:?}"
        );
    }
}

async fn an_untrusted_certificate_holds_the_reminders_until_the_settings_are_fixed(app: TestApp) {
    let ca = TestCa::new();
    let sink = SmtpSink::start_tls(TlsMode::StartTls, &ca).await;
    let (treatments, due) = treatments_for(
        &app,
        &[
            ("Maya Patel", "maya@example.com"),
            ("Ana Silva", "ana@example.com"),
        ],
    )
    .await;
    let clock = clock_at(due + Duration::minutes(1));
    let untrusting = worker(&app, &sink, None, &clock);
    let mut mail = MailState::default();

    // Two emails are due; one goes first as a probe, fails, and the other is not tried.
    let report = untrusting.run_round(&mut mail).await.unwrap();
    assert_eq!(
        (
            report.claimed,
            report.held,
            report.sent,
            report.failed,
            report.retried
        ),
        (2, 2, 0, 0, 0),
        "{report:?}"
    );
    assert_eq!(sink.connections(), 1, "one connection, not one per email");
    for &treatment in &treatments {
        let evening = rows(&app, treatment).await.remove(0);
        assert_eq!(
            (
                evening.status.as_str(),
                evening.attempts,
                evening.last_error.as_deref(),
                evening.reason.as_deref(),
                evening.next_attempt_at,
            ),
            (
                "pending",
                0,
                Some(UNTRUSTED),
                Some(&*Reason::HeldForSettings.stored()),
                evening.send_at
            ),
            "held as it was, the attempt not counted"
        );
    }

    // Staff see why on the outbox, once above the list and beside each email.
    let staff = app.signed_in("staff").await;
    let outbox = app.get_text_with(&staff, "/outbox").await;
    assert!(outbox.contains("Emails are not going out"), "{outbox}");
    assert!(outbox.contains("2 emails are held, not failed"), "{outbox}");
    assert_eq!(outbox.matches(UNTRUSTED_ON_A_PAGE).count(), 3, "{outbox}");
    // And the admins' System page says so too, with what to fix.
    let admin = app.signed_in("admin").await;
    let system = app.get_text_with(&admin, "/admin/system").await;
    assert!(system.contains("Emails are not going out"), "{system}");
    assert!(system.contains(UNTRUSTED_ON_A_PAGE), "{system}");
    assert!(system.contains("AFTERCARE_SMTP_CA_FILE"), "{system}");
    let problem = with_conn(&app, |conn| smtp_config_error(conn).unwrap()).await;
    assert_eq!(
        problem.map(|p| (p.message, p.held)),
        Some((UNTRUSTED.to_string(), 2))
    );

    // The worker pauses: no new connection while the pause lasts, however many rounds.
    for _ in 0..3 {
        let report = untrusting.run_round(&mut mail).await.unwrap();
        assert!(report.paused && report.claimed == 0, "{report:?}");
    }
    assert_eq!(sink.connections(), 1);

    // After the pause it tries again, once; still nothing is burned, however long it lasts.
    for round in 1..=8 {
        clock.set(clock.now() + WorkerConfig::default().config_pause + Duration::seconds(1));
        let report = untrusting.run_round(&mut mail).await.unwrap();
        assert_eq!((report.held, report.failed), (2, 0), "{report:?}");
        assert_eq!(sink.connections(), 1 + round);
    }
    let evening = rows(&app, treatments[0]).await.remove(0);
    assert_eq!((evening.status.as_str(), evening.attempts), ("pending", 0));

    // The CA file is set and the app restarted: the held emails go out at once.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());
    let fixed = worker(&app, &sink, Some(&ca_file), &clock);
    let report = fixed.drain().await.unwrap();
    assert_eq!((report.sent, report.held), (2, 0), "{report:?}");
    assert_eq!(sink.wait_for(2, StdDuration::from_secs(5)).await.len(), 2);
    for &treatment in &treatments {
        let evening = rows(&app, treatment).await.remove(0);
        assert_eq!(
            (
                evening.status.as_str(),
                evening.attempts,
                evening.last_error,
                evening.reason
            ),
            ("sent", 1, None, None)
        );
    }
    let outbox = app.get_text_with(&staff, "/outbox").await;
    assert!(!outbox.contains("Emails are not going out"), "{outbox}");
    assert!(with_conn(&app, |conn| smtp_config_error(conn).unwrap())
        .await
        .is_none());
}

async fn over_smtps_too_an_untrusted_certificate_holds_the_reminder(app: TestApp) {
    let ca = TestCa::new();
    let sink = SmtpSink::start_tls(TlsMode::Implicit, &ca).await;
    let (treatments, due) = treatments_for(&app, &[("Maya Patel", "maya@example.com")]).await;
    let clock = clock_at(due + Duration::minutes(1));
    let report = worker(&app, &sink, None, &clock).drain().await.unwrap();
    assert!(report.held == 1 && report.paused, "{report:?}");
    let evening = rows(&app, treatments[0]).await.remove(0);
    assert_eq!(
        (
            evening.status.as_str(),
            evening.attempts,
            evening.last_error.as_deref()
        ),
        ("pending", 0, Some(UNTRUSTED))
    );
    let staff = app.signed_in("staff").await;
    let outbox = app.get_text_with(&staff, "/outbox").await;
    assert!(outbox.contains("1 email is held, not failed"), "{outbox}");
    assert!(sink.received().is_empty());
}

crate::on_both_databases!(
    the_worker_delivers_over_starttls_and_smtps_when_the_ca_is_trusted,
    an_untrusted_certificate_holds_the_reminders_until_the_settings_are_fixed,
    over_smtps_too_an_untrusted_certificate_holds_the_reminder,
);
