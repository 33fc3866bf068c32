//! Whole-database copies of the SQLite file: taking one while the app runs,
//! and reading one back (is it sound, is it ours, what does it hold).
//! PostgreSQL has its own tools for this (`pg_dump`, `pg_restore`).

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::schema::{patients, reminders, treatments};
use super::{DbConn, SQLITE_MIGRATIONS};

/// Writes a consistent copy of the whole database to `to` (a new file).
/// `VACUUM INTO` reads one snapshot, so writers on other connections go on
/// meanwhile (WAL) and the copy holds exactly what was committed when it
/// began; it refuses to write over a file that is not empty.
pub fn vacuum_into(conn: &mut DbConn, to: &str) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(to)
            .execute(c)
            .map(|_| ()),
        DbConn::Pg(_) => Err(diesel::result::Error::QueryBuilderError(
            "VACUUM INTO copies SQLite databases only; use pg_dump on PostgreSQL".into(),
        )),
    }
}

#[derive(QueryableByName)]
struct Pages {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pages: i64,
}

/// About how many bytes a copy of the database takes: its pages in use
/// (free pages are left out of a `VACUUM INTO` copy).
pub fn live_bytes(conn: &mut DbConn) -> QueryResult<u64> {
    let row: Pages = diesel::sql_query(
        "SELECT (page_count - freelist_count) * page_size AS pages \
         FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
    )
    .get_result(conn)?;
    Ok(row.pages.max(0) as u64)
}

/// A connection to a SQLite file that exists (SQLite would create a missing
/// one), with the app's busy timeout so a copy taken while the app writes
/// waits for a lock instead of failing.
pub fn open_file(path: &Path) -> ConnectionResult<DbConn> {
    let text = path.to_str().ok_or_else(|| {
        ConnectionError::BadConnection(format!("{} is not a UTF-8 path", path.display()))
    })?;
    let mut conn = diesel::sqlite::SqliteConnection::establish(text)?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(DbConn::Sqlite(conn))
}

#[derive(QueryableByName)]
struct CheckLine {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// What `PRAGMA integrity_check` finds wrong; empty when the file is sound.
/// A file that is not a SQLite database fails the query itself.
pub fn integrity_problems(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let lines: Vec<CheckLine> = diesel::sql_query("PRAGMA integrity_check").load(conn)?;
    Ok(lines
        .into_iter()
        .map(|l| l.integrity_check)
        .filter(|l| l != "ok")
        .collect())
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The migrations applied to this database, or `None` when it has no
/// migrations table (it was never an Aftercare database).
pub fn applied_migrations(conn: &mut DbConn) -> QueryResult<Option<Vec<String>>> {
    let has_table: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '__diesel_schema_migrations')",
    ))
    .get_result(conn)?;
    if has_table == 0 {
        return Ok(None);
    }
    let rows: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
    Ok(Some(rows.into_iter().map(|r| r.version).collect()))
}

/// The versions of the SQLite migrations built into this binary.
pub fn known_migrations() -> Vec<String> {
    MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
}

/// What a copy holds, in the figures an operator checks it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub patients: i64,
    pub treatments: i64,
    pub reminders: i64,
}

pub fn counts(conn: &mut DbConn) -> QueryResult<Counts> {
    Ok(Counts {
        patients: patients::table.count().get_result(conn)?,
        treatments: treatments::table.count().get_result(conn)?,
        reminders: reminders::table.count().get_result(conn)?,
    })
}

/// Folds the write-ahead log into the database file, so the file alone holds
/// every commit (before it is moved aside).
pub fn checkpoint(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
}

/// The files SQLite keeps beside a database (`-wal`, `-shm`, `-journal`).
/// A leftover one beside a database it was not written for would be read as
/// part of it, so they travel with their database.
pub fn companion_files(database: &Path) -> Vec<(&'static str, PathBuf)> {
    ["-wal", "-shm", "-journal"]
        .into_iter()
        .map(|suffix| {
            let mut name = database.as_os_str().to_owned();
            name.push(suffix);
            (suffix, PathBuf::from(name))
        })
        .collect()
}
