//! Backups and restore, as an operator runs them (`aftercare backup`, `aftercare restore`,
//! the daily backups of `serve`), and the admin's System page.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aftercare::jobs::backups::DailyBackups;
use aftercare::usecases::backup as backups;
use aftercare::usecases::store::backup::{integrity_problems, open_file};
use aftercare::usecases::store::schema::{treatments, users};
use chrono::Duration;
use diesel::{QueryDsl, RunQueryDsl};

use crate::cli::{aftercare, http_get, migrated_sqlite, Serving, ADD_ANA_AS_ADMIN};
use crate::helpers::*;

/// Opens a SQLite file, checks it passes `PRAGMA integrity_check`, and returns `read` of it.
fn read_sound<T>(
    path: &Path,
    read: impl FnOnce(&mut aftercare::usecases::store::DbConn) -> T,
) -> T {
    let mut conn = open_file(path).unwrap();
    assert_eq!(
        integrity_problems(&mut conn).unwrap(),
        Vec::<String>::new(),
        "{} passes integrity_check",
        path.display()
    );
    read(&mut conn)
}

fn treatment_ids(conn: &mut aftercare::usecases::store::DbConn) -> Vec<i64> {
    treatments::table.select(treatments::id).load(conn).unwrap()
}

fn user_count(conn: &mut aftercare::usecases::store::DbConn) -> i64 {
    users::table.count().get_result(conn).unwrap()
}

/// `name` in `text` followed by a number: `holds 3 patients` → 3 for ("holds", "patients").
fn number_before(text: &str, word: &str) -> i64 {
    let at = text
        .find(&format!(" {word}"))
        .unwrap_or_else(|| panic!("{word} in {text}"));
    text[..at]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("a number before {word} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_four_writers_record_treatments_restores_all_committed_before_it() {
    let app = spawn_app(Db::Sqlite).await;
    let db_url = app.state.settings.database.url.expose_secret().to_string();
    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let committed = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let app = Arc::new(app);
    let mut writers = Vec::new();
    for n in 0..4 {
        let patient = app
            .add_patient(
                &practitioner,
                &format!("Writer {n}"),
                &format!("w{n}@example.com"),
            )
            .await;
        let (app, client, when) = (app.clone(), practitioner.clone(), when.clone());
        let (committed, stop) = (committed.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = app
                    .record_treatment(
                        &client,
                        patient,
                        &[
                            ("treated_at", &when),
                            ("area_0", "cheeks"),
                            ("depth_0", "1"),
                        ],
                    )
                    .await;
                assert_eq!(r.status().as_u16(), 303, "treatment recorded");
                committed.lock().unwrap().push(id_in_location(&r));
            }
        }));
    }
    // Writers under way: a few treatments each have committed.
    while committed.lock().unwrap().len() < 12 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before_backup = committed.lock().unwrap().clone();

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("during-writes.db");
    let to = backup.display().to_string();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || aftercare(&["backup", "--to", &to], &db_url, ""))
            .await
            .unwrap();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(ok, "{err}");
    assert!(out.contains("integrity check ok"), "{out}");
    let total = committed.lock().unwrap().len();

    // Restored where no app runs, as a restore drill would.
    let restored = dir.path().join("drill").join("restored.db");
    std::fs::create_dir(restored.parent().unwrap()).unwrap();
    let restored_url = format!("sqlite://{}", restored.display());
    let (ok, out_restore, err) =
        aftercare(&["restore", backup.to_str().unwrap()], &restored_url, "");
    assert!(ok, "{err}");
    assert!(out_restore.contains("integrity check ok"), "{out_restore}");
    let ids = read_sound(&restored, treatment_ids);
    for id in &before_backup {
        assert!(
            ids.contains(id),
            "treatment {id}, committed before the backup, is in it"
        );
    }
    assert!(ids.len() <= total, "nothing in it was never committed");
    assert_eq!(
        number_before(&out, "treatments") as usize,
        ids.len(),
        "the backup's own count: {out}"
    );
}

#[test]
fn restore_refuses_while_serve_runs_then_restores_a_daily_backup_keeping_the_old_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (database, daily_dir) = (dir.path().join("clinic.db"), dir.path().join("daily"));
    std::fs::create_dir(&daily_dir).unwrap();
    let db = format!("sqlite://{}", database.display());
    let mut serving = Serving::start(
        &db,
        dir.path(),
        &[("AFTERCARE_BACKUP_DIR", daily_dir.to_str().unwrap())],
    );
    // `serve` takes one at start-up: none was taken at today's hour.
    let taken = serving.next_line("daily backup taken");
    let daily = PathBuf::from(taken["path"].as_str().unwrap());
    assert!(taken["bytes"].as_u64().unwrap() > 0, "{taken}");
    assert_eq!(daily.parent(), Some(daily_dir.as_path()), "{taken}");

    // A change after the backup, so the two differ.
    let (ok, _, err) = aftercare(&ADD_ANA_AS_ADMIN, &db, "a long enough passphrase\n");
    assert!(ok, "{err}");

    let (ok, out, err) = aftercare(&["restore", daily.to_str().unwrap()], &db, "");
    assert!(!ok, "refused while serve runs: {out}");
    assert!(
        err.contains(&format!("the app is running on {}", database.display()))
            && err.contains("stop aftercare serve"),
        "{err}"
    );
    let names = |dir: &Path| -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert!(
        !names(dir.path())
            .iter()
            .any(|n| n.contains("before-restore") || n.contains("restoring")),
        "nothing moved: {:?}",
        names(dir.path())
    );

    assert_eq!(serving.stop().code(), Some(0));
    let (ok, out, err) = aftercare(&["restore", daily.to_str().unwrap()], &db, "");
    assert!(ok, "{err}");
    let aside: Vec<String> = names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("clinic.db.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", names(dir.path()));
    assert!(
        out.contains(&format!(
            "Kept the previous file as {}",
            dir.path().join(&aside[0]).display()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("to {}", database.display())), "{out}");
    // The old file, its log folded in, holds the user added after the backup; the restored one does not.
    assert_eq!(read_sound(&dir.path().join(&aside[0]), user_count), 1);
    assert_eq!(read_sound(&database, user_count), 0);
    for leftover in ["clinic.db-wal", "clinic.db-shm", "clinic.db.restoring"] {
        assert!(
            !names(dir.path()).contains(&leftover.to_string()),
            "{leftover} gone"
        );
    }
    // The app starts on the restored file, and answers.
    let mut serving = Serving::start(&db, dir.path(), &[]);
    assert!(http_get(&serving.address, "/healthz").contains(" 200 "));
    assert_eq!(serving.stop().code(), Some(0));
}

#[test]
fn restore_refuses_what_is_not_an_aftercare_database_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, db) = migrated_sqlite(dir.path(), "clinic.db");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a database").unwrap();
    let other = dir.path().join("other.sqlite");
    read_sound(&other, |_| ()); // an empty SQLite database of someone else's
    let missing = dir.path().join("missing.db");
    for (file, says) in [
        (&notes, "is not a readable SQLite database"),
        (&other, "is a SQLite database, but not an Aftercare one"),
        (&missing, "is not a file"),
    ] {
        let (ok, _, err) = aftercare(&["restore", file.to_str().unwrap()], &db, "");
        assert!(!ok);
        assert!(err.contains(&format!("{} {says}", file.display())), "{err}");
    }
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["clinic.db", "clinic.db.lock", "notes.txt", "other.sqlite"]
    );
    let (ok, _, err) = aftercare(&["backup", "--to", notes.to_str().unwrap()], &db, "");
    assert!(
        !ok && err.contains("already exists; a backup never overwrites a file"),
        "{err}"
    );
}

#[test]
fn on_postgresql_backup_and_restore_give_the_pg_dump_and_pg_restore_commands_password_masked() {
    let db = "postgres://clinic:pg-pass-9@db.example:5432/aftercare";
    let (ok, out, err) = aftercare(&["backup", "--to", "/srv/backups/aftercare.dump"], db, "");
    assert!(!ok, "no backup was made, so it does not succeed: {out}");
    assert!(
        err.contains(
            "pg_dump --format=custom --file=/srv/backups/aftercare.dump 'postgres://clinic:***@db.example:5432/aftercare'"
        ),
        "{err}"
    );
    let (ok, _, err) = aftercare(&["restore", "/srv/backups/aftercare.dump"], db, "");
    assert!(!ok);
    assert!(
        err.contains("pg_restore --clean --if-exists --no-owner --dbname='postgres://clinic:***@db.example:5432/aftercare' /srv/backups/aftercare.dump"),
        "{err}"
    );
    assert!(!format!("{out}{err}").contains("pg-pass-9"));
}

/// The daily backups of the app `app`, in `dir`, keeping `keep`, at 03:00 clinic time.
fn daily_backups(app: &TestApp, dir: &Path, keep: usize) -> DailyBackups {
    DailyBackups {
        pool: app.state.pool.clone(),
        clock: app.clock.clone(),
        dir: dir.to_path_buf(),
        keep,
        hour: 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_backups_come_once_a_day_keep_the_newest_and_retry_after_a_failure() {
    let app = spawn_app(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let daily = daily_backups(&app, dir.path(), 3);
    // A clinic in London, on a summer's day at noon: 03:00 there is 02:00 UTC.
    let noon: chrono::DateTime<chrono::Utc> = "2026-07-15T12:00:00Z".parse().unwrap();
    app.clock.set(noon);

    let first = daily.look().await.unwrap();
    let taken = first.taken.expect("none yet: one at start-up");
    assert_eq!(
        taken.taken.path,
        dir.path().join("aftercare-20260715T120000Z.db")
    );
    assert_eq!(
        first.next_due,
        "2026-07-16T02:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert!(
        daily.look().await.unwrap().taken.is_none(),
        "not again the same day"
    );
    app.clock.set("2026-07-16T01:59:00Z".parse().unwrap());
    assert!(
        daily.look().await.unwrap().taken.is_none(),
        "not before the hour"
    );

    for day in 1..=5 {
        app.clock
            .set(noon + Duration::days(day) - Duration::hours(10));
        let look = daily.look().await.unwrap();
        assert!(look.taken.is_some(), "day {day}");
    }
    let kept: Vec<String> = backups::list(dir.path())
        .unwrap()
        .into_iter()
        .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        kept,
        [
            "aftercare-20260718T020000Z.db",
            "aftercare-20260719T020000Z.db",
            "aftercare-20260720T020000Z.db",
        ]
    );
    for path in backups::list(dir.path()).unwrap() {
        read_sound(&path.path, |_| ());
    }

    // The backup disk goes away: an error to log, and the next look (an hour later) takes it.
    let gone = tempfile::tempdir().unwrap();
    let unmounted = daily_backups(&app, &gone.path().join("unmounted"), 3);
    app.clock.advance(Duration::days(1));
    let error = unmounted.look().await.unwrap_err();
    assert!(format!("{error:#}").contains("unmounted"), "{error:#}");
    std::fs::create_dir(gone.path().join("unmounted")).unwrap();
    app.clock.advance(Duration::hours(1));
    assert!(unmounted.look().await.unwrap().taken.is_some());
}

/// The System page: version, database, backups, worker, outbox, protocol and settings, secrets
/// masked; only admins see it.
async fn the_system_page_shows_what_runs_and_masks_secrets(db: Db) {
    let backup_dir = tempfile::tempdir().unwrap();
    let secret_key = "system-page-secret-key-0123456789abcdef";
    let app = spawn_app_with(
        db,
        &[
            ("AFTERCARE_BACKUP_DIR", backup_dir.path().to_str().unwrap()),
            (
                "AFTERCARE_SMTP_URL",
                "smtp://mailer:smtp-pass-7@127.0.0.1:2525",
            ),
            ("AFTERCARE_SECRET_KEY", secret_key),
        ],
    )
    .await;
    let practitioner = app.signed_in("practitioner").await;
    app.patient_with_treatment(
        &practitioner,
        "Ada Brook",
        "ada@example.com",
        &[
            ("treated_at", &clinic_time(-Duration::hours(1))),
            ("area_0", "cheeks"),
            ("depth_0", "1"),
        ],
    )
    .await;
    let pending = scalar(
        &app,
        "SELECT count(*) FROM reminders WHERE status = 'pending'",
    )
    .await;
    assert!(pending > 0);
    let sqlite = matches!(db, Db::Sqlite);
    if sqlite {
        daily_backups(&app, backup_dir.path(), 14)
            .look()
            .await
            .unwrap();
    }

    let admin = app.signed_in("admin").await;
    let html = app.get_text_with(&admin, "/admin/system").await;
    assert!(
        html.contains("<a href=\"/admin/system\">System</a>"),
        "in the navigation"
    );
    assert!(
        html.contains(&format!("Aftercare {}", env!("CARGO_PKG_VERSION"))),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<dt>Database</dt><dd>{}</dd>",
            if sqlite { "SQLite" } else { "PostgreSQL" }
        )),
        "{html}"
    );
    assert!(
        html.contains("<dt>Aftercare protocol</dt><dd>version 4</dd>"),
        "{html}"
    );
    if sqlite {
        let newest = backups::latest(backup_dir.path()).unwrap().unwrap();
        assert!(html.contains(&newest.path.display().to_string()), "{html}");
        assert!(html.contains("(0 s ago)"), "{html}");
    } else {
        assert!(
            html.contains("the app takes no backups of it") && html.contains("pg_dump"),
            "{html}"
        );
    }
    assert!(html.contains("no worker has beaten yet"), "{html}");
    assert!(
        html.contains(&format!(
            "<span class=\"status status-pending\">pending</span></a></th><td>{pending}</td>"
        )),
        "{html}"
    );
    assert!(html.contains("smtp://mailer:***@127.0.0.1:2525"), "{html}");
    assert!(
        html.contains("<code>AFTERCARE_SECRET_KEY</code></th><td>set (not shown)</td>"),
        "{html}"
    );
    for secret in ["smtp-pass-7", secret_key] {
        assert!(!html.contains(secret), "{secret} shown");
    }

    for role in ["practitioner", "staff"] {
        let client = app.signed_in(role).await;
        let r = app.get_with(&client, "/admin/system").await;
        assert_eq!(r.status().as_u16(), 403, "{role}");
        let page = r.text().await.unwrap();
        assert!(!page.contains("smtp://mailer"), "{role} sees no settings");
    }
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_system_page_shows_what_runs_and_masks_secrets() {
        super::the_system_page_shows_what_runs_and_masks_secrets(crate::helpers::Db::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(aftercare_pg),
        ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
    )]
    async fn the_system_page_shows_what_runs_and_masks_secrets() {
        super::the_system_page_shows_what_runs_and_masks_secrets(crate::helpers::Db::Postgres)
            .await;
    }
}
