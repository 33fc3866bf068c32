//! Several instances on one PostgreSQL database (README, "Running several instances"): two web
//! instances without a worker and two `aftercare worker` processes, started together on an
//! empty database. A session begun on one web instance is good on the other, an edit made on
//! one shows on the other's cached sheet, and each email goes out once.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;

use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

/// An `aftercare` process of the test, killed when dropped.
pub(crate) struct Process {
    pub(crate) child: Child,
    /// The JSON log lines it writes.
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Process {
    pub(crate) fn start(args: &[&str], database_url: &str, smtp_url: &str) -> Process {
        Process::start_with(args, database_url, smtp_url, &[])
    }

    /// As `start`, with these settings too.
    pub(crate) fn start_with(
        args: &[&str],
        database_url: &str,
        smtp_url: &str,
        settings: &[(&str, &str)],
    ) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(args)
            .env("AFTERCARE_DATABASE_URL", database_url)
            .env("AFTERCARE_BIND", "127.0.0.1:0")
            .env("AFTERCARE_SMTP_URL", smtp_url)
            .env("AFTERCARE_LOG", "info")
            .env("AFTERCARE_LOG_FORMAT", "json")
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(json) = serde_json::from_str(&line) {
                    let _ = tx.send(json);
                }
            }
        });
        Process { child, lines }
    }

    /// Where it serves, once it says so.
    pub(crate) fn address(&self) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(StdDuration::from_secs(60))
                .expect("the instance says where it serves");
            if line["message"] == "serving" {
                return line["address"].as_str().unwrap().to_string();
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts a form to another instance with a CSRF token `client` got from `app`.
async fn post_to(
    app: &TestApp,
    client: &reqwest::Client,
    address: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_for(client).await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    client
        .post(format!("{address}{path}"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(aftercare_pg),
    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
)]
async fn two_web_instances_and_two_workers_share_sessions_and_send_each_email_once() {
    let (db, url) = TestDb::fresh(Db::Postgres);
    let sink = SmtpSink::start().await;
    // All four start at once on an empty database, so they race to migrate it.
    let other = Process::start(&["serve", "--no-worker"], &url, &sink.url());
    let workers = [
        Process::start(&["worker"], &url, &sink.url()),
        Process::start(&["worker"], &url, &sink.url()),
    ];
    let app = spawn_app_on(db, &url, &[("AFTERCARE_SMTP_URL", &sink.url())]).await;
    let other_address = other.address();
    app.configure_clinic("Glow Clinic", "hello@glow.example")
        .await;

    // Signed in on the first instance, and on the second too, with no second sign-in.
    let practitioner = app.signed_in("practitioner").await;
    let page = text_at(&practitioner, &format!("{other_address}/patients")).await;
    assert!(
        page.contains("Test practitioner") && page.contains("Sign out"),
        "the second instance knows the session: {page}"
    );

    // Patients added on either instance, each treated an hour ago and sent the sheet now
    // from the other one.
    let when = clinic_time(-Duration::hours(1));
    let mut treatments = Vec::new();
    for n in 0..6 {
        let (name, email) = (format!("Patient {n}"), format!("patient{n}@example.com"));
        let added = if n % 2 == 0 {
            app.add_patient(&practitioner, &name, &email).await
        } else {
            let fields = [
                ("name", name.as_str()),
                ("email", email.as_str()),
                ("email_consent", "yes"),
            ];
            let r = post_to(
                &app,
                &practitioner,
                &other_address,
                "/patients/new",
                &fields,
            )
            .await;
            assert_eq!(r.status().as_u16(), 303, "added on the second instance");
            id_in_location(&r)
        };
        let fields = [
            ("treated_at", when.as_str()),
            ("area_0", "cheeks"),
            ("depth_0", "1.0"),
        ];
        let r = app.record_treatment(&practitioner, added, &fields).await;
        assert_eq!(r.status().as_u16(), 303);
        let treatment = id_in_location(&r);
        let click = format!("click-{n}");
        let path = format!("/treatments/{treatment}/send-sheet");
        let r = if n % 2 == 0 {
            post_to(
                &app,
                &practitioner,
                &other_address,
                &path,
                &[("click", &click)],
            )
            .await
        } else {
            app.post_form_with(&practitioner, &path, &[("click", &click)])
                .await
        };
        assert_eq!(r.status().as_u16(), 303, "sheet sent now");
        treatments.push((treatment, email));
    }

    // A sheet cached on the second instance follows an edit made on the first.
    let (first, _) = &treatments[0];
    let sheet_path = format!("/treatments/{first}/sheet");
    let before = text_at(&practitioner, &format!("{other_address}{sheet_path}")).await;
    assert!(before.contains("Cheeks (1.0 mm)"), "{before}");
    let deeper = [
        ("treated_at", when.as_str()),
        ("area_0", "cheeks"),
        ("depth_0", "2.0"),
        // Deeper than usual for cheeks: the practitioner confirms it.
        ("depth_confirmed", "cheeks 2.0"),
    ];
    let r = app.edit_treatment(&practitioner, *first, &deeper).await;
    assert_eq!(r.status().as_u16(), 303);
    let after = text_at(&practitioner, &format!("{other_address}{sheet_path}")).await;
    assert!(
        after.contains("Cheeks (2.0 mm)"),
        "the edit shows on the other instance"
    );

    // The workers send what is due: each sheet email once, and nothing twice.
    let sheets_sent =
        "SELECT COUNT(*) FROM reminders WHERE reminder_key LIKE 'sheet-now%' AND status = 'sent'";
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while scalar(&app, sheets_sent).await < 6 {
        assert!(
            Instant::now() < deadline,
            "the workers sent the sheets within a minute"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    let sent = scalar(&app, "SELECT COUNT(*) FROM reminders WHERE status = 'sent'").await;
    let received = sink.received();
    assert_eq!(received.len() as i64, sent, "one email per sent row");
    let mut ids = sink.message_ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), received.len(), "no Message-ID twice");
    for (_, email) in &treatments {
        let to_them = received
            .iter()
            .filter(|m| m.header("To").is_some_and(|to| to.contains(email.as_str())))
            .filter(|m| {
                m.text_part("text/plain")
                    .is_some_and(|t| t.contains("As promised at the clinic"))
            })
            .count();
        assert_eq!(to_them, 1, "{email} got their sheet once");
    }
    let beating = scalar(&app, "SELECT COUNT(*) FROM worker_heartbeats").await;
    assert!(
        beating >= 2,
        "both workers took part in the claim: {beating}"
    );
    drop(workers);
}
