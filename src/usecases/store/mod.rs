//! Storage: the only module that speaks SQL.
//!
//! One diesel codebase over SQLite (the embedded default) and PostgreSQL (the
//! scale-out path). Queries are written once against [`DbConn`], diesel's
//! `MultiConnection`; the few that differ per backend (`RETURNING`, row
//! locking) match on the variant explicitly.
//!
//! Look-ups by a unique key use `get_result`, not `first`: `first` binds a
//! `LIMIT`, and SQLite re-prepares a statement whenever a bound `LIMIT`
//! changes, which defeats diesel's statement cache on every request (see
//! BENCHMARKS.md, F2).

pub mod audit;
pub mod backup;
pub mod checkins;
pub mod clinic;
pub mod heartbeats;
pub mod locations;
pub mod outcomes;
pub mod patients;
pub mod reminders;
pub mod schema;
pub mod settings;
pub mod treatments;
pub mod users;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{Backend, DatabaseSettings};

pub use diesel::result::Error as DbError;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::sqlite::SqliteConnection),
    Pg(diesel::pg::PgConnection),
}

pub type Pool = r2d2::Pool<ConnManager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Opens connections of the backend the URL names. We pick the backend
/// ourselves because `MultiConnection::establish` tries each in turn and hides
/// the real reason PostgreSQL refused.
pub struct ConnManager {
    settings: DatabaseSettings,
}

impl ConnManager {
    fn establish(&self) -> ConnectionResult<DbConn> {
        match self.settings.backend {
            Backend::Sqlite => {
                diesel::sqlite::SqliteConnection::establish(self.settings.sqlite_path())
                    .map(DbConn::Sqlite)
            }
            Backend::Postgres => {
                diesel::pg::PgConnection::establish(self.settings.url.expose_secret())
                    .map(DbConn::Pg)
            }
        }
    }
}

impl ManageConnection for ConnManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.establish()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // diesel counts a PostgreSQL connection whose server went away as
        // sound (no transaction is open), so the pool would hand it out again
        // and again, long after the server is back. While an outage is
        // suspected, a connection coming back is pinged and dropped if dead.
        conn.is_broken() || (outage_suspected() && conn.ping().is_err())
    }
}

/// Why the database cannot do what was asked, when the cause is the
/// database's situation rather than the request: answered with a 503 and a
/// plain page, retried by the worker, and never a reason to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// PostgreSQL is down or unreachable, or the connection to it broke.
    Unreachable,
    /// The disk holding the SQLite database (or its log) is full.
    DiskFull,
    /// Another process held SQLite's write lock past the busy timeout.
    Busy,
}

/// Whether `e` is an [`Outage`], and which. Notes an unreachable database,
/// so connections returned to the pool for a while are checked (see
/// `has_broken`).
pub fn outage(e: &DbError) -> Option<Outage> {
    use diesel::result::DatabaseErrorKind as Kind;
    let DbError::DatabaseError(kind, info) = e else {
        return None;
    };
    let message = info.message().to_ascii_lowercase();
    let found = if matches!(kind, Kind::ClosedConnection | Kind::UnableToSendCommand) {
        Some(Outage::Unreachable)
    } else if message.contains("database or disk is full") || message.contains("disk i/o error") {
        Some(Outage::DiskFull)
    } else if message.contains("database is locked") {
        Some(Outage::Busy)
    } else if [
        // Neither backend gives these a kind of their own in diesel.
        "connection",
        "terminating",
        "shutting down",
        "starting up",
        "unable to open database file",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        Some(Outage::Unreachable)
    } else {
        None
    };
    if found == Some(Outage::Unreachable) {
        suspect_outage();
    }
    found
}

/// How long after the last sign of an unreachable database the pool checks
/// the connections returned to it.
const OUTAGE_WATCH: Duration = Duration::from_secs(120);

/// Milliseconds since [`watch_epoch`] until which an outage is suspected (0: none).
static OUTAGE_SUSPECTED_UNTIL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn watch_epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Notes that the database could not be reached (the pool found no
/// connection), so connections returned to the pool are checked for a while.
pub fn note_unreachable() {
    suspect_outage();
}

fn suspect_outage() {
    let until = (watch_epoch().elapsed() + OUTAGE_WATCH).as_millis() as u64;
    OUTAGE_SUSPECTED_UNTIL.fetch_max(until, std::sync::atomic::Ordering::Relaxed);
}

fn outage_suspected() -> bool {
    let until = OUTAGE_SUSPECTED_UNTIL.load(std::sync::atomic::Ordering::Relaxed);
    until != 0 && (watch_epoch().elapsed().as_millis() as u64) < until
}

/// Creates the SQLite file at `path`, empty, readable and writable by its
/// owner only (0600, whatever the umask), before SQLite would create it with
/// the umask's permissions (0644 under the usual 022): it holds patients'
/// records and the app's secret key. SQLite gives the `-wal` and `-shm` files
/// it makes beside it the database file's permissions. An existing file is
/// left as it is; special names (`:memory:`, `file:` URIs) are SQLite's.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let text = path.to_string_lossy();
    if text.is_empty() || text.starts_with(':') || text.starts_with("file:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // The mode asked for is narrowed by the umask, never widened: set it whole.
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Per-connection SQLite set-up: WAL so readers never block the writer, a
/// busy timeout so writers queue instead of failing, and foreign keys (off by
/// default in SQLite). Temporary tables and statement journals stay in
/// memory: on disk they cost an open, write and unlink of a file in /var/tmp
/// for many a write transaction (seen with strace under `POST /treatments`).
/// Checkpoints stay SQLite's own, inside the commit that crosses 1,000 pages:
/// a background checkpointer was tried and tripled the tail latency of
/// everything else (BENCHMARKS.md, S2).
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot open the database at {url}: {reason}")]
    Connect {
        url: String,
        /// The driver's message, passwords masked too (libpq may echo a connection string).
        reason: String,
    },
    #[error("cannot create the database file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot apply database migrations: {0}")]
    Migrate(String),
    #[error("cannot create the connection pool: {0}")]
    Pool(#[from] r2d2::Error),
}

/// Applies pending migrations with a dedicated connection of the right type.
/// The PostgreSQL advisory lock that one instance at a time migrates under
/// (an arbitrary number, the same in every instance: "aftercare" in ASCII).
const MIGRATION_LOCK: i64 = 0x6166_7465_7263_6172;

pub fn migrate(settings: &DatabaseSettings) -> Result<Vec<String>, SetupError> {
    let connect_error = |source: diesel::ConnectionError| SetupError::Connect {
        url: settings.url.redacted(),
        reason: redact(&source.to_string()),
    };
    let applied = match settings.backend {
        Backend::Sqlite => {
            let path = settings.sqlite_path();
            create_private_file(std::path::Path::new(path)).map_err(|source| {
                SetupError::Create {
                    path: path.to_string(),
                    source,
                }
            })?;
            let mut c = diesel::sqlite::SqliteConnection::establish(path).map_err(connect_error)?;
            c.batch_execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                .map_err(|e| SetupError::Migrate(e.to_string()))?;
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| SetupError::Migrate(e.to_string()))?
                .iter()
                .map(|v| v.to_string())
                .collect()
        }
        Backend::Postgres => {
            let mut c = diesel::pg::PgConnection::establish(settings.url.expose_secret())
                .map_err(connect_error)?;
            // Instances that start together (an upgrade of several, a deploy) would
            // otherwise each see a migration pending and run it twice, and all but
            // one fail. The lock is the session's: it goes with the connection.
            let lock = |c: &mut diesel::pg::PgConnection, sql: &str| {
                c.batch_execute(sql)
                    .map_err(|e| SetupError::Migrate(format!("migration lock: {e}")))
            };
            lock(
                &mut c,
                &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
            )?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| SetupError::Migrate(e.to_string()))?
                .iter()
                .map(|v| v.to_string())
                .collect();
            lock(
                &mut c,
                &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
            )?;
            applied
        }
    };
    Ok(applied)
}

pub fn pool(settings: &DatabaseSettings) -> Result<Pool, SetupError> {
    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(Duration::from_secs(10))
        // A `SELECT 1` before every checkout costs a round trip per request on
        // PostgreSQL; a broken connection shows as the query's own error and
        // `has_broken` keeps it out of the pool (BENCHMARKS.md, F5).
        .test_on_check_out(false)
        .connection_customizer(Box::new(SqlitePragmas))
        .build(ConnManager {
            settings: settings.clone(),
        })?;
    Ok(pool)
}

pub use crate::config::redact;

/// SQLite allows one writer at a time, and a connection that finds the write
/// lock taken sleeps in SQLite's busy handler (1, 2, 5 … 100 ms) even when
/// the lock frees a moment later. Queueing on a mutex inside the process
/// instead wakes the next writer at once: `POST /treatments` p99 went from
/// 742 to 111 ms under load (BENCHMARKS.md, F3). The busy timeout still covers
/// other processes (`aftercare worker`, the CLI). One lock per process: a
/// process serves one database; the test suite's many databases share it,
/// which only serialises their millisecond-long writes.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Set while this thread holds [`SQLITE_WRITER`], so a nested write
    /// reaches SQLite (which refuses a nested `BEGIN`) instead of deadlocking.
    static HOLDS_SQLITE_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` holding the process's SQLite writer lock (not needed, and not
/// taken, on PostgreSQL).
fn with_sqlite_writer<T>(f: impl FnOnce() -> T) -> T {
    if HOLDS_SQLITE_WRITER.get() {
        return f();
    }
    // The lock guards no data, so a panic elsewhere cannot leave it inconsistent.
    let _guard = SQLITE_WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    HOLDS_SQLITE_WRITER.set(true);
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HOLDS_SQLITE_WRITER.set(false);
        }
    }
    let _release = Release;
    f()
}

/// Runs `f` in one write transaction (a savepoint when one is already open
/// on this connection). On SQLite it queues on the writer lock and starts
/// with `BEGIN IMMEDIATE`: a plain `BEGIN` that later writes ignores the busy
/// timeout and fails at once when another writer holds the lock.
pub fn write_tx<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError>,
{
    let nested = match conn {
        DbConn::Pg(_) => return conn.transaction(f),
        DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_some(),
    };
    if nested {
        // A savepoint inside the write transaction already open.
        return conn.transaction(f);
    }
    with_sqlite_writer(|| {
        let DbConn::Sqlite(c) = &mut *conn else {
            unreachable!("matched above")
        };
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        let outcome = f(conn);
        let DbConn::Sqlite(c) = conn else {
            unreachable!("the variant cannot change inside a transaction")
        };
        match outcome {
            Ok(value) => {
                <AnsiTransactionManager as TransactionManager<_>>::commit_transaction(c)?;
                Ok(value)
            }
            Err(e) => {
                <AnsiTransactionManager as TransactionManager<_>>::rollback_transaction(c)?;
                Err(e)
            }
        }
    })
}

/// Runs one statement that writes, outside a transaction: on PostgreSQL as
/// is, on SQLite queued on the writer lock like [`write_tx`].
pub fn write<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E> {
    match conn {
        DbConn::Pg(_) => f(conn),
        DbConn::Sqlite(_) => with_sqlite_writer(|| f(conn)),
    }
}

/// Where an email of any outbox (reminders, check-in alerts, reply-time reminders) stands.
pub use reminders::Status as OutboxStatus;

/// `INSERT … RETURNING id`, which diesel's `MultiConnection` cannot express
/// once for both backends.
macro_rules! insert_returning_id {
    ($conn:expr, $query:expr, $id:expr) => {
        match $conn {
            $crate::usecases::store::DbConn::Sqlite(c) => {
                $query.returning($id).get_result::<i64>(c)
            }
            $crate::usecases::store::DbConn::Pg(c) => $query.returning($id).get_result::<i64>(c),
        }
    };
}

/// Executes a statement `MultiConnection` cannot express once for both
/// backends, such as a multi-row `INSERT`.
macro_rules! execute_per_backend {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::usecases::store::DbConn::Sqlite(c) => $query.execute(c),
            $crate::usecases::store::DbConn::Pg(c) => $query.execute(c),
        }
    };
}
// Named by path from the table modules below; not exported past the store.
use {execute_per_backend, insert_returning_id};

#[derive(diesel::QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// A claim: when it is made, until when it holds, how many rows at most, and the random
/// token it writes into each row it takes. An outcome is recorded only while that token still
/// holds the row: a worker whose lease ran out and was taken over changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub now: chrono::NaiveDateTime,
    pub lease_until: chrono::NaiveDateTime,
    pub limit: i64,
    pub token: &'a str,
}

/// Atomically takes up to `limit` due rows of an outbox table (`pending` and
/// due, or `sending` with an expired lease), leases them until `lease_until`
/// and writes the claim's token into them; `also_due` adds a condition on
/// pending rows, with `{now}` for now. PostgreSQL skips rows another worker has
/// locked; on SQLite the single statement runs inside the write lock, so two
/// workers cannot take one row.
pub(crate) fn claim_leased(
    conn: &mut DbConn,
    table: &str,
    also_due: &str,
    claim: Claim,
) -> QueryResult<Vec<i64>> {
    let sql = |p: &str, lock: &str| {
        let also_due = also_due.replace("{now}", &format!("{p}1"));
        format!(
            "UPDATE {table} SET status = 'sending', lease_expires_at = {p}2, lease_token = {p}4, \
                    attempts = attempts + 1, updated_at = {p}1 \
             WHERE id IN (SELECT id FROM {table} \
                          WHERE (status = 'pending' AND next_attempt_at <= {p}1{also_due}) \
                             OR (status = 'sending' AND lease_expires_at < {p}1) \
                          ORDER BY next_attempt_at, id LIMIT {p}3{lock}) \
             RETURNING id"
        )
    };
    run_claim(conn, sql, None, claim)
}

/// Runs a claim statement, given as `sql(placeholder, lock clause)` with the
/// parameters 1 = now, 2 = lease end, 3 = limit, 4 = the claim's token
/// (PostgreSQL numbers them `$n`; SQLite would read `$n` as a *named*
/// parameter, so it gets `?n`). `pg_first` runs before it on PostgreSQL (a
/// lock, say). Returns the ids taken.
pub(crate) fn run_claim(
    conn: &mut DbConn,
    sql: impl Fn(&str, &str) -> String,
    pg_first: Option<&str>,
    claim: Claim,
) -> QueryResult<Vec<i64>> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let ids: Vec<ClaimedId> = match conn {
        DbConn::Pg(c) => {
            if let Some(first) = pg_first {
                diesel::sql_query(first).execute(c)?;
            }
            diesel::sql_query(sql("$", " FOR UPDATE SKIP LOCKED"))
                .bind::<Timestamp, _>(claim.now)
                .bind::<Timestamp, _>(claim.lease_until)
                .bind::<BigInt, _>(claim.limit)
                .bind::<Text, _>(claim.token)
                .load(c)?
        }
        DbConn::Sqlite(c) => diesel::sql_query(sql("?", ""))
            .bind::<Timestamp, _>(claim.now)
            .bind::<Timestamp, _>(claim.lease_until)
            .bind::<BigInt, _>(claim.limit)
            .bind::<Text, _>(claim.token)
            .load(c)?,
    };
    Ok(ids.into_iter().map(|c| c.id).collect())
}

/// After a bulk load: PostgreSQL plans from table statistics, and until
/// autovacuum gets round to them (if it runs at all) a freshly seeded table
/// looks empty, so searches would scan instead of using their indexes;
/// `VACUUM` also marks the pages all-visible, for index-only scans.
/// SQLite keeps no statistics unless asked, and is not asked.
pub fn refresh_planner_statistics(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => c.batch_execute("VACUUM ANALYZE"),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Makes the transaction open on `conn` read from one snapshot throughout: PostgreSQL's
/// default (read committed) gives each statement its own, so a document read in several
/// statements could mix two moments. SQLite's transactions always read one snapshot. Call
/// first thing inside the transaction.
pub fn one_snapshot(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Runs `f` with SQLite's `secure_delete` on for this connection, so that what `f` deletes
/// or overwrites is zeroed where it lay instead of left in free space; off again afterwards
/// (it costs writes, and the pool's connections are shared). PostgreSQL has no such switch.
pub fn with_secure_delete<T, E: From<DbError>>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    if sqlite {
        conn.batch_execute("PRAGMA secure_delete = ON")?;
    }
    let outcome = f(conn);
    if sqlite {
        conn.batch_execute("PRAGMA secure_delete = OFF")?;
    }
    outcome
}

#[derive(diesel::QueryableByName)]
struct Checkpoint {
    /// 1 when a reader or writer kept the checkpoint from finishing.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

/// After an erasure, makes the deleted bytes leave the database's files, not only its tables
/// (SQLite keeps freed pages, and old page images in the WAL, until they are reused). SQLite:
/// `VACUUM` rewrites the file from live rows alone, its copy built in a temporary file rather
/// than in memory (where this connection keeps other temporary data), and a `TRUNCATE`
/// checkpoint writes it back and empties the WAL. Holds the writer lock meanwhile. Returns
/// false when a reader kept the WAL from being emptied within the busy timeout.
///
/// PostgreSQL keeps a row's old versions until (auto)vacuum reclaims their space, and its WAL
/// until it is recycled; neither can be hurried from here, and no dump or query sees them.
pub fn purge_freed_space(conn: &mut DbConn) -> QueryResult<bool> {
    match conn {
        DbConn::Pg(_) => Ok(true),
        DbConn::Sqlite(_) => write(conn, |conn| {
            let DbConn::Sqlite(c) = conn else {
                unreachable!("matched above")
            };
            c.batch_execute("PRAGMA temp_store = FILE")?;
            let vacuumed = c.batch_execute("VACUUM");
            c.batch_execute("PRAGMA temp_store = MEMORY")?;
            vacuumed?;
            let done: Checkpoint =
                diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(c)?;
            Ok(done.busy == 0)
        }),
    }
}

/// `%query%` for LIKE … ESCAPE '\', with LIKE's wildcards in `query` taken literally.
pub(crate) fn like_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests;
