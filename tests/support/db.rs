//! A fresh database per test (or bench run): a SQLite file in a temporary folder, or a new
//! PostgreSQL database, dropped when the [`TestDb`] is.

use diesel::{Connection, RunQueryDsl};

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Where tests find PostgreSQL: a URL to a database they may create others from.
pub const PG_URL_VAR: &str = "AFTERCARE_TEST_DATABASE_URL";

/// The databases a bench runs on, by name: SQLite, and PostgreSQL when [`PG_URL_VAR`] is set.
pub fn bench_databases() -> Vec<(&'static str, Db)> {
    let mut dbs = vec![("sqlite", Db::Sqlite)];
    if std::env::var(PG_URL_VAR).is_ok_and(|url| !url.is_empty()) {
        dbs.push(("postgres", Db::Postgres));
    }
    dbs
}

/// True when `CI=true`: a test that cannot find what it needs fails, never skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The PostgreSQL URL for tests. A PostgreSQL test only runs when the build saw this variable
/// (or `CI=true`; see build.rs); otherwise it is reported as ignored. So a missing URL here is
/// a failure, with the reason.
pub fn postgres_admin_url() -> String {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ if in_ci() => {
            panic!("CI=true but {PG_URL_VAR} is not set: PostgreSQL tests must run in CI")
        }
        _ => panic!(
            "{PG_URL_VAR} is not set: this PostgreSQL test runs only because it was set when the \
             tests were built, or because ignored tests were asked for"
        ),
    }
}

/// The database of one test; the SQLite folder is deleted, the PostgreSQL database dropped.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A new database on `db`, and the URL the app connects to.
    pub fn fresh(db: Db) -> (TestDb, String) {
        match db {
            Db::Sqlite => TestDb::sqlite(),
            Db::Postgres => {
                let name = format!(
                    "aftercare_test_{}",
                    aftercare::auth::tokens::random_token()[..16]
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                TestDb::postgres(&postgres_admin_url(), &name).unwrap_or_else(|e| panic!("{e:#}"))
            }
        }
    }

    pub fn sqlite() -> (TestDb, String) {
        let dir = tempfile::tempdir().expect("a temporary folder for the database");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        (TestDb::Sqlite(dir), url)
    }

    /// A new, empty PostgreSQL database `name` on the server of `admin_url` (one a crashed run
    /// left behind is dropped first), and its URL.
    pub fn postgres(admin_url: &str, name: &str) -> anyhow::Result<(TestDb, String)> {
        let mut conn = diesel::pg::PgConnection::establish(admin_url)
            .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap_or(base.len())]);
        let db = TestDb::Postgres {
            admin_url: admin_url.to_string(),
            name: name.to_string(),
        };
        Ok((db, url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = diesel::pg::PgConnection::establish(admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}
