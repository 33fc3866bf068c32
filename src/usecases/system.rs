//! Use case: the admin's System page. What runs (version, database,
//! protocol), whether it is well (backups, the reminder worker, the outbox)
//! and how it is set up (the settings in force, secrets masked).

use chrono::NaiveDateTime;

use super::backup::{self, BackupFile};
use super::health::{self, Health};
use super::reminders::{self, Status};
use crate::config::{Backend, Settings};
use crate::error::AppResult;
use crate::usecases::store::DbConn;

pub struct Overview {
    /// This build's version (`Cargo.toml`).
    pub version: &'static str,
    pub database: &'static str,
    pub backups: Backups,
    /// The worker's heartbeat and the oldest due reminder, as `/healthz` sees them.
    pub health: Health,
    /// Emails in each state.
    pub outbox: Vec<(Status, i64)>,
    /// Each location (open ones first) with its pending emails.
    pub locations: Vec<(super::clinic::Location, i64)>,
    /// The mail settings' fault that holds emails back, if any.
    pub smtp_error: Option<reminders::SmtpConfigError>,
    pub protocol_version: u32,
    /// Each setting by its variable's name, secrets masked.
    pub settings: Vec<(&'static str, String)>,
    /// When the page was made (UTC), for the ages it shows.
    pub now: NaiveDateTime,
    /// What is not yet set for real patients, each with how to set it; empty when ready.
    pub not_ready: Vec<String>,
}

pub enum Backups {
    /// The app copies SQLite only; PostgreSQL has `pg_dump`.
    Postgres,
    /// SQLite without `AFTERCARE_BACKUP_DIR`: only `aftercare backup` by hand.
    NotConfigured,
    Daily {
        dir: String,
        keep: usize,
        hour: u32,
        /// The newest backup there; `None` when none has been taken yet.
        latest: Option<BackupFile>,
        /// Why the folder could not be read, if it could not.
        error: Option<String>,
    },
}

pub fn overview(
    conn: &mut DbConn,
    settings: &Settings,
    protocol_version: u32,
    now: NaiveDateTime,
    worker_in_process: bool,
) -> AppResult<Overview> {
    let backups = match (&settings.database.backend, &settings.backup_dir) {
        (Backend::Postgres, _) => Backups::Postgres,
        (Backend::Sqlite, None) => Backups::NotConfigured,
        (Backend::Sqlite, Some(dir)) => {
            let (latest, error) = match backup::latest(dir) {
                Ok(latest) => (latest, None),
                Err(e) => (None, Some(format!("cannot read {}: {e}", dir.display()))),
            };
            Backups::Daily {
                dir: dir.display().to_string(),
                keep: settings.backup_keep,
                hour: settings.backup_hour,
                latest,
                error,
            }
        }
    };
    let mut not_ready: Vec<String> = super::trial::gaps(settings)
        .iter()
        .map(super::trial::Gap::message)
        .collect();
    if !super::clinic::get(conn)?.configured {
        not_ready.push(
            "The clinic's name, phone and time zone are not saved yet: open Clinic settings."
                .into(),
        );
    }
    if matches!(backups, Backups::NotConfigured) {
        not_ready.push("No daily backups: set AFTERCARE_BACKUP_DIR (see Backups below).".into());
    }
    Ok(Overview {
        not_ready,
        version: env!("CARGO_PKG_VERSION"),
        database: match settings.database.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        },
        backups,
        health: health::check(conn, now, worker_in_process)?,
        outbox: reminders::count_by_status(conn)?,
        locations: super::clinic::locations_with_pending(conn)?,
        smtp_error: reminders::smtp_config_error(conn)?,
        protocol_version,
        settings: settings.in_force(),
        now,
    })
}

impl Overview {
    /// How long ago the newest backup was taken, for people.
    pub fn backup_age(&self, latest: &BackupFile) -> String {
        let seconds = (self.now - latest.taken_at.naive_utc()).num_seconds();
        ago(seconds)
    }

    pub fn size(&self, latest: &BackupFile) -> String {
        backup::human_size(latest.bytes)
    }

    /// When a reminder worker last beat, for people.
    pub fn heartbeat(&self) -> String {
        match self.health.heartbeat_age_seconds {
            Some(s) => format!("last beat {}", ago(s)),
            None => "no worker has beaten yet".into(),
        }
    }

    /// How long the oldest due email has waited, for people.
    pub fn oldest_due(&self) -> String {
        match self.health.oldest_due_age_seconds {
            Some(s) => format!("due since {}", ago(s).trim_end_matches(" ago")),
            None => "none waiting".into(),
        }
    }
}

/// `45 s ago`, `12 min ago`, `5 h ago`, `3 days ago`.
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_in_the_largest_sensible_unit() {
        assert_eq!(super::ago(-3), "0 s ago");
        assert_eq!(super::ago(59), "59 s ago");
        assert_eq!(super::ago(600), "10 min ago");
        assert_eq!(super::ago(5 * 3600 + 1), "5 h ago");
        assert_eq!(super::ago(3 * 86_400), "3 days ago");
    }
}
