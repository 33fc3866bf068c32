//! Settings from environment variables, validated once at start-up.
//!
//! Every mistake is reported on its own line so an operator can fix them all
//! in one go instead of one restart per typo.
//!
//! One module per group of settings (`database`, `server`, `sessions`,
//! `mail`, `worker`, `backups`), each reading its variables through `read`'s
//! [`read::Reader`], which keeps the mistakes; `in_force`, the list the
//! System page shows; `dotenv`, the optional `.env`; `secrets`, what masks a
//! password wherever a URL is shown.

use std::path::PathBuf;
use std::{net::SocketAddr, time::Duration};

use secrecy::SecretSlice;

mod backups;
mod database;
pub mod dotenv;
mod in_force;
mod mail;
mod read;
mod secrets;
mod server;
mod sessions;
mod worker;

pub use database::{Backend, DatabaseSettings};
pub use mail::SmtpCaFile;
pub use secrets::{redact, SecretUrl};
pub use server::AddrRange;
pub use sessions::SESSION_MINUTES;
pub use worker::lease_for;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub bind: SocketAddr,
    /// Public address of the app, without a trailing slash; used in links
    /// (emails, patient sheets) and to decide whether cookies are `Secure`.
    pub base_url: String,
    /// From the environment; `None` means "use the key stored in the database".
    pub secret_key: Option<SecretSlice<u8>>,
    pub session_idle: Duration,
    pub session_max_age: Duration,
    pub protocol_file: Option<PathBuf>,
    pub smtp_url: Option<SecretUrl>,
    /// CA certificates trusted for the SMTP server besides the system's and the bundled ones.
    pub smtp_ca_file: Option<SmtpCaFile>,
    pub mail_dir: PathBuf,
    /// Temporary SMTP failures are retried up to this many attempts in all.
    pub mail_max_attempts: i32,
    /// A daily reminder more than this many hours late is skipped.
    pub reminder_stale_hours: i64,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<AddrRange>,
    /// Where `/metrics` (Prometheus) is served, apart from the app; `None` (the
    /// default) serves none.
    pub metrics_bind: Option<SocketAddr>,
    /// Daily backups of the SQLite database go here (`serve` makes them);
    /// `None`: no daily backups.
    pub backup_dir: Option<PathBuf>,
    /// How many daily backups are kept; older ones are deleted.
    pub backup_keep: usize,
    /// The hour of the day (clinic time) the daily backup is taken.
    pub backup_hour: u32,
    /// How long each step of the SMTP dialogue may take (RFC 5321 §4.5.3.2).
    pub smtp_timeouts: crate::mail::SmtpTimeouts,
    /// Emails a worker claims at once, and sends at once (also its SMTP connections).
    pub worker_batch: i64,
    pub worker_concurrency: usize,
}

impl Settings {
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// Reads `AFTERCARE_*` variables through `get`, so tests can pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut r = read::Reader::new(&get);
        let database = database::read(&mut r);
        let server = server::read(&mut r);
        let sessions = sessions::read(&mut r);
        let mail = mail::read(&mut r);
        let worker = worker::read(&mut r, &mail.smtp_timeouts);
        let backups = backups::read(&mut r, database.as_ref().map(|d| d.backend));
        refuse_moved(&mut r);
        let protocol_file = r.var("AFTERCARE_PROTOCOL").map(PathBuf::from);
        let errors = r.into_errors();
        // Either is `None` only for a mistake among the errors.
        let (Some(database), Some(server)) = (database, server) else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            database,
            bind: server.bind,
            base_url: server.base_url,
            secret_key: sessions.secret_key,
            session_idle: sessions.idle,
            session_max_age: sessions.max_age,
            protocol_file,
            smtp_url: mail.smtp_url,
            smtp_ca_file: mail.smtp_ca_file,
            mail_dir: mail.mail_dir,
            mail_max_attempts: mail.max_attempts,
            reminder_stale_hours: worker.reminder_stale_hours,
            trusted_proxies: server.trusted_proxies,
            metrics_bind: server.metrics_bind,
            backup_dir: backups.dir,
            backup_keep: backups.keep,
            backup_hour: backups.hour,
            smtp_timeouts: mail.smtp_timeouts,
            worker_batch: worker.batch,
            worker_concurrency: worker.concurrency,
        })
    }

    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Settings that moved to the clinic's own settings: refused rather than
/// ignored, so a value an operator chose never changes without them knowing.
fn refuse_moved(r: &mut read::Reader) {
    if let Some(days) = r.var("AFTERCARE_PHOTO_RETENTION_DAYS") {
        r.error(format!(
            "AFTERCARE_PHOTO_RETENTION_DAYS ({days:?}) is no longer read: photo retention is \
             set by an admin under Clinic settings → Data retention. Set it there, then \
             remove this variable"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The settings read from these pairs alone, as start-up would read them.
    pub(in crate::config) fn settings(pairs: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_nothing_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database.backend, Backend::Sqlite);
        assert_eq!(s.database.sqlite_path(), "aftercare.db");
        assert_eq!(s.base_url, "http://127.0.0.1:8080");
        assert!(!s.secure_cookies());
        assert_eq!(s.session_idle, Duration::from_secs(8 * 3600));
    }

    #[test]
    fn every_mistake_is_reported_once() {
        let errors = settings(&[
            ("AFTERCARE_DATABASE_URL", "mysql://x"),
            ("AFTERCARE_BIND", "nowhere"),
            ("AFTERCARE_SECRET_KEY", "short"),
            ("AFTERCARE_SESSION_IDLE_MINUTES", "-3"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("AFTERCARE_DATABASE_URL"));
        assert!(errors[1].starts_with("AFTERCARE_BIND"));
    }

    #[test]
    fn secrets_never_show_in_debug_output_or_errors() {
        let s = settings(&[
            ("AFTERCARE_DATABASE_URL", "postgres://app:db-pass-1@db/x"),
            (
                "AFTERCARE_SMTP_URL",
                "smtps://mail:smtp-pass-2@mail.example",
            ),
            (
                "AFTERCARE_SECRET_KEY",
                "key-3-that-is-long-enough-to-be-accepted",
            ),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        for secret in ["db-pass-1", "smtp-pass-2", "key-3"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://app:***@db/x"), "{shown}");
        // The System page's list of settings masks them too.
        let in_force = s.in_force();
        let listed = format!("{in_force:?}");
        for secret in ["db-pass-1", "smtp-pass-2", "key-3"] {
            assert!(!listed.contains(secret), "{secret} in {listed}");
        }
        let value = |name: &str| {
            in_force
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1
                .as_str()
        };
        assert_eq!(value("AFTERCARE_SMTP_URL"), "smtps://mail:***@mail.example");
        assert_eq!(value("AFTERCARE_SECRET_KEY"), "set (not shown)");
        assert_eq!(value("AFTERCARE_BACKUP_HOUR"), "03:00");
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://app:db-pass-1@db/x"
        );

        let errors = settings(&[
            ("AFTERCARE_DATABASE_URL", "mysql://app:db-pass-1@db/x"),
            ("AFTERCARE_SMTP_URL", "http://mail:smtp-pass-2@mail.example"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(!format!("{errors:?}").contains("pass-"), "{errors:?}");
    }

    #[test]
    fn the_photo_retention_variable_points_to_its_new_home() {
        let errors = settings(&[("AFTERCARE_PHOTO_RETENTION_DAYS", "30")]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("Data retention"), "{errors:?}");
    }
}
