//! Use case: copies of the SQLite database. `aftercare backup` takes one on
//! demand and `serve` one a day (both while the app runs), each checked by
//! opening it again; the daily ones are pruned and the newest is reported;
//! `aftercare restore` puts one back. On PostgreSQL this is the job of
//! `pg_dump` and `pg_restore`, and the app says so with the command to run.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::care::schedule::at_local_hour;
use crate::config::{Backend, DatabaseSettings};
use crate::usecases::store::backup as copies;
use crate::usecases::store::DbConn;

pub use crate::usecases::store::backup::Counts;

/// A copy, taken and checked.
#[derive(Debug, Clone)]
pub struct Taken {
    pub path: PathBuf,
    pub bytes: u64,
    pub counts: Counts,
    pub took: StdDuration,
}

/// Copies the database `conn` is connected to into `to`, a new file, while
/// the app goes on writing, then opens the copy and checks it (SQLite's
/// `integrity_check`, and that it is an Aftercare database). The copy is
/// written under a temporary name and renamed when sound, so a file with
/// the final name is always a whole, checked backup. Never overwrites a file.
pub fn take(conn: &mut DbConn, to: &Path) -> anyhow::Result<Taken> {
    let started = Instant::now();
    refuse_existing(to)?;
    let partial = with_suffix(to, ".partial");
    let partial_text = partial
        .to_str()
        .ok_or_else(|| anyhow!("{} is not a UTF-8 path", to.display()))?;
    // Our own leftover from an interrupted copy to the same name.
    let _ = std::fs::remove_file(&partial);
    ensure_room(conn, to)?;
    // Created empty, owner-only, before SQLite writes into it: a backup holds
    // what the database holds (VACUUM INTO writes into an empty file).
    crate::usecases::store::create_private_file(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    if let Err(e) = copies::vacuum_into(conn, partial_text) {
        // Nothing half-written is left behind (a full disk, say).
        let _ = std::fs::remove_file(&partial);
        remove_companions(&partial);
        return Err(e)
            .with_context(|| format!("cannot copy the database to {}", partial.display()));
    }
    let checked = sync_file(&partial).and_then(|()| inspect(&partial, to));
    remove_companions(&partial);
    let inspection = match checked {
        Ok(inspection) => inspection,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            bail!("the copy failed its check and was deleted: {e:#}");
        }
    };
    if let Err(e) = refuse_existing(to) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), to.display()))?;
    sync_parent(to)?;
    Ok(Taken {
        bytes: std::fs::metadata(to)?.len(),
        path: to.to_path_buf(),
        counts: inspection.counts,
        took: started.elapsed(),
    })
}

/// Room a copy needs beyond its expected size, for SQLite's own working
/// space while it writes: a tenth more, and at least 1 MiB.
fn headroom(bytes: u64) -> u64 {
    (bytes / 10).max(1 << 20)
}

/// Refuses to start a copy the folder of `to` has no room for, saying so,
/// rather than filling the disk (which may be the database's own) and
/// failing half-way.
fn ensure_room(conn: &mut DbConn, to: &Path) -> anyhow::Result<()> {
    let folder = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let needed = copies::live_bytes(conn).context("cannot measure the database")?;
    let free = free_bytes(folder)
        .with_context(|| format!("cannot tell how much room is left in {}", folder.display()))?;
    let wanted = needed + headroom(needed);
    if free < wanted {
        bail!(
            "not enough room for a backup in {}: it needs about {} and {} is free; \
             nothing was written. Free some space there (or delete old backups), then try again",
            folder.display(),
            human_size(wanted),
            human_size(free)
        );
    }
    Ok(())
}

/// Bytes an unprivileged process may still write on the filesystem of `folder`.
pub fn free_bytes(folder: &Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(folder)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// `aftercare backup --to FILE`: [`take`] on the configured SQLite database,
/// from a process of its own. On PostgreSQL it takes nothing and fails with
/// the `pg_dump` command to run instead (so a scheduled job running it can
/// never believe it made a backup).
pub fn take_from(settings: &DatabaseSettings, to: &Path) -> anyhow::Result<Taken> {
    if settings.backend == Backend::Postgres {
        bail!("{}", postgres_advice(settings, to));
    }
    let database = Path::new(settings.sqlite_path());
    if !database.is_file() {
        bail!("there is no database at {}", database.display());
    }
    let mut conn = copies::open_file(database)
        .with_context(|| format!("cannot open the database at {}", database.display()))?;
    take(&mut conn, to)
}

/// Why the app takes no backup of a PostgreSQL database, and the `pg_dump`
/// command for the configured one (its password masked).
pub fn postgres_advice(settings: &DatabaseSettings, to: &Path) -> String {
    format!(
        "the database is PostgreSQL, which the app does not copy itself: back it up with \
         pg_dump, which takes a consistent copy while the app runs:\n\n    \
         pg_dump --format=custom --file={} {}\n\n{}Restore one with pg_restore (see the README's \
         Backups section).",
        shell_quote(&to.display().to_string()),
        shell_quote(&settings.url.redacted()),
        password_note(settings),
    )
}

/// The `pg_restore` command for the configured database (password masked).
pub fn postgres_restore_advice(settings: &DatabaseSettings, from: &Path) -> String {
    format!(
        "the database is PostgreSQL: restore a pg_dump backup with pg_restore, with every \
         aftercare process stopped:\n\n    \
         pg_restore --clean --if-exists --no-owner --dbname={} {}\n\n{}",
        shell_quote(&settings.url.redacted()),
        shell_quote(&from.display().to_string()),
        password_note(settings),
    )
}

fn password_note(settings: &DatabaseSettings) -> &'static str {
    if settings.url.redacted() == settings.url.expose_secret() {
        ""
    } else {
        "*** stands for the database password: type it there, or leave it out of the URL and \
         keep it in ~/.pgpass or PGPASSWORD.\n"
    }
}

/// One word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn refuse_existing(to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            to.display()
        );
    }
    Ok(())
}

/// What a copy holds, and how it relates to this version's migrations.
struct Inspection {
    counts: Counts,
    /// Migrations this version would apply to it at start-up.
    pending_migrations: usize,
    /// Migrations it has that this version does not know (written by a newer one).
    unknown_migrations: Vec<String>,
}

/// Opens a copy at `path` and checks it: a SQLite database, sound by
/// `PRAGMA integrity_check`, with Aftercare's migrations table. Messages
/// name it as `shown` (the file the operator named, not our working copy).
fn inspect(path: &Path, shown: &Path) -> anyhow::Result<Inspection> {
    let unreadable = |e: &dyn std::fmt::Display| {
        anyhow!(
            "{} is not a readable SQLite database ({e})",
            shown.display()
        )
    };
    let mut conn = copies::open_file(path).map_err(|e| unreadable(&e))?;
    let problems = copies::integrity_problems(&mut conn).map_err(|e| unreadable(&e))?;
    if !problems.is_empty() {
        bail!(
            "{} fails SQLite's integrity check: {}",
            shown.display(),
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let applied = copies::applied_migrations(&mut conn)?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "{} is a SQLite database, but not an Aftercare one (no migrations applied)",
                shown.display()
            )
        })?;
    let known = copies::known_migrations();
    Ok(Inspection {
        counts: copies::counts(&mut conn)?,
        pending_migrations: known.iter().filter(|v| !applied.contains(v)).count(),
        unknown_migrations: applied.into_iter().filter(|v| !known.contains(v)).collect(),
    })
}

/// Held, shared, by every process that works on the SQLite database
/// (`serve`, `worker`, the commands that write), and exclusively by
/// `restore`, which therefore refuses while any of them runs.
///
/// An advisory lock (`flock`) on a file beside the database, because it is
/// the one sign that is always right: the kernel releases it when the
/// process ends, however it ends, so a crash leaves no stale lock, and it is
/// held from start-up to exit whether or not the process sends mail. The
/// workers' heartbeats are not enough: `serve --no-worker` never beats, and a
/// killed worker's last beat stays fresh for minutes. SQLite's own locks are
/// not either: an idle connection holds none. A file of its own rather than
/// the database file, because closing any descriptor of the database file
/// drops SQLite's POSIX locks on it in that process.
pub struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// Taken by `serve`, `worker` and the commands that write: many may
    /// hold it at once. `None` on PostgreSQL (restored with `pg_restore`).
    /// Fails while `aftercare restore` is replacing the file.
    pub fn shared(settings: &DatabaseSettings) -> anyhow::Result<Option<DatabaseLock>> {
        if settings.backend != Backend::Sqlite {
            return Ok(None);
        }
        let database = Path::new(settings.sqlite_path());
        let file = open_lock_file(database)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(DatabaseLock { _file: file })),
            Err(TryLockError::WouldBlock) => bail!(
                "{} is being restored (aftercare restore holds {}); start again when it has finished",
                database.display(),
                lock_path(database).display()
            ),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", lock_path(database).display()))
            }
        }
    }

    /// Taken by `restore`; fails while any process holds the shared lock.
    fn exclusive(database: &Path) -> anyhow::Result<DatabaseLock> {
        let file = open_lock_file(database)?;
        match file.try_lock() {
            Ok(()) => Ok(DatabaseLock { _file: file }),
            Err(TryLockError::WouldBlock) => bail!(
                "the app is running on {} (a process holds {}): stop aftercare serve and any \
                 aftercare worker first, then restore",
                database.display(),
                lock_path(database).display()
            ),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", lock_path(database).display()))
            }
        }
    }
}

fn lock_path(database: &Path) -> PathBuf {
    with_suffix(database, ".lock")
}

fn open_lock_file(database: &Path) -> anyhow::Result<File> {
    let path = lock_path(database);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

/// What `restore` did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub database: PathBuf,
    /// The database as it was, and its companion files, under new names.
    pub kept_aside: Vec<PathBuf>,
    pub counts: Counts,
    /// Applied when the app next starts (the backup came from an older version).
    pub pending_migrations: usize,
}

/// Puts the backup `from` in place of the configured SQLite database, with
/// no aftercare process running on it. The backup is copied beside the
/// database and checked there first (sound, Aftercare's, not from a newer
/// version), so nothing changes when it is refused. The current database is
/// kept as `NAME.before-restore-<time>` (its write-ahead log folded in
/// first; any `-wal`, `-shm` or `-journal` file moves with it, because left
/// behind it would be read as part of the restored file).
pub fn restore(
    settings: &DatabaseSettings,
    from: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Restored> {
    if settings.backend == Backend::Postgres {
        bail!("{}", postgres_restore_advice(settings, from));
    }
    let database = PathBuf::from(settings.sqlite_path());
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let _lock = DatabaseLock::exclusive(&database)?;
    let incoming = with_suffix(&database, ".restoring");
    std::fs::copy(from, &incoming)
        .with_context(|| format!("cannot copy {} to {}", from.display(), incoming.display()))?;
    // It becomes the database: owner-only, whatever the backup's own mode.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&incoming, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", incoming.display()))?;
    }
    let checked = sync_file(&incoming).and_then(|()| inspect(&incoming, from));
    // Opening it may have left empty companion files; they must not follow it.
    remove_companions(&incoming);
    let refused = match &checked {
        Err(_) => None,
        Ok(i) if !i.unknown_migrations.is_empty() => Some(anyhow!(
            "{} was written by a newer version of Aftercare (migrations {} are unknown to this \
             one): restore it with that version",
            from.display(),
            i.unknown_migrations.join(", ")
        )),
        Ok(_) => None,
    };
    let inspection = match (checked, refused) {
        (Ok(inspection), None) => inspection,
        (Err(e), _) | (_, Some(e)) => {
            let _ = std::fs::remove_file(&incoming);
            bail!("{e:#}; nothing was changed");
        }
    };

    let aside = with_suffix(&database, &format!(".before-restore-{}", stamp(now)));
    let mut kept_aside = Vec::new();
    if database.exists() {
        // A database that will not open (a reason to restore) moves as it is,
        // its log beside it.
        if let Ok(mut conn) = copies::open_file(&database) {
            let _ = copies::checkpoint(&mut conn);
        }
        move_file(&database, &aside)?;
        kept_aside.push(aside.clone());
    }
    for (suffix, file) in copies::companion_files(&database) {
        if file.exists() {
            let to = with_suffix(&aside, suffix);
            move_file(&file, &to)?;
            kept_aside.push(to);
        }
    }
    move_file(&incoming, &database)?;
    sync_parent(&database)?;
    Ok(Restored {
        database,
        kept_aside,
        counts: inspection.counts,
        pending_migrations: inspection.pending_migrations,
    })
}

fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))
}

fn remove_companions(database: &Path) {
    for (_, file) in copies::companion_files(database) {
        let _ = std::fs::remove_file(file);
    }
}

// ---- Daily backups ----

const DAILY_PREFIX: &str = "aftercare-";
const DAILY_SUFFIX: &str = ".db";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// One daily backup: when it was taken, where it is, how big.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub taken_at: DateTime<Utc>,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The name of the daily backup taken at `at`: `aftercare-20261130T030000Z.db`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{DAILY_PREFIX}{}{DAILY_SUFFIX}", stamp(at))
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format(STAMP).to_string()
}

/// When the file `name` was taken, if it is named as [`file_name`] names
/// daily backups (`suffix` after the time).
fn taken_at(name: &str, suffix: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(DAILY_PREFIX)?.strip_suffix(suffix)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// The daily backups in `dir`, oldest first. Only files named as the app
/// names them count; anything else there is someone else's and left alone.
pub fn list(dir: &Path) -> std::io::Result<Vec<BackupFile>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(at) = entry
            .file_name()
            .to_str()
            .and_then(|n| taken_at(n, DAILY_SUFFIX))
        else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_file() {
            found.push(BackupFile {
                taken_at: at,
                path: entry.path(),
                bytes: meta.len(),
            });
        }
    }
    found.sort_by_key(|b| b.taken_at);
    Ok(found)
}

/// The newest daily backup in `dir` (`AFTERCARE_BACKUP_DIR`), or `None`
/// when there is none yet: what the System page shows, and what a monitor
/// should alert on (its age: `now - taken_at`).
///
/// Cheap enough to call on every scrape: one listing of the folder and a
/// `stat` per backup (14 by default), no database access. `taken_at` is the
/// time in the file's name, which is the app's clock when the backup was
/// taken (a copy to another disk keeps it; the modification time would not).
/// Only whole, checked backups carry such a name.
pub fn latest(dir: &Path) -> std::io::Result<Option<BackupFile>> {
    Ok(list(dir)?.pop())
}

/// Deletes all but the newest `keep` daily backups in `dir`, and the
/// leftovers of copies interrupted before the newest; returns what it deleted.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let backups = list(dir)?;
    let newest = backups.last().map(|b| b.taken_at);
    let mut deleted = Vec::new();
    for old in &backups[..backups.len().saturating_sub(keep)] {
        std::fs::remove_file(&old.path)?;
        deleted.push(old.path.clone());
    }
    let partial_suffix = format!("{DAILY_SUFFIX}.partial");
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let interrupted = entry
            .file_name()
            .to_str()
            .and_then(|n| taken_at(n, &partial_suffix))
            .is_some_and(|at| newest.is_some_and(|newest| at < newest));
        if interrupted {
            std::fs::remove_file(entry.path())?;
            deleted.push(entry.path());
        }
    }
    Ok(deleted)
}

/// The last time the daily backup was due at or before `now`: `hour`
/// o'clock in the clinic's zone, today or yesterday.
pub fn last_slot(now: DateTime<Utc>, tz: Tz, hour: u32) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let slot = at_local_hour(tz, today, hour);
    if slot <= now {
        slot
    } else {
        at_local_hour(tz, today.pred_opt().unwrap_or(today), hour)
    }
}

/// The next time the daily backup falls due after `now`.
pub fn next_slot(now: DateTime<Utc>, tz: Tz, hour: u32) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let slot = at_local_hour(tz, today, hour);
    if slot > now {
        slot
    } else {
        at_local_hour(tz, today.succ_opt().unwrap_or(today), hour)
    }
}

/// Whether a daily backup is due: none yet, or the newest is older than the
/// last slot. So one is taken at the hour each day, and at start-up when
/// the app was down at that hour (the newest is then more than a day old).
pub fn daily_due(newest: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz, hour: u32) -> bool {
    newest.is_none_or(|taken| taken < last_slot(now, tz, hour))
}

/// The daily backup and what pruning deleted.
#[derive(Debug, Clone)]
pub struct Daily {
    pub taken: Taken,
    pub pruned: Vec<PathBuf>,
}

/// Takes today's backup into `dir`, named for `now`, then keeps the newest `keep`.
pub fn take_daily(
    conn: &mut DbConn,
    dir: &Path,
    now: DateTime<Utc>,
    keep: usize,
) -> anyhow::Result<Daily> {
    let taken = take(conn, &dir.join(file_name(now)))?;
    let pruned = prune(dir, keep)
        .with_context(|| format!("the backup was taken, but pruning {} failed", dir.display()))?;
    Ok(Daily { taken, pruned })
}

/// A size for people: `1.4 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1000.0;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// On disk before it is renamed into place, so a crash leaves either the old
/// state or a whole copy.
fn sync_file(path: &Path) -> anyhow::Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {} to disk", path.display()))
}

/// Makes a rename in the folder durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Folders cannot be opened for syncing everywhere; the rename stands regardless.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn pruning_keeps_the_newest_and_leaves_other_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let start = utc("2026-03-01T03:00:00Z");
        for day in 0..6 {
            let at = start + chrono::Duration::days(day);
            std::fs::write(dir.path().join(file_name(at)), b"x").unwrap();
        }
        let theirs = ["notes.txt", "aftercare-latest.db", "aftercare.db"];
        for name in theirs {
            std::fs::write(dir.path().join(name), b"y").unwrap();
        }
        // An interrupted copy older than the newest backup, and one in progress.
        let interrupted = format!("{}.partial", file_name(start + chrono::Duration::hours(1)));
        let in_progress = format!("{}.partial", file_name(start + chrono::Duration::days(9)));
        std::fs::write(dir.path().join(&interrupted), b"z").unwrap();
        std::fs::write(dir.path().join(&in_progress), b"z").unwrap();

        let deleted = prune(dir.path(), 3).unwrap();
        assert_eq!(deleted.len(), 4, "{deleted:?}");
        let kept: Vec<_> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|b| b.taken_at)
            .collect();
        assert_eq!(
            kept,
            (3..6)
                .map(|d| start + chrono::Duration::days(d))
                .collect::<Vec<_>>()
        );
        for name in theirs.iter().chain([&in_progress.as_str()]) {
            assert!(dir.path().join(name).exists(), "{name} kept");
        }
        assert!(!dir.path().join(&interrupted).exists());
        let newest = latest(dir.path()).unwrap().unwrap();
        assert_eq!(newest.taken_at, start + chrono::Duration::days(5));
        assert_eq!(newest.bytes, 1);
        // Pruning again deletes nothing more.
        assert!(prune(dir.path(), 3).unwrap().is_empty());
    }

    #[test]
    fn the_daily_backup_is_due_at_the_clinic_hour_and_after_a_missed_one() {
        let london: Tz = "Europe/London".parse().unwrap();
        // Summer: 03:00 in London is 02:00 UTC.
        let taken = utc("2026-07-15T02:00:00Z");
        assert!(!daily_due(
            Some(taken),
            utc("2026-07-15T12:00:00Z"),
            london,
            3
        ));
        assert!(!daily_due(
            Some(taken),
            utc("2026-07-16T01:59:00Z"),
            london,
            3
        ));
        assert!(daily_due(
            Some(taken),
            utc("2026-07-16T02:00:00Z"),
            london,
            3
        ));
        // Down over the hour: due at start-up, whenever that is.
        assert!(daily_due(
            Some(taken),
            utc("2026-07-17T15:00:00Z"),
            london,
            3
        ));
        assert!(daily_due(None, utc("2026-07-15T12:00:00Z"), london, 3));
        assert_eq!(
            next_slot(utc("2026-07-15T02:00:00Z"), london, 3),
            utc("2026-07-16T02:00:00Z")
        );
        assert_eq!(
            next_slot(utc("2026-01-15T01:00:00Z"), london, 3),
            utc("2026-01-15T03:00:00Z")
        );
    }

    #[test]
    fn backup_names_carry_their_time_and_sizes_read_plainly() {
        let at = utc("2026-11-30T03:00:05Z");
        assert_eq!(file_name(at), "aftercare-20261130T030005Z.db");
        assert_eq!(taken_at(&file_name(at), DAILY_SUFFIX), Some(at));
        assert_eq!(taken_at("aftercare-2026.db", DAILY_SUFFIX), None);
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_400_000), "1.4 MB");
    }

    #[test]
    fn shell_words_are_quoted_when_they_need_it() {
        assert_eq!(shell_quote("/var/backups/a.dump"), "/var/backups/a.dump");
        assert_eq!(
            shell_quote("postgres://app:***@db/x"),
            "'postgres://app:***@db/x'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
