//! The Outcomes page (issue #26) at 100,000 treatments, on SQLite and (when
//! `AFTERCARE_TEST_DATABASE_URL` is set) PostgreSQL.
//!
//! Data: `demo::seed` with `AFTERCARE_BENCH_OUTCOMES_PATIENTS` patients (default 10,000: 1,000
//! treatments recorded through the use case, with check-ins of mixed triage results, some
//! acknowledged, and their counters kept on write), then copied 99 times in SQL, each copy a
//! week further back (ids offset by 1,000,000): 100,000 treatments over about two years, with
//! their facts rows, areas, add-ons and check-ins. The copies' plans are `{}` and their
//! reminders are not copied: the page reads neither. Then the planner's statistics.
//!
//! Measured: `usecases::outcomes::report` (what `GET /outcomes` asks of the database: the
//! audit row, then six breakdowns of counts and acknowledgement times) for the default 90 days
//! and for two years, and the CSV of the 90 days. The query plans (`EXPLAIN`) are printed once.
//!
//! `cargo bench --bench outcomes`; figures in BENCHMARKS.md ("Outcomes page").

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aftercare::startup::Application;
use aftercare::usecases::audit::Actor;
use aftercare::usecases::demo;
use aftercare::usecases::outcomes::{self, OutcomesQuery};
use aftercare::usecases::store::outcomes::{counts_sql, times_sql, Breakdown};
use aftercare::usecases::store::{self, DbConn};
use aftercare::web::AppState;
use criterion::{criterion_group, criterion_main, Criterion};
use diesel::RunQueryDsl;
use support::{Db, TestDb};

const COPIES: i64 = 99;

fn execute(conn: &mut DbConn, sql: &str) {
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).execute(c),
        DbConn::Pg(c) => diesel::sql_query(sql).execute(c),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The copies of the seeded treatments, each `7 * k` days earlier.
fn multiply(conn: &mut DbConn) {
    let pg = matches!(conn, DbConn::Pg(_));
    type Sql = fn(&str) -> String;
    let (with, from_k, ts, day): (String, String, Sql, Sql) = if pg {
        (
            String::new(),
            format!("CROSS JOIN generate_series(1, {COPIES}) AS n(k)"),
            |col: &str| format!("{col} - n.k * INTERVAL '7 days'"),
            |col: &str| format!("{col} - 7 * n.k"),
        )
    } else {
        (
            format!("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {COPIES}) "),
            ", n".to_string(),
            |col: &str| format!("datetime({col}, '-' || (7 * n.k) || ' days')"),
            |col: &str| format!("date({col}, '-' || (7 * n.k) || ' days')"),
        )
    };
    let m = "1000000";
    let statements = [
        format!(
            "{with}INSERT INTO treatments (id, patient_id, practitioner_id, treated_at_local, treated_at, \
             time_zone, device, products, internal_notes, plan_json, created_at, updated_at) \
             SELECT t.id + n.k * {m}, t.patient_id, t.practitioner_id, {}, {}, t.time_zone, t.device, \
             t.products, t.internal_notes, '{{}}', t.created_at, t.updated_at \
             FROM treatments t {from_k} WHERE t.id < {m}",
            ts("t.treated_at_local"),
            ts("t.treated_at")
        ),
        format!(
            "{with}INSERT INTO treatment_outcomes (treatment_id, patient_id, treated_on, protocol_version, \
             depth_band, practitioner_id, checkins, emergency, call_now, tell_us, to_review, as_expected, \
             emails_failed, unsubscribed) \
             SELECT o.treatment_id + n.k * {m}, o.patient_id, {}, o.protocol_version, o.depth_band, \
             o.practitioner_id, o.checkins, o.emergency, o.call_now, o.tell_us, o.to_review, \
             o.as_expected, o.emails_failed, o.unsubscribed \
             FROM treatment_outcomes o {from_k} WHERE o.treatment_id < {m}",
            day("o.treated_on")
        ),
        format!(
            "{with}INSERT INTO treatment_outcome_areas (treatment_id, area_id, treated_on) \
             SELECT x.treatment_id + n.k * {m}, x.area_id, {} \
             FROM treatment_outcome_areas x {from_k} WHERE x.treatment_id < {m}",
            day("x.treated_on")
        ),
        format!(
            "{with}INSERT INTO treatment_outcome_add_ons (treatment_id, add_on, treated_on) \
             SELECT x.treatment_id + n.k * {m}, x.add_on, {} \
             FROM treatment_outcome_add_ons x {from_k} WHERE x.treatment_id < {m}",
            day("x.treated_on")
        ),
        format!(
            "{with}INSERT INTO checkins (id, treatment_id, patient_id, answer, day, urgency, ticked_json, \
             note, ip, created_at, acknowledged_at, acknowledged_by, acknowledged_note) \
             SELECT c.id + n.k * {m}, c.treatment_id + n.k * {m}, c.patient_id, c.answer, c.day, \
             c.urgency, c.ticked_json, c.note, c.ip, {}, {}, c.acknowledged_by, c.acknowledged_note \
             FROM checkins c {from_k} WHERE c.id < {m}",
            ts("c.created_at"),
            ts("c.acknowledged_at")
        ),
    ];
    for sql in &statements {
        execute(conn, sql);
    }
    store::refresh_planner_statistics(conn).expect("statistics");
}

fn explain(conn: &mut DbConn, sql: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        plan: String,
    }
    #[derive(diesel::QueryableByName)]
    struct SqliteLine {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let lines: Vec<String> = match conn {
        DbConn::Pg(c) => {
            let sql = format!(
                "EXPLAIN ANALYZE {}",
                sql.replace("{from}", "CURRENT_DATE - 89")
                    .replace("{to}", "CURRENT_DATE")
            );
            diesel::sql_query(sql)
                .load::<Line>(c)
                .expect("explain")
                .into_iter()
                .map(|l| l.plan)
                .collect()
        }
        DbConn::Sqlite(c) => {
            let sql = format!(
                "EXPLAIN QUERY PLAN {}",
                sql.replace("{from}", "date('now', '-89 days')")
                    .replace("{to}", "date('now')")
            );
            diesel::sql_query(sql)
                .load::<SqliteLine>(c)
                .expect("explain")
                .into_iter()
                .map(|l| l.detail)
                .collect()
        }
    };
    lines.join("\n    ")
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    _db: TestDb,
    _mail_dir: tempfile::TempDir,
}

impl Fixture {
    fn new(db: Db, name: &str) -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (test_db, url) = TestDb::fresh(db);
        let mail_dir = tempfile::tempdir().expect("a temporary folder");
        let settings = support::settings(&url, mail_dir.path(), &[]);
        let state = runtime.block_on(async {
            let app = Application::build_with(settings, false).expect("the app builds");
            app.state.clone()
        });
        let patients: usize = std::env::var("AFTERCARE_BENCH_OUTCOMES_PATIENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let mut conn = state.pool.get().expect("a connection");
        let started = Instant::now();
        let report = demo::seed(&mut conn, &state.protocol, patients, state.timing())
            .expect("the demo seeds");
        let seeded = started.elapsed();
        let started = Instant::now();
        multiply(&mut conn);
        let count = |conn: &mut DbConn, table: &str| -> i64 {
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            match conn {
                DbConn::Sqlite(c) => diesel::sql_query(sql).get_result::<N>(c),
                DbConn::Pg(c) => diesel::sql_query(sql).get_result::<N>(c),
            }
            .expect("a count")
            .n
        };
        eprintln!(
            "outcomes/{name}: demo seed {} treatments, {} check-ins ({} acknowledged) in {:.1} s; \
             copied to {} treatments, {} check-ins ({} acknowledged) in {:.1} s",
            report.treatments,
            report.checkins,
            report.acknowledged,
            seeded.as_secs_f64(),
            count(&mut conn, "treatment_outcomes"),
            count(&mut conn, "checkins"),
            count(&mut conn, "checkins WHERE acknowledged_at IS NOT NULL"),
            started.elapsed().as_secs_f64()
        );
        for (what, by) in [
            ("depth band", Breakdown::DepthBand),
            ("area", Breakdown::Area),
        ] {
            eprintln!(
                "  counts by {what}:\n    {}",
                explain(&mut conn, &counts_sql(by))
            );
            let times = times_sql(by, &conn);
            eprintln!("  times by {what}:\n    {}", explain(&mut conn, &times));
        }
        drop(conn);
        Fixture {
            runtime,
            state,
            _db: test_db,
            _mail_dir: mail_dir,
        }
    }
}

fn bench_outcomes(c: &mut Criterion) {
    for (name, db) in support::db::bench_databases() {
        let f = Fixture::new(db, name);
        let actor = Actor::anonymous("bench", "-");
        let mut conn = f.state.pool.get().expect("a connection");
        let now = f.state.now();
        let today = now.date();
        let two_years = OutcomesQuery {
            from: (today - chrono::Duration::days(730)).to_string(),
            to: today.to_string(),
        };
        let mut group = c.benchmark_group(format!("outcomes/{name}"));
        group.sample_size(20);
        group.bench_function("page, last 90 days", |b| {
            b.iter(|| {
                let report = outcomes::report(
                    &mut conn,
                    &f.state.protocol,
                    &actor,
                    &OutcomesQuery::default(),
                    "outcomes.viewed",
                    now,
                )
                .expect("the report");
                black_box(report)
            })
        });
        group.bench_function("page, two years", |b| {
            b.iter(|| {
                let report = outcomes::report(
                    &mut conn,
                    &f.state.protocol,
                    &actor,
                    &two_years,
                    "outcomes.viewed",
                    now,
                )
                .expect("the report");
                black_box(report)
            })
        });
        group.bench_function("CSV, last 90 days", |b| {
            b.iter(|| {
                let report = outcomes::report(
                    &mut conn,
                    &f.state.protocol,
                    &actor,
                    &OutcomesQuery::default(),
                    "outcomes.downloaded",
                    now,
                )
                .expect("the report");
                black_box(outcomes::csv(&report))
            })
        });
        group.finish();
        drop(conn);
        drop(f.runtime);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_outcomes
}
criterion_main!(benches);
