//! The faults a clinic will meet, each ending with nothing lost and nothing
//! twice: PostgreSQL unreachable for a while (behind a TCP proxy the test cuts,
//! never the shared server), the disk full under SQLite (a size-limited
//! tmpfs), a backup taken under continuous writes (restored and compared);
//! and the bad input the second probe found (issue #23).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aftercare::config::DatabaseSettings;
use aftercare::jobs::ManualClock;
use aftercare::mail::Mailer;
use aftercare::usecases::backup;
use aftercare::usecases::store;
use chrono::{Duration, Utc};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;
use crate::smtp_sink::SmtpSink;

// ---- PostgreSQL unreachable ----

/// A TCP proxy between the app and PostgreSQL that the test can cut (every
/// connection dropped, new ones closed at once) and restore.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_cut, open) = (cut.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if is_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy {
            port,
            cut,
            connections,
        }
    }

    /// The network goes: every open connection drops, new ones are closed.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` → (`host:port`, the same URL through `port`).
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let after_scheme = url.find("://").unwrap() + 3;
    let authority_end = after_scheme + url[after_scheme..].find('/').unwrap();
    let host_start = url[after_scheme..authority_end]
        .rfind('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    let upstream = url[host_start..authority_end].to_string();
    let upstream = if upstream.contains(':') {
        upstream
    } else {
        format!("{upstream}:5432")
    };
    let host = upstream.rsplit_once(':').unwrap().0;
    let proxied = format!(
        "{}{host}:{port}{}",
        &url[..host_start],
        &url[authority_end..]
    );
    (upstream, proxied)
}

/// Polls `check` every 200 ms until it holds or `within` passes.
async fn eventually<F: std::future::Future<Output = bool>>(
    within: StdDuration,
    mut check: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    false
}

/// A face treatment done an hour ago for a new patient who consents to emails.
async fn treatment_for(app: &TestApp, practitioner: &reqwest::Client, n: usize) -> i64 {
    let when = clinic_time(-Duration::hours(1));
    app.patient_with_treatment(
        practitioner,
        &format!("Patient {n}"),
        &format!("patient{n}@example.com"),
        &[
            ("treated_at", when.as_str()),
            ("area_0", "cheeks"),
            ("depth_0", "1.0"),
        ],
    )
    .await
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(aftercare_pg),
    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
)]
async fn postgresql_unreachable_for_a_while_then_every_reminder_goes_once() {
    let name = format!(
        "aftercare_test_outage_{}",
        aftercare::auth::tokens::random_token()[..10]
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let (test_db, direct) =
        TestDb::postgres(&crate::support::db::postgres_admin_url(), &name).unwrap();
    let (upstream, _) = through_proxy(&direct, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = through_proxy(&direct, proxy.port);
    let app = spawn_app_on(test_db, &proxied, &[("AFTERCARE_DATABASE_POOL_SIZE", "4")]).await;

    let practitioner = app.signed_in("practitioner").await;
    let staff = app.signed_in("staff").await;
    let mut treatments = Vec::new();
    for n in 0..3 {
        treatments.push(treatment_for(&app, &practitioner, n).await);
    }
    // Each treatment's first reminder (the evening one), due once the worker's clock passes it.
    let due_at = scalar(
        &app,
        "SELECT CAST(extract(epoch FROM max(send_at)) AS BIGINT) FROM reminders WHERE reminder_key = 'evening'",
    )
    .await;
    let due: i64 = scalar(
        &app,
        "SELECT count(*) FROM reminders WHERE reminder_key = 'evening'",
    )
    .await;
    assert_eq!(due, 3);

    let sink = SmtpSink::start().await;
    let worker_clock = Arc::new(ManualClock::new(Utc::now()));
    let mut worker = app.worker_with(Mailer::smtp(&sink.url()).unwrap(), worker_clock.clone());
    worker.config.idle_poll = StdDuration::from_millis(200);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run_until(async {
                let _ = stopped.await;
            })
            .await
    });

    // The database goes away; the reminders fall due meanwhile.
    proxy.cut();
    worker_clock.set(chrono::DateTime::from_timestamp(due_at, 0).unwrap() + Duration::minutes(1));

    let page = app.get_with(&staff, "/patients").await;
    assert_eq!(
        page.status().as_u16(),
        503,
        "a page is a plain 503, never a 500"
    );
    assert!(page.headers().contains_key("retry-after"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Temporarily unavailable"), "{html}");
    assert!(html.contains("Nothing was saved"), "{html}");

    let health = app.get("/healthz").await;
    assert_eq!(health.status().as_u16(), 503);
    let why = health.text().await.unwrap();
    assert!(why.starts_with("database unavailable: "), "{why}");
    assert!(
        why.len() > "database unavailable: ".len() + 10,
        "says why: {why}"
    );

    // The worker keeps failing, backing off, and sends nothing meanwhile.
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    assert!(!running.is_finished(), "the worker survives the outage");
    assert_eq!(sink.received().len(), 0);

    // The database comes back: every due reminder goes, once.
    proxy.restore();
    let received = sink.wait_for(3, StdDuration::from_secs(60)).await;
    assert_eq!(received.len(), 3, "every due reminder arrived");
    let (app_ref, staff_ref) = (&app, &staff);
    let all_sent = eventually(StdDuration::from_secs(30), || async move {
        scalar(
            app_ref,
            "SELECT count(*) FROM reminders WHERE reminder_key = 'evening' AND status = 'sent'",
        )
        .await
            == 3
    })
    .await;
    assert!(all_sent, "every delivered reminder is marked sent");
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    let ids: Vec<String> = sink.message_ids();
    assert_eq!(ids.len(), 3, "none twice: {ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 3, "{ids:?}");
    let mut to: Vec<String> = sink
        .received()
        .iter()
        .map(|m| m.rcpt_to.join(","))
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "patient0@example.com",
            "patient1@example.com",
            "patient2@example.com"
        ]
    );

    // Pages and the health check recover by themselves (dead pooled connections are dropped).
    let pages_back = eventually(StdDuration::from_secs(30), || async move {
        app_ref
            .get_with(staff_ref, "/patients")
            .await
            .status()
            .as_u16()
            == 200
            && app_ref.get("/healthz").await.status().as_u16() == 200
    })
    .await;
    assert!(pages_back, "pages answer again without a restart");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

// ---- The disk full under SQLite ----

/// A size-limited filesystem (tmpfs) mounted for the test, unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts `size` of tmpfs; `None` (after saying why) when this machine
    /// cannot, outside CI. In CI it must: the test fails instead.
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { path, _dir: dir }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                if crate::support::db::in_ci() {
                    panic!("CI=true, but a tmpfs cannot be mounted for the disk-full test: {why}");
                }
                eprintln!(
                    "SKIPPED: the disk-full test needs to mount a tmpfs (run as root): {why}"
                );
                None
            }
        }
    }

    /// Fills the disk to the last byte with a file of its own.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut small = false;
        loop {
            let written = if small {
                file.write(&chunk[..512])
            } else {
                file.write(&chunk)
            };
            match written {
                Ok(0) | Err(_) if small => break,
                Ok(0) | Err(_) => small = true,
                Ok(_) => {}
            }
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The fields of the retry form on an outage page: (action, fields).
fn retry_form(html: &str) -> (String, Vec<(String, String)>) {
    let form = &html[html
        .find("<form method=\"post\" action=\"")
        .expect("a retry form")..];
    let action_start = form.find("action=\"").unwrap() + "action=\"".len();
    let action =
        form[action_start..action_start + form[action_start..].find('"').unwrap()].to_string();
    let mut fields = Vec::new();
    let mut rest = &form[..form.find("</form>").unwrap()];
    while let Some(at) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[at + "<input type=\"hidden\" name=\"".len()..];
        let name = rest[..rest.find('"').unwrap()].to_string();
        let value_start = rest.find("value=\"").unwrap() + "value=\"".len();
        let value = rest[value_start..value_start + rest[value_start..].find('"').unwrap()]
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        fields.push((name, value));
    }
    (action, fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_full_under_sqlite_refuses_writes_plainly_and_recovers_by_itself() {
    let Some(disk) = SmallDisk::mount("6m") else {
        return;
    };
    let url = format!("sqlite://{}", disk.path.join("aftercare.db").display());
    let (placeholder, _) = TestDb::sqlite();
    let app = spawn_app_on(placeholder, &url, &[]).await;
    let database = disk.path.join("aftercare.db");
    assert_eq!(
        mode_of(&database),
        0o600,
        "the database is its owner's only"
    );
    assert_eq!(mode_of(&disk.path.join("aftercare.db-wal")), 0o600);

    let staff = app.signed_in("staff").await;
    let before = app
        .add_patient(&staff, "Before Full", "before@example.com")
        .await;
    let filler = disk.fill();

    // Writes are refused plainly, each rolled back whole; the form comes back as typed.
    let mut refused = None;
    for n in 0..50 {
        let name = format!("Full Disk {n}");
        let email = format!("full{n}@example.com");
        let r = app
            .post_form_with(
                &staff,
                "/patients/new",
                &[("name", &name), ("email", &email), ("email_consent", "yes")],
            )
            .await;
        let status = r.status().as_u16();
        assert!(
            status == 303 || status == 503,
            "a write answers 303 or 503, got {status}"
        );
        if status == 503 {
            assert!(r.headers().contains_key("retry-after"));
            refused = Some((name, email, r.text().await.unwrap()));
            break;
        }
    }
    let (name, email, html) = refused.expect("a write on a full disk is refused");
    assert!(
        html.contains("the server&#x27;s disk is full") || html.contains("disk is full"),
        "{html}"
    );
    assert!(
        html.contains(&format!("value=\"{name}\"")),
        "the name is kept: {html}"
    );
    assert!(
        html.contains(&format!("<dd>{email}</dd>")),
        "and shown: {html}"
    );
    let saved = scalar(
        &app,
        &format!("SELECT count(*) FROM patients WHERE name = '{name}'"),
    )
    .await;
    assert_eq!(saved, 0, "nothing half-written");

    // A backup refuses to start without room, saying so, and leaves nothing.
    let target = disk.path.join("backup.db");
    let refused_backup = with_conn(&app, {
        let target = target.clone();
        move |conn| backup::take(conn, &target)
    })
    .await
    .unwrap_err();
    let message = format!("{refused_backup:#}");
    assert!(
        message.contains("not enough room for a backup"),
        "{message}"
    );
    assert!(!target.exists());
    assert!(!disk.path.join("backup.db.partial").exists());

    // Space returns: the same page sends the form again, and it is saved once.
    std::fs::remove_file(filler).unwrap();
    let (action, fields) = retry_form(&html);
    assert_eq!(action, "/patients/new");
    let r = staff
        .post(app.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        303,
        "saved once space returned, no restart"
    );
    let saved = scalar(
        &app,
        &format!("SELECT count(*) FROM patients WHERE name = '{name}'"),
    )
    .await;
    assert_eq!(saved, 1);
    let acknowledged_before = scalar(
        &app,
        &format!("SELECT count(*) FROM patients WHERE id = {before}"),
    )
    .await;
    assert_eq!(
        acknowledged_before, 1,
        "what was saved before the disk filled is still there"
    );
    let problems = with_conn(&app, |conn| {
        store::backup::integrity_problems(conn).unwrap()
    })
    .await;
    assert!(problems.is_empty(), "{problems:?}");

    // And a backup now goes, owner-only.
    let taken = with_conn(&app, {
        let target = target.clone();
        move |conn| backup::take(conn, &target)
    })
    .await
    .unwrap();
    assert_eq!(mode_of(&taken.path), 0o600);
}

// ---- A backup under continuous writes ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_continuous_writes_restores_with_every_committed_row() {
    let app = Arc::new(spawn_app_with(Db::Sqlite, &[]).await);
    let staff = app.signed_in("staff").await;
    let committed: Arc<Mutex<Vec<i64>>> = Arc::default();
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (app, staff, committed, writing) = (
            app.clone(),
            staff.clone(),
            committed.clone(),
            writing.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::SeqCst) {
                let id = app
                    .add_patient(
                        &staff,
                        &format!("Load {w}-{n}"),
                        &format!("load{w}-{n}@example.com"),
                    )
                    .await;
                committed.lock().unwrap().push(id);
                n += 1;
            }
        }));
    }
    tokio::time::sleep(StdDuration::from_millis(1500)).await;

    // Every row acknowledged before the backup begins must be in it.
    let before: Vec<i64> = committed.lock().unwrap().clone();
    assert!(
        before.len() > 10,
        "the writes are running: {}",
        before.len()
    );
    let folder = tempfile::tempdir().unwrap();
    let copy = folder.path().join("under-load.db");
    let taken = with_conn(&app, {
        let copy = copy.clone();
        move |conn| backup::take(conn, &copy)
    })
    .await
    .unwrap();
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    writing.store(false, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let after = committed.lock().unwrap().len();
    assert!(after > before.len(), "writes went on during the backup");
    assert_eq!(mode_of(&copy), 0o600, "a backup is its owner's only");

    // Restore into a fresh file, and compare.
    let fresh = folder.path().join("fresh.db");
    let settings = DatabaseSettings::parse(&format!("sqlite://{}", fresh.display())).unwrap();
    let restored = backup::restore(&settings, &copy, Utc::now()).unwrap();
    assert_eq!(restored.counts, taken.counts);
    assert_eq!(mode_of(&fresh), 0o600);
    let mut conn = store::backup::open_file(&fresh).unwrap();
    assert!(store::backup::integrity_problems(&mut conn)
        .unwrap()
        .is_empty());
    let ids: BTreeSet<i64> = {
        use diesel::prelude::*;
        use store::schema::patients;
        patients::table
            .select(patients::id)
            .load::<i64>(&mut conn)
            .unwrap()
            .into_iter()
            .collect()
    };
    let missing: Vec<&i64> = before.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "committed before the backup but not in it: {missing:?}"
    );
    let live = count_rows(&app, "patients").await;
    assert!(
        (ids.len() as i64) < live,
        "later writes are not in the copy, as expected"
    );
}

// ---- Bad input (probe 2) ----

/// Addresses lettre parses but cannot build an envelope for are refused
/// beside the field, for a patient and for the clinic's sender; nothing saved.
async fn addresses_that_can_never_be_sent_to_are_refused(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let admin = app.signed_in("admin").await;
    for bad in ["\"a\\\"b\"@demo.example", "a@[127.0.0.1]"] {
        let patients = count_rows(&app, "patients").await;
        let r = app
            .post_form_with(
                &staff,
                "/patients/new",
                &[
                    ("name", "Quoted Address"),
                    ("email", bad),
                    ("email_consent", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 422, "{bad}");
        assert_eq!(count_rows(&app, "patients").await, patients, "{bad}");

        let r = app
            .post_form_with(
                &admin,
                "/admin/clinic",
                &[
                    ("name", "Glow Clinic"),
                    ("phone", "020 7946 0000"),
                    ("email", "desk@glow.example"),
                    ("address", "1 High Street, London"),
                    ("opening_hours", "Mon to Fri"),
                    ("out_of_hours", "NHS 111"),
                    ("time_zone", "Europe/London"),
                    ("send_hour", "9"),
                    ("sender_email", bad),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 422, "sender {bad}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Glow Clinic"),
            "the form keeps what was typed"
        );
        let sender = with_conn(&app, |conn| {
            aftercare::usecases::clinic::get(conn).unwrap().sender_email
        })
        .await;
        assert_ne!(sender, bad);
    }
}

/// Opens a treatment's check-in form as the patient and sends it, with a photo.
async fn check_in_with_photo(app: &TestApp, treatment: i64) -> reqwest::Response {
    let url = app.state.links.checkin(treatment);
    let path = url[url.find("/checkin/").unwrap()..].to_string();
    let patient = new_client();
    let html = app.get_text_with(&patient, &path).await;
    let key = hidden_value(&html, "form_key").expect("the form has its key");
    let photo = crate::checkins::photo_with_location();
    let (content_type, body) =
        crate::checkins::multipart(&[("form_key", &key), ("answer", "unsure")], Some(&photo));
    patient
        .post(app.url(&path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn a_deleted_treatments_photos_are_gone_at_once(app: TestApp) {
    let practitioner = app.signed_in("practitioner").await;
    let kept = treatment_for(&app, &practitioner, 1).await;
    let deleted = treatment_for(&app, &practitioner, 2).await;
    assert_eq!(check_in_with_photo(&app, kept).await.status().as_u16(), 200);
    assert_eq!(
        check_in_with_photo(&app, deleted).await.status().as_u16(),
        200
    );
    let photo = scalar(
        &app,
        &format!(
            "SELECT max(p.checkin_id) FROM checkin_photos p JOIN checkins c ON c.id = p.checkin_id WHERE c.treatment_id = {deleted}"
        ),
    )
    .await;
    let path = format!("/checkins/{photo}/photo");
    assert_eq!(
        app.get_with(&practitioner, &path).await.status().as_u16(),
        200
    );

    let r = app
        .post_form_with(&practitioner, &format!("/treatments/{deleted}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        app.get_with(&practitioner, &path).await.status().as_u16(),
        404
    );
    assert_eq!(
        count_rows(&app, "checkin_photos").await,
        1,
        "the other treatment's stays"
    );
    assert_eq!(
        count_rows(&app, "checkins").await,
        2,
        "the answers stay for the record"
    );
}

async fn a_checkin_link_stops_taking_answers_after_the_care_window(app: TestApp) {
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let practitioner = app.signed_in("practitioner").await;
    let treatment = treatment_for(&app, &practitioner, 1).await;
    let url = app.state.links.checkin(treatment);
    let path = url[url.find("/checkin/").unwrap()..].to_string();
    let started = Utc::now();

    // Three weeks on (healing is over, the margin is not): still open.
    app.clock.set(started + Duration::days(21));
    let patient = new_client();
    let r = app.get_with(&patient, &path).await;
    assert_eq!(r.status().as_u16(), 200);
    let key = hidden_value(&r.text().await.unwrap(), "form_key").unwrap();

    // Three months on: a clear page with the clinic's phone, and nothing recorded.
    app.clock.set(started + Duration::days(90));
    let r = app.get(&path).await;
    assert_eq!(r.status().as_u16(), 410);
    let html = r.text().await.unwrap();
    assert!(html.contains("020 7946 0000"), "{html}");
    assert!(html.contains("no longer takes answers"), "{html}");
    // The form opened while the link was open is refused too.
    let (content_type, body) = crate::checkins::multipart(
        &[
            ("form_key", &key),
            ("answer", "worried"),
            ("item", "call-now-0"),
        ],
        None,
    );
    let r = app
        .post_multipart(&patient, &path, (content_type, body))
        .await;
    assert_eq!(r.status().as_u16(), 410);
    assert_eq!(count_rows(&app, "checkins").await, 0);
    assert_eq!(count_rows(&app, "checkin_alerts").await, 0);
}

/// The database file and its log are created owner-only whatever the umask
/// allowed (0644 under the usual 022).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_file_is_its_owners_only() {
    let app = spawn_app_with(Db::Sqlite, &[]).await;
    let path = std::path::PathBuf::from(app.state.settings.database.sqlite_path());
    app.signed_in("staff").await;
    assert_eq!(mode_of(&path), 0o600);
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    assert_eq!(mode_of(&wal), 0o600);
}

crate::on_both_databases!(
    addresses_that_can_never_be_sent_to_are_refused,
    a_deleted_treatments_photos_are_gone_at_once,
    a_checkin_link_stops_taking_answers_after_the_care_window,
);

/// A password given in the URL's query is masked on the System page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(aftercare_pg),
    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
)]
async fn a_database_password_in_the_query_is_masked_on_the_system_page() {
    let name = format!(
        "aftercare_test_redact_{}",
        aftercare::auth::tokens::random_token()[..10]
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let (test_db, url) =
        TestDb::postgres(&crate::support::db::postgres_admin_url(), &name).unwrap();
    // Trust authentication ignores the password; the app must still hide it.
    let with_password = format!("{url}?password=QuerySecret123");
    let app = spawn_app_on(test_db, &with_password, &[]).await;
    let admin = app.signed_in("admin").await;
    let html = app.get_text_with(&admin, "/admin/system").await;
    assert!(!html.contains("QuerySecret123"), "{html}");
    assert!(html.contains("password=***"), "{html}");
    let advice =
        backup::postgres_advice(&app.state.settings.database, std::path::Path::new("x.dump"));
    assert!(
        !advice.contains("QuerySecret123") && advice.contains("password=***"),
        "{advice}"
    );
}
