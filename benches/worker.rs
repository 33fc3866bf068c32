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
//!
//! Experiments (not the production set-up; see BENCHMARKS.md, "what limits it"):
//! - `AFTERCARE_BENCH_CONCURRENCY=N`: N sends in flight per worker and an SMTP pool of N
//!   connections (production: 8 and 8);
//! - `AFTERCARE_BENCH_SINK=quickack`: a minimal counting SMTP sink that acknowledges every TCP
//!   segment at once (TCP_QUICKACK), as if the client did not wait on Nagle's algorithm.

// The tests' harness: the SMTP sink, fresh databases and the app's settings.
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aftercare::jobs::{SystemClock, Worker, WorkerConfig};
use aftercare::mail::Mailer;
use aftercare::usecases::store::{self, schema};
use chrono::Utc;
use diesel::prelude::*;
use support::db::TestDb;
use support::smtp_sink;

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
        let mut label = format!(
            "{backend}, {workers} worker{}",
            if workers == "1" { "" } else { "s" }
        );
        if let Ok(n) = std::env::var("AFTERCARE_BENCH_CONCURRENCY") {
            label.push_str(&format!(" (experiment: {n} sends in flight)"));
        }
        if env_or("AFTERCARE_BENCH_SINK", "test") == "quickack" {
            label.push_str(" (experiment: quick-ACK sink)");
        }
        println!("\n== {label}: {count} due reminders ==");
        let sink = runtime.block_on(Sink::start());
        let child = Command::new(&exe)
            .env(ROLE_VAR, "run")
            .env("AFTERCARE_BENCH_BACKEND", backend)
            .env("AFTERCARE_BENCH_WORKERS", workers)
            .env("AFTERCARE_BENCH_REMINDERS", count.to_string())
            .env("AFTERCARE_BENCH_SMTP_URL", sink.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the scenario starts");
        let child_id = child.id();
        let output = child.wait_with_output().expect("the scenario runs");
        if backend == "postgres" {
            // The child drops its database; if it died first, do it here.
            drop(TestDb::Postgres {
                admin_url: env_or("AFTERCARE_BENCH_PG_URL", DEFAULT_PG),
                name: pg_name(child_id),
            });
        }
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

/// The tests' SMTP sink (the default), or the quick-ACK one (an experiment).
enum Sink {
    Test(smtp_sink::SmtpSink),
    QuickAck(quickack::Sink),
}

impl Sink {
    async fn start() -> Sink {
        match env_or("AFTERCARE_BENCH_SINK", "test").as_str() {
            "quickack" => Sink::QuickAck(quickack::Sink::start().await),
            _ => Sink::Test(smtp_sink::SmtpSink::start().await),
        }
    }
    fn url(&self) -> String {
        match self {
            Sink::Test(s) => s.url(),
            Sink::QuickAck(s) => s.url(),
        }
    }
    fn message_ids(&self) -> Vec<String> {
        match self {
            Sink::Test(s) => s.message_ids(),
            Sink::QuickAck(s) => s.message_ids(),
        }
    }
}

/// A minimal SMTP sink that keeps only Message-IDs and sets TCP_QUICKACK before every read, so
/// the client's last small write (lettre sends the body, then `CRLF.CRLF` on its own) is not held
/// back by Nagle's algorithm waiting for a delayed ACK.
mod quickack {
    use std::os::fd::AsRawFd;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    pub struct Sink {
        port: u16,
        ids: Arc<Mutex<Vec<String>>>,
        accept: tokio::task::JoinHandle<()>,
    }

    impl Sink {
        pub async fn start() -> Sink {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("address").port();
            let ids: Arc<Mutex<Vec<String>>> = Arc::default();
            let shared = ids.clone();
            let accept = tokio::spawn(async move {
                let mut connections = tokio::task::JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    connections.spawn(serve(stream, shared.clone()));
                }
            });
            Sink { port, ids, accept }
        }
        pub fn url(&self) -> String {
            format!("smtp://127.0.0.1:{}", self.port)
        }
        pub fn message_ids(&self) -> Vec<String> {
            self.ids.lock().unwrap().clone()
        }
    }

    impl Drop for Sink {
        fn drop(&mut self) {
            self.accept.abort();
        }
    }

    fn quick_ack(stream: &TcpStream) {
        let one: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option value of the right size.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    async fn serve(stream: TcpStream, ids: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
        stream.set_nodelay(true)?;
        let mut stream = BufReader::new(stream);
        stream
            .get_mut()
            .write_all(b"220 localhost quickack sink\r\n")
            .await?;
        let mut line = String::new();
        loop {
            line.clear();
            quick_ack(stream.get_ref());
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                "DATA" => {
                    stream.get_mut().write_all(b"354 go ahead\r\n").await?;
                    let mut id = None;
                    loop {
                        line.clear();
                        quick_ack(stream.get_ref());
                        if stream.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        if id.is_none()
                            && line.len() > 11
                            && line[..11].eq_ignore_ascii_case("message-id:")
                        {
                            id = Some(line[11..].trim().to_string());
                        }
                    }
                    ids.lock().unwrap().push(id.unwrap_or_default());
                    b"250 2.0.0 ok\r\n"
                }
                "QUIT" => {
                    stream.get_mut().write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 ok\r\n",
            };
            stream.get_mut().write_all(reply).await?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A child: one scenario.

fn pg_name(pid: u32) -> String {
    format!("aftercare_bench_worker_{pid}")
}

/// A fresh database for one run, dropped afterwards (PostgreSQL) or deleted with its folder.
fn fresh_database(backend: &str) -> anyhow::Result<(TestDb, String)> {
    match backend {
        "sqlite" => Ok(TestDb::sqlite()),
        "postgres" => {
            let admin_url = env_or("AFTERCARE_BENCH_PG_URL", DEFAULT_PG);
            TestDb::postgres(&admin_url, &pg_name(std::process::id()))
                .map_err(|e| e.context("set AFTERCARE_BENCH_PG_URL"))
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
    let settings = support::settings(&url, mail_dir.path(), &[("AFTERCARE_SMTP_URL", &smtp_url)]);
    let state = aftercare::startup::prepare(settings)?;

    // A demo clinic with 100 patients (10 recorded treatments), then `count` due reminders
    // spread over those treatments; the treatments' own reminders (and the clinic's emails
    // about the demo's check-ins) are set aside.
    let seeded = Instant::now();
    {
        let mut conn = state.pool.get()?;
        aftercare::usecases::demo::seed(&mut conn, &state.protocol, 100, state.timing())
            .map_err(|e| anyhow::anyhow!("demo seed: {e}"))?;
        diesel::update(schema::reminders::table)
            .set(schema::reminders::status.eq("cancelled"))
            .execute(&mut *conn)?;
        // The clinic's emails about the demo's check-ins too: only the bench's rows go.
        diesel::delete(schema::checkin_alerts::table).execute(&mut *conn)?;
        diesel::delete(schema::checkin_overdue::table).execute(&mut *conn)?;
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
                        kind: aftercare::care::ReminderKind::Milestone.as_str(),
                        day: 3,
                        subject: format!("Day 3: your skin is settling ({i})"),
                        send_at: due,
                        next_attempt_at: due,
                        status: store::reminders::Status::Pending.as_str(),
                        reason: None,
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Built inside the runtime, as the app builds them.
    let _entered = runtime.enter();
    // Like `aftercare worker` processes: each worker its own connection pool and SMTP pool.
    let concurrency: Option<usize> = std::env::var("AFTERCARE_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok());
    let fleet: Vec<Worker> = (0..workers)
        .map(|_| -> anyhow::Result<Worker> {
            let (mailer, config) = match concurrency {
                None => (Mailer::smtp(&smtp_url)?, WorkerConfig::default()),
                Some(n) => {
                    let config = WorkerConfig {
                        concurrency: n,
                        ..WorkerConfig::default()
                    };
                    (Mailer::smtp_with_pool_size(&smtp_url, n)?, config)
                }
            };
            Ok(Worker {
                pool: store::pool(&state.settings.database)?,
                mailer: Arc::new(mailer),
                links: state.links.clone(),
                clock: Arc::new(SystemClock),
                config,
                metrics: state.metrics.clone(),
            })
        })
        .collect::<anyhow::Result<_>>()?;

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
