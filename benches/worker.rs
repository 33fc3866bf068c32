//! Reminder worker throughput: N due reminders (10,000 by default) delivered over real SMTP on
//! loopback, with the production worker settings (batch 100, 8 sends in flight per worker).
//!
//! `cargo bench --bench worker` runs two scenarios: one worker on SQLite, four workers on
//! PostgreSQL. Each scenario runs in a child process of its own (so its peak memory is its own),
//! against a fresh database; this process runs the SMTP sink (the one the tests use), checks that
//! every reminder arrived exactly once, and prints a Markdown table.
//!
//! Environment (all optional):
//! - `AFTERCARE_BENCH_REMINDERS`: how many due reminders (default 10000);
//! - `AFTERCARE_BENCH_WORKER_SCENARIOS`: e.g. `"sqlite:1 postgres:4"` (the default);
//! - `AFTERCARE_BENCH_PG_URL`: a PostgreSQL URL to create the bench databases from
//!   (default `postgres://postgres@127.0.0.1:5432/postgres`); each run creates
//!   `aftercare_bench_worker_<pid>` and drops it afterwards.

#[allow(dead_code)]
#[path = "../tests/api/smtp_sink.rs"]
mod smtp_sink;

use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aftercare::config::Settings;
use aftercare::jobs::{SystemClock, Worker, WorkerConfig};
use aftercare::mail::Mailer;
use aftercare::store::{self, schema};
use chrono::Utc;
use diesel::prelude::*;

const ROLE_VAR: &str = "AFTERCARE_BENCH_ROLE";
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A run that takes longer than this is stopped and reported as failed.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn main() -> ExitCode {
    match std::env::var(ROLE_VAR).as_deref() {
        Ok("run") => match run_scenario() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker bench: {e:#}");
                ExitCode::FAILURE
            }
        },
        _ => orchestrate(),
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: SMTP sink, one child per scenario, checks and the table.

struct Row {
    label: String,
    result: Option<String>,
    check: String,
}

fn field<'a>(result: &'a str, key: &str) -> &'a str {
    result
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or("?")
}

fn orchestrate() -> ExitCode {
    let count: usize = env_or("AFTERCARE_BENCH_REMINDERS", "10000")
        .parse()
        .expect("AFTERCARE_BENCH_REMINDERS is a number");
    let scenarios = env_or("AFTERCARE_BENCH_WORKER_SCENARIOS", "sqlite:1 postgres:4");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut rows = Vec::new();
    let mut ok = true;
    for scenario in scenarios.split_whitespace() {
        let (backend, workers) = scenario.split_once(':').unwrap_or((scenario, "1"));
        let label = format!(
            "{backend}, {workers} worker{}",
            if workers == "1" { "" } else { "s" }
        );
        println!("\n== {label}: {count} due reminders ==");
        let sink = runtime.block_on(smtp_sink::SmtpSink::start());
        let output = Command::new(&exe)
            .env(ROLE_VAR, "run")
            .env("AFTERCARE_BENCH_BACKEND", backend)
            .env("AFTERCARE_BENCH_WORKERS", workers)
            .env("AFTERCARE_BENCH_REMINDERS", count.to_string())
            .env("AFTERCARE_BENCH_SMTP_URL", sink.url())
            .stderr(Stdio::inherit())
            .output()
            .expect("the scenario starts");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut result = None;
        for line in stdout.lines() {
            match line.strip_prefix("RESULT ") {
                Some(r) => result = Some(r.to_string()),
                None => println!("{line}"),
            }
        }
        // Every reminder exactly once, at the SMTP boundary.
        let ids = sink.message_ids();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        let check = if ids.len() == count && unique.len() == count {
            format!("{count} received, each once")
        } else {
            ok = false;
            format!(
                "MISMATCH: {} received, {} distinct, {count} expected",
                ids.len(),
                unique.len()
            )
        };
        println!("sink: {check}");
        if !output.status.success() || result.is_none() {
            ok = false;
        }
        drop(sink);
        rows.push(Row {
            label,
            result,
            check,
        });
    }
    println!("\n| scenario | emails | time | emails/s | RSS at start → peak → end of the run | VmHWM | delivery |");
    println!("|---|---:|---:|---:|---|---:|---|");
    for row in &rows {
        match &row.result {
            Some(r) => println!(
                "| {} | {} | {} s | **{}** | {} → {} → {} MiB | {} MiB | {} |",
                row.label,
                field(r, "sent"),
                field(r, "secs"),
                field(r, "rate"),
                field(r, "rss_start_mib"),
                field(r, "rss_peak_mib"),
                field(r, "rss_end_mib"),
                field(r, "hwm_mib"),
                row.check
            ),
            None => println!("| {} | failed | | | | | {} |", row.label, row.check),
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------------
// A child: one scenario.

/// A fresh database for one run, dropped afterwards (PostgreSQL) or deleted with its folder.
enum BenchDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let BenchDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = diesel::pg::PgConnection::establish(admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}

fn fresh_database(backend: &str) -> anyhow::Result<(BenchDb, String)> {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            Ok((BenchDb::Sqlite(dir), url))
        }
        "postgres" => {
            let admin_url = env_or("AFTERCARE_BENCH_PG_URL", DEFAULT_PG);
            let name = format!("aftercare_bench_worker_{}", std::process::id());
            let mut conn = diesel::pg::PgConnection::establish(&admin_url).map_err(|e| {
                anyhow::anyhow!("cannot reach PostgreSQL at {admin_url} (set AFTERCARE_BENCH_PG_URL): {e}")
            })?;
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)?;
            diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
            let base = admin_url.split('?').next().unwrap_or(&admin_url);
            let url = format!("{}/{name}", &base[..base.rfind('/').unwrap_or(base.len())]);
            Ok((BenchDb::Postgres { admin_url, name }, url))
        }
        other => anyhow::bail!("unknown backend {other:?} (sqlite or postgres)"),
    }
}

/// (VmRSS, VmHWM) of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let read = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (read("VmRSS:"), read("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn run_scenario() -> anyhow::Result<()> {
    let backend = env_or("AFTERCARE_BENCH_BACKEND", "sqlite");
    let workers: usize = env_or("AFTERCARE_BENCH_WORKERS", "1").parse()?;
    let count: usize = env_or("AFTERCARE_BENCH_REMINDERS", "10000").parse()?;
    let smtp_url = std::env::var("AFTERCARE_BENCH_SMTP_URL")?;

    let (db, url) = fresh_database(&backend)?;
    let mail_dir = tempfile::tempdir()?;
    let vars = [
        ("AFTERCARE_DATABASE_URL", url),
        ("AFTERCARE_BIND", "127.0.0.1:0".to_string()),
        ("AFTERCARE_SMTP_URL", smtp_url.clone()),
        ("AFTERCARE_MAIL_DIR", mail_dir.path().display().to_string()),
    ];
    let settings = Settings::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| anyhow::anyhow!("settings: {}", e.join("; ")))?;
    let state = aftercare::startup::prepare(settings)?;

    // A demo clinic with 100 patients (10 recorded treatments), then `count` due reminders
    // spread over those treatments; the treatments' own reminders are set aside.
    let seeded = Instant::now();
    {
        let mut conn = state.pool.get()?;
        aftercare::demo::seed(&mut conn, &state.protocol, 100, Utc::now())
            .map_err(|e| anyhow::anyhow!("demo seed: {e}"))?;
        diesel::update(schema::reminders::table)
            .set(schema::reminders::status.eq("cancelled"))
            .execute(&mut *conn)?;
        let treated: Vec<(i64, i64)> = schema::treatments::table
            .select((schema::treatments::id, schema::treatments::patient_id))
            .order(schema::treatments::id)
            .load(&mut *conn)?;
        anyhow::ensure!(!treated.is_empty(), "the demo seed recorded no treatment");
        let due = (Utc::now() - chrono::Duration::minutes(5)).naive_utc();
        store::write_tx(&mut conn, |c| {
            for i in 0..count {
                let (treatment_id, patient_id) = treated[i % treated.len()];
                store::reminders::insert(
                    c,
                    &store::reminders::NewReminder {
                        treatment_id,
                        patient_id,
                        reminder_key: format!("bench-{i}"),
                        kind: "milestone".into(),
                        day: 3,
                        subject: format!("Day 3: your skin is settling ({i})"),
                        send_at: due,
                        next_attempt_at: due,
                        status: "pending".into(),
                        last_error: None,
                        message_id: format!("<aftercare.bench.{i}@demo.example>"),
                        updated_at: due,
                    },
                )?;
            }
            Ok::<_, store::DbError>(())
        })?;
    }
    println!(
        "seeded {count} due reminders in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );

    // Like `aftercare worker` processes: each worker its own connection pool and SMTP pool.
    let fleet: Vec<Worker> = (0..workers)
        .map(|_| -> anyhow::Result<Worker> {
            Ok(Worker {
                pool: store::pool(&state.settings.database)?,
                mailer: Arc::new(Mailer::smtp(&smtp_url)?),
                links: state.links.clone(),
                clock: Arc::new(SystemClock),
                config: WorkerConfig::default(),
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // Peak memory from here on: reset the high-water mark (Linux ≥ 4.0), then sample RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let samples: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let sampler = {
        let (samples, stop) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (rss, _) = memory_kib();
                samples
                    .lock()
                    .unwrap()
                    .push((started.elapsed().as_secs_f64(), rss));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let reports = runtime.block_on(async {
        tokio::time::timeout(
            RUN_LIMIT,
            futures_util::future::join_all(fleet.iter().map(|w| w.drain())),
        )
        .await
    });
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler.join().ok();
    let reports = reports.map_err(|_| anyhow::anyhow!("not drained within {RUN_LIMIT:?}"))?;
    let (mut sent, mut other) = (0, 0);
    for r in reports {
        let r = r?;
        sent += r.sent;
        other += r.retried + r.failed + r.skipped + r.cancelled;
    }
    let (rss_end, hwm) = memory_kib();

    let still_due: i64 = {
        let mut conn = state.pool.get()?;
        schema::reminders::table
            .filter(schema::reminders::status.ne("sent"))
            .filter(schema::reminders::status.ne("cancelled"))
            .count()
            .get_result(&mut *conn)?
    };
    drop(fleet);
    drop(state);
    drop(db);

    let samples = samples.lock().unwrap().clone();
    let at = |fraction: f64| {
        samples
            .iter()
            .find(|(t, _)| *t >= secs * fraction)
            .or(samples.last())
            .map_or(0, |s| s.1)
    };
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "{sent} sent ({other} otherwise) in {secs:.2} s: {:.0} emails/s; {still_due} rows left unsent",
        sent as f64 / secs
    );
    println!(
        "RSS over the run (MiB): 0% {} · 25% {} · 50% {} · 75% {} · 100% {} · peak sampled {} · VmHWM {}",
        mib(at(0.0)),
        mib(at(0.25)),
        mib(at(0.5)),
        mib(at(0.75)),
        mib(rss_end),
        mib(peak),
        mib(hwm)
    );
    anyhow::ensure!(
        sent == count && still_due == 0,
        "expected {count} sent and none left, got {sent} sent and {still_due} left"
    );
    println!(
        "RESULT sent={sent} secs={secs:.2} rate={:.0} rss_start_mib={} rss_peak_mib={} rss_end_mib={} hwm_mib={}",
        sent as f64 / secs,
        mib(at(0.0)),
        mib(peak.max(rss_end)),
        mib(rss_end),
        mib(hwm)
    );
    Ok(())
}
