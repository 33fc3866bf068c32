//! Use case: copies of the SQLite database. `aftercare backup` takes one on
//! demand and `serve` one a day (both while the app runs), each checked by
//! opening it again; the daily ones are pruned and the newest is reported;
//! `aftercare restore` puts one back. On PostgreSQL this is the job of
//! `pg_dump` and `pg_restore`, and the app says so with the command to run.
//!
//! `take` (a copy, and the check of any copy), `daily` (names, when one is
//! due, pruning), `restore`, `lock` (what `restore` respects), `postgres`
//! (the commands to run instead); here, the file handling they share.

mod daily;
mod lock;
mod postgres;
mod restore;
mod take;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::usecases::store::backup as copies;

/// What a copy holds, in the figures an operator checks it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub patients: i64,
    pub treatments: i64,
    pub reminders: i64,
}

impl From<crate::usecases::store::backup::Counts> for Counts {
    fn from(c: crate::usecases::store::backup::Counts) -> Counts {
        Counts {
            patients: c.patients,
            treatments: c.treatments,
            reminders: c.reminders,
        }
    }
}
pub use daily::{
    daily_due, file_name, last_slot, latest, list, next_slot, prune, take_daily, BackupFile, Daily,
};
pub use lock::DatabaseLock;
pub use postgres::{postgres_advice, postgres_restore_advice};
pub use restore::{restore, Restored};
pub use take::{free_bytes, take, take_from, Taken};

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

/// Deletes the `-wal`, `-shm` and `-journal` files beside `database`.
fn remove_companions(database: &Path) {
    for (_, file) in copies::companion_files(database) {
        let _ = std::fs::remove_file(file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_400_000), "1.4 MB");
    }
}
