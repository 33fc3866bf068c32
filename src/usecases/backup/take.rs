//! Taking a copy while the app runs, and checking a copy (ours, or one about
//! to be restored) by opening it again.

use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use anyhow::{anyhow, bail, Context};

use super::{
    human_size, postgres_advice, remove_companions, sync_file, sync_parent, with_suffix, Counts,
};
use crate::config::{Backend, DatabaseSettings};
use crate::usecases::store::backup as copies;
use crate::usecases::store::DbConn;

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
pub(super) struct Inspection {
    pub(super) counts: Counts,
    /// Migrations this version would apply to it at start-up.
    pub(super) pending_migrations: usize,
    /// Migrations it has that this version does not know (written by a newer one).
    pub(super) unknown_migrations: Vec<String>,
}

/// Opens a copy at `path` and checks it: a SQLite database, sound by
/// `PRAGMA integrity_check`, with Aftercare's migrations table. Messages
/// name it as `shown` (the file the operator named, not our working copy).
pub(super) fn inspect(path: &Path, shown: &Path) -> anyhow::Result<Inspection> {
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
        counts: copies::counts(&mut conn)?.into(),
        pending_migrations: known.iter().filter(|v| !applied.contains(v)).count(),
        unknown_migrations: applied.into_iter().filter(|v| !known.contains(v)).collect(),
    })
}
