//! What one view of a patient's sheet link costs, part by part (issue #24), and the whole path
//! over HTTP beside a static asset's, on a fresh database with the demo clinic:
//!
//! - `token check`: the link's signature (`Links::open_sheet`);
//! - `version read, pooled connection`: the three version counters, one query
//!   (`treatments::sheet_version`), on a connection already in hand;
//! - `version read, blocking pool`: the same as a handler runs it (`AppState::db`: the hop to the
//!   blocking pool and a connection from the pool): what the link did on every view before
//!   issue #24, and now at most once a second per sheet;
//! - `version kept`: the versions read for the link within the last second
//!   (`SheetCache::recent_version`), what the link does on most views now;
//! - `audit row per view`: one row through the group-commit writer, awaited until committed:
//!   what every view of the link cost before issue #24 (staff views still do);
//! - `audit view counted`: a view counted on its hour's entry when the entry is already written
//!   (`AuditWriter::count_view`), what the link does on every view but an hour's first now;
//! - `sheet cache look-up`: the rendered page for those versions;
//! - `GET static asset`, `GET /s/{token} (304)`, `GET /s/{token} (200)`: the whole request, one
//!   keep-alive connection on loopback, one request at a time (latency, not throughput: wrk in
//!   `benches/load/load.sh` measures that).
//!
//! `cargo bench --bench view`; SQLite in a temporary folder, and PostgreSQL too when
//! `AFTERCARE_TEST_DATABASE_URL` is set (a database created for the run and dropped after).
//! Figures in BENCHMARKS.md.

// The tests' harness: fresh databases and the app's settings.
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use aftercare::startup::Application;
use aftercare::usecases::audit::Actor;
use aftercare::usecases::{demo, sheet_inputs, treatments};
use aftercare::web::sheet_cache::{Kind, VersionRead};
use aftercare::web::AppState;
use criterion::{criterion_group, criterion_main, Criterion};
use support::{Db, TestDb};

/// A served app on a fresh database with the demo clinic, and what a patient's browser holds.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT/s/{token}`.
    link: String,
    /// The link's token.
    token: String,
    /// The link's current ETag, for the 304.
    etag: String,
    /// The stylesheet every page links to.
    static_url: String,
    treatment: i64,
    _db: TestDb,
    _mail_dir: tempfile::TempDir,
}

impl Fixture {
    fn new(db: Db) -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (test_db, url) = TestDb::fresh(db);
        let mail_dir = tempfile::tempdir().expect("a temporary folder");
        let settings = support::settings(&url, mail_dir.path(), &[]);
        let (state, base) = runtime.block_on(async {
            // The real clock: what is cached for a while must age as it does in production.
            let app = Application::build_with(settings, false).expect("the app builds");
            let base = format!("http://127.0.0.1:{}", app.port());
            let state = app.state.clone();
            tokio::spawn(app.run_until_stopped());
            (state, base)
        });
        let mut conn = state.pool.get().expect("a connection");
        demo::seed(&mut conn, &state.protocol, 10, state.timing()).expect("the demo seeds");
        drop(conn);
        let treatment = 1;
        let sealed = state.links.sheet(treatment);
        let token = sealed.rsplit('/').next().expect("a token").to_string();
        let link = format!("{base}/s/{token}");
        let static_url = format!("{base}{}", aftercare::web::assets::url("app.css"));
        let client = reqwest::Client::new();
        let etag = runtime.block_on(async {
            let first = client.get(&link).send().await.expect("the link answers");
            assert_eq!(first.status().as_u16(), 200, "the link opens");
            first.headers()["etag"]
                .to_str()
                .expect("an ETag")
                .to_string()
        });
        Fixture {
            runtime,
            state,
            client,
            link,
            token,
            etag,
            static_url,
            treatment,
            _db: test_db,
            _mail_dir: mail_dir,
        }
    }

    /// One request, its body read to the end; the status it answered.
    fn get(&self, url: &str, if_none_match: Option<&str>) -> u16 {
        self.runtime.block_on(async {
            let mut request = self.client.get(url);
            if let Some(tag) = if_none_match {
                request = request.header("If-None-Match", tag);
            }
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            black_box(response.bytes().await.expect("a body"));
            status
        })
    }
}

fn bench_view(c: &mut Criterion) {
    for (name, db) in support::db::bench_databases() {
        let f = Fixture::new(db);
        let id = f.treatment;
        let mut group = c.benchmark_group(format!("view/{name}"));

        group.bench_function("token check", |b| {
            b.iter(|| black_box(f.state.links.open_sheet(black_box(&f.token))))
        });

        let mut conn = f.state.pool.get().expect("a connection");
        group.bench_function("version read, pooled connection", |b| {
            b.iter(|| {
                treatments::sheet_version(&mut conn, id, treatments::Reader::Patient)
                    .expect("the versions")
            })
        });
        drop(conn);
        group.bench_function("version read, blocking pool", |b| {
            b.iter(|| {
                f.runtime
                    .block_on(f.state.db(move |conn| {
                        treatments::sheet_version(conn, id, treatments::Reader::Patient)
                    }))
                    .expect("the versions")
            })
        });

        let actor = Actor::anonymous("patient (sheet link)", "127.0.0.1");
        group.bench_function("audit row per view", |b| {
            b.iter(|| {
                let entry = treatments::sheet_opened(
                    actor.clone(),
                    "sheet.opened_by_patient",
                    id,
                    f.state.now(),
                );
                f.runtime
                    .block_on(f.state.audit.record(entry))
                    .expect("committed")
            })
        });

        let mut conn = f.state.pool.get().expect("a connection");
        let version = treatments::sheet_version(&mut conn, id, treatments::Reader::Patient)
            .expect("the versions");
        drop(conn);
        // One reading for the whole run: a reading of the clock each time would outlive the
        // second the versions are kept for, and time a read instead.
        let read = VersionRead {
            at: f.state.clock.monotonic(),
            changes: sheet_inputs::changes(),
        };
        f.state.sheets.remember_version(id, version, read);
        group.bench_function("version kept", |b| {
            b.iter(|| {
                f.state
                    .sheets
                    .recent_version(id, black_box(read))
                    .expect("the versions are kept")
            })
        });

        let view = || {
            treatments::sheet_opened(actor.clone(), "sheet.opened_by_patient", id, f.state.now())
        };
        // The hour's entry, written (and awaited) once.
        f.runtime
            .block_on(
                f.state
                    .audit
                    .count_view(view())
                    .expect("queued")
                    .committed(),
            )
            .expect("committed");
        group.bench_function("audit view counted", |b| {
            b.iter(|| {
                f.runtime
                    .block_on(
                        f.state
                            .audit
                            .count_view(view())
                            .expect("counted")
                            .committed(),
                    )
                    .expect("counted")
            })
        });
        group.bench_function("sheet cache look-up", |b| {
            b.iter(|| {
                f.state
                    .sheets
                    .get(id, Kind::Patient, black_box(version))
                    .expect("the page is kept")
            })
        });

        group.bench_function("GET static asset", |b| {
            b.iter(|| assert_eq!(f.get(&f.static_url, None), 200))
        });
        group.bench_function("GET /s/{token} (304)", |b| {
            b.iter(|| assert_eq!(f.get(&f.link, Some(&f.etag)), 304))
        });
        group.bench_function("GET /s/{token} (200)", |b| {
            b.iter(|| assert_eq!(f.get(&f.link, None), 200))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_view
}
criterion_main!(benches);
