//! Putting a backup back in place of the SQLite database.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};

use super::daily::stamp;
use super::lock::DatabaseLock;
use super::postgres::postgres_restore_advice;
use super::take::inspect;
use super::{remove_companions, sync_file, sync_parent, with_suffix, Counts};
use crate::config::{Backend, DatabaseSettings};
use crate::usecases::store::backup as copies;

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
