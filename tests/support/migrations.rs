//! A database as an older release left it: migrated up to (not including) a named
//! migration, given rows in that schema, then upgraded as `serve` would upgrade it.

use diesel::connection::SimpleConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{spawn_app_on, Db, TestApp, TestDb};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Runs the migrations before the first whose name contains `upgrade`, adds `rows`, then runs
/// the rest.
fn migrate_around<C, B>(conn: &mut C, migrations: EmbeddedMigrations, upgrade: &str, rows: &str)
where
    B: diesel::backend::Backend,
    C: MigrationHarness<B> + SimpleConnection,
{
    use diesel::migration::MigrationSource;
    let mut all = MigrationSource::<B>::migrations(&migrations).unwrap();
    all.sort_by_key(|m| m.name().to_string());
    assert!(
        all.iter().any(|m| m.name().to_string().contains(upgrade)),
        "no migration named like {upgrade}"
    );
    // Makes diesel's table of applied migrations, as `run_pending_migrations` does first.
    conn.applied_migrations().unwrap();
    for m in &all {
        if m.name().to_string().contains(upgrade) {
            break;
        }
        conn.run_migration(&**m).unwrap();
    }
    conn.batch_execute(rows).unwrap();
    conn.run_pending_migrations(migrations).unwrap();
}

/// The app on a fresh database of `db` that held `rows` before the migration named like
/// `upgrade` ran.
pub async fn app_upgraded_through(db: Db, upgrade: &str, rows: &str) -> TestApp {
    let (test_db, url) = TestDb::fresh(db);
    match db {
        Db::Sqlite => {
            let path = url.strip_prefix("sqlite://").unwrap();
            let mut c = diesel::sqlite::SqliteConnection::establish(path).unwrap();
            migrate_around(&mut c, SQLITE_MIGRATIONS, upgrade, rows);
        }
        Db::Postgres => {
            let mut c = diesel::pg::PgConnection::establish(&url).unwrap();
            migrate_around(&mut c, POSTGRES_MIGRATIONS, upgrade, rows);
        }
    }
    spawn_app_on(test_db, &url, &[]).await
}
