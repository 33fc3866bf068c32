//! The lock every process working on the SQLite database holds, which
//! `restore` takes alone.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::with_suffix;
use crate::config::{Backend, DatabaseSettings};

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
    pub(super) fn exclusive(database: &Path) -> anyhow::Result<DatabaseLock> {
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
