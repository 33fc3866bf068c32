//! The daily backups `serve` takes of a SQLite database: where, how many
//! are kept, and at what hour.

use std::path::{Path, PathBuf};

use super::read::Reader;
use super::Backend;

/// The backups' settings, as [`super::Settings`] holds them.
pub(super) struct Backups {
    pub(super) dir: Option<PathBuf>,
    pub(super) keep: usize,
    pub(super) hour: u32,
}

/// `AFTERCARE_BACKUP_KEEP` (14), `AFTERCARE_BACKUP_HOUR` (3) and
/// `AFTERCARE_BACKUP_DIR` (none), a folder checked only on SQLite.
pub(super) fn read(r: &mut Reader, backend: Option<Backend>) -> Backups {
    let keep = r.count("AFTERCARE_BACKUP_KEEP", 14, 3650) as usize;
    let hour = match r.var("AFTERCARE_BACKUP_HOUR") {
        None => 3,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(h) if h < 24 => h,
            _ => {
                r.error(format!(
                    "AFTERCARE_BACKUP_HOUR: {v:?} is not an hour from 0 to 23"
                ));
                3
            }
        },
    };
    let dir = r.var("AFTERCARE_BACKUP_DIR").map(PathBuf::from);
    // Only SQLite is backed up by the app; on PostgreSQL start-up warns instead.
    if let (Some(dir), Some(Backend::Sqlite)) = (&dir, backend) {
        if let Err(e) = check_writable_dir(dir) {
            r.error(format!("AFTERCARE_BACKUP_DIR: {e}"));
        }
    }
    Backups { dir, keep, hour }
}

/// A folder that exists and takes new files. A missing one is not created:
/// a typo, or a backup disk that is not mounted, would otherwise put the
/// backups somewhere nobody looks (or on the disk they are meant to survive).
fn check_writable_dir(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a folder (create it, or mount the backup disk, first)",
            dir.display()
        ));
    }
    let probe = dir.join(format!(".aftercare-write-test-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn the_backup_folder_must_exist_and_take_files_on_sqlite_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(&[
            ("AFTERCARE_BACKUP_DIR", dir.path().to_str().unwrap()),
            ("AFTERCARE_BACKUP_KEEP", "3"),
            ("AFTERCARE_BACKUP_HOUR", "22"),
        ])
        .unwrap();
        assert_eq!(s.backup_dir.as_deref(), Some(dir.path()));
        assert_eq!((s.backup_keep, s.backup_hour), (3, 22));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe is removed"
        );

        let missing = dir.path().join("not-mounted");
        let errors = settings(&[
            ("AFTERCARE_BACKUP_DIR", missing.to_str().unwrap()),
            ("AFTERCARE_BACKUP_HOUR", "24"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("AFTERCARE_BACKUP_HOUR: \"24\""),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("AFTERCARE_BACKUP_DIR: ")
                && errors[1].contains("is not a folder"),
            "{errors:?}"
        );
        assert!(!missing.exists(), "never created");
        // PostgreSQL is backed up with pg_dump: the folder is not looked at.
        let pg = settings(&[
            ("AFTERCARE_DATABASE_URL", "postgres://u@h/db"),
            ("AFTERCARE_BACKUP_DIR", missing.to_str().unwrap()),
        ]);
        assert!(pg.is_ok());
    }
}
