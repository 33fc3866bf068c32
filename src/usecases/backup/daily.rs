//! The daily backups `serve` takes: their names, when one is due, and pruning.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::take::{take, Taken};
use crate::care::schedule::at_local_hour;
use crate::usecases::store::DbConn;

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

pub(super) fn stamp(at: DateTime<Utc>) -> String {
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
    fn backup_names_carry_their_time() {
        let at = utc("2026-11-30T03:00:05Z");
        assert_eq!(file_name(at), "aftercare-20261130T030005Z.db");
        assert_eq!(taken_at(&file_name(at), DAILY_SUFFIX), Some(at));
        assert_eq!(taken_at("aftercare-2026.db", DAILY_SUFFIX), None);
    }
}
