//! Settings from environment variables, validated once at start-up.
//!
//! Every mistake is reported on its own line so an operator can fix them all
//! in one go instead of one restart per typo.

use std::net::IpAddr;
use std::path::Path;
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use secrecy::SecretSlice;

pub mod dotenv;
mod secrets;
pub use secrets::{redact, SecretUrl};

/// Which database the URL selects. Chosen from the scheme alone: a URL we do
/// not recognise is an error, never a silent fallback to SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretUrl,
    pub backend: Backend,
    pub pool_size: u32,
}

impl DatabaseSettings {
    pub fn parse(url: &str) -> Result<Self, String> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite://") || url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(format!(
                "AFTERCARE_DATABASE_URL: {:?} is neither sqlite://PATH nor postgres://…",
                redact(url)
            ));
        };
        if backend == Backend::Sqlite && sqlite_path(url).is_empty() {
            return Err("AFTERCARE_DATABASE_URL: the sqlite:// URL names no file".into());
        }
        Ok(Self {
            url: SecretUrl::new(url),
            backend,
            pool_size: default_pool_size(),
        })
    }

    /// The path SQLite opens: the URL without its scheme.
    pub fn sqlite_path(&self) -> &str {
        sqlite_path(self.url.expose_secret())
    }
}

/// Two connections per core, at least 4. More only queue inside the
/// database: with 10 on this project's 2-core benchmark machine, PostgreSQL's
/// backend processes crowded the cores and p99 of `/healthz` rose from 4.8 to
/// 20 ms (BENCHMARKS.md, F5).
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(4, 32) as u32
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// An address or a range of them, like `10.0.0.0/8` or `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    addr: IpAddr,
    prefix: u8,
}

impl AddrRange {
    pub fn parse(text: &str) -> Option<AddrRange> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(AddrRange { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let to_bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), 32),
                None => (u128::from(v6), 128),
            },
        };
        let ((mine, width), (theirs, their_width)) = (to_bits(self.addr), to_bits(ip));
        if width != their_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        mine & mask == theirs & mask
    }
}

/// The CA certificates in `AFTERCARE_SMTP_CA_FILE`, read and checked at start-up.
#[derive(Debug, Clone)]
pub struct SmtpCaFile {
    pub path: PathBuf,
    pub certs: Vec<CertificateDer<'static>>,
}

impl SmtpCaFile {
    /// Reads a PEM file of one or more CA certificates. The message names the
    /// setting and the file: a missing, unreadable or non-PEM file, or a
    /// certificate that cannot act as a CA, stops start-up rather than turning
    /// into "the certificate is not trusted" at the first email.
    pub fn load(path: &Path) -> Result<SmtpCaFile, String> {
        let bad = |why: String| format!("AFTERCARE_SMTP_CA_FILE: {} {why}", path.display());
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("is not a PEM file of certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "holds no PEM certificate (a block starting -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        for (n, cert) in certs.iter().enumerate() {
            crate::mail::trust::usable_as_root(cert)
                .map_err(|e| bad(format!("certificate {} is not usable as a CA: {e}", n + 1)))?;
        }
        Ok(SmtpCaFile {
            path: path.to_path_buf(),
            certs,
        })
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == bits {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// What the session-time settings accept, in minutes: shorter than 5 signs
/// people out while they type; longer than a year is a typo, and a huge value
/// would overflow the date arithmetic of the worker's pruning.
pub const SESSION_MINUTES: std::ops::RangeInclusive<u64> = 5..=525_600;

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
        let mut errors = Vec::new();
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let db_url =
            var("AFTERCARE_DATABASE_URL").unwrap_or_else(|| "sqlite://aftercare.db".into());
        let database = DatabaseSettings::parse(&db_url)
            .map_err(|e| errors.push(e))
            .ok();

        let bind_text = var("AFTERCARE_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text
            .parse::<SocketAddr>()
            .map_err(|_| {
                errors.push(format!(
                    "AFTERCARE_BIND: {bind_text:?} is not an address like 127.0.0.1:8080"
                ))
            })
            .ok();

        let base_url = match var("AFTERCARE_BASE_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                errors.push(format!(
                    "AFTERCARE_BASE_URL: {url:?} must start with http:// or https://"
                ));
                None
            }
            None => bind.map(|b| format!("http://{b}")),
        };

        let secret_key = match var("AFTERCARE_SECRET_KEY") {
            Some(key) if key.len() >= 32 => Some(key.into_bytes().into()),
            Some(_) => {
                errors.push("AFTERCARE_SECRET_KEY: must be at least 32 characters (or unset, to generate one)".into());
                None
            }
            None => None,
        };

        let minutes = |name: &str, default: u64, errors: &mut Vec<String>| -> Duration {
            match var(name) {
                None => Duration::from_secs(default * 60),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(m) if SESSION_MINUTES.contains(&m) => Duration::from_secs(m * 60),
                    _ => {
                        errors.push(format!(
                            "{name}: {v:?} is not a whole number of minutes from {} (5 minutes) \
                             to {} (a year)",
                            SESSION_MINUTES.start(),
                            SESSION_MINUTES.end()
                        ));
                        Duration::from_secs(default * 60)
                    }
                },
            }
        };
        let session_idle = minutes("AFTERCARE_SESSION_IDLE_MINUTES", 8 * 60, &mut errors);
        let session_max_age = minutes("AFTERCARE_SESSION_MAX_MINUTES", 24 * 60, &mut errors);

        let count = |name: &str, default: i64, max: i64, errors: &mut Vec<String>| -> i64 {
            match var(name) {
                None => default,
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if (1..=max).contains(&n) => n,
                    _ => {
                        errors.push(format!(
                            "{name}: {v:?} is not a whole number from 1 to {max}"
                        ));
                        default
                    }
                },
            }
        };
        let mail_max_attempts = count("AFTERCARE_MAIL_MAX_ATTEMPTS", 6, 50, &mut errors) as i32;
        let pool_size = count(
            "AFTERCARE_DATABASE_POOL_SIZE",
            default_pool_size().into(),
            256,
            &mut errors,
        ) as u32;
        let reminder_stale_hours =
            count("AFTERCARE_REMINDER_STALE_HOURS", 12, 24 * 14, &mut errors);

        // Moved to the clinic's retention settings: refused rather than ignored, so a photo
        // retention an operator chose never changes without them knowing.
        if let Some(days) = var("AFTERCARE_PHOTO_RETENTION_DAYS") {
            errors.push(format!(
                "AFTERCARE_PHOTO_RETENTION_DAYS ({days:?}) is no longer read: photo retention is \
                 set by an admin under Clinic settings → Data retention. Set it there, then \
                 remove this variable"
            ));
        }

        let backup_keep = count("AFTERCARE_BACKUP_KEEP", 14, 3650, &mut errors) as usize;
        let backup_hour = match var("AFTERCARE_BACKUP_HOUR") {
            None => 3,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(h) if h < 24 => h,
                _ => {
                    errors.push(format!(
                        "AFTERCARE_BACKUP_HOUR: {v:?} is not an hour from 0 to 23"
                    ));
                    3
                }
            },
        };
        let backup_dir = var("AFTERCARE_BACKUP_DIR").map(PathBuf::from);
        // Only SQLite is backed up by the app; on PostgreSQL start-up warns instead.
        if let (Some(dir), Some(Backend::Sqlite)) =
            (&backup_dir, database.as_ref().map(|d| d.backend))
        {
            if let Err(e) = check_writable_dir(dir) {
                errors.push(format!("AFTERCARE_BACKUP_DIR: {e}"));
            }
        }

        let smtp_url = var("AFTERCARE_SMTP_URL").map(|url| SecretUrl::new(&url));
        if let Some(url) = &smtp_url {
            let text = url.expose_secret();
            if !(text.starts_with("smtp://") || text.starts_with("smtps://")) {
                errors.push(format!(
                    "AFTERCARE_SMTP_URL: {url:?} must start with smtp:// or smtps://"
                ));
            }
        }

        let smtp_timeouts = smtp_timeouts(&var, &mut errors);
        let worker_batch = count("AFTERCARE_WORKER_BATCH", 100, 10_000, &mut errors);
        let worker_concurrency = count("AFTERCARE_WORKER_CONCURRENCY", 8, 64, &mut errors) as usize;
        // A worker that dies leaves its claim for one lease; a daily email
        // waiting longer than the stale rule's hours would be skipped.
        let lease = crate::jobs::lease::lease_for(smtp_timeouts.longest_send(1));
        if lease.as_secs() >= reminder_stale_hours as u64 * 3600 {
            errors.push(format!(
                "AFTERCARE_SMTP_TIMEOUT_*: one email may take up to {} s, so a worker's lease is \
                 {} s, as long as AFTERCARE_REMINDER_STALE_HOURS ({reminder_stale_hours}) or \
                 longer: shorten the timeouts or allow more hours",
                smtp_timeouts.longest_send(1).as_secs(),
                lease.as_secs()
            ));
        }

        let smtp_ca_file = var("AFTERCARE_SMTP_CA_FILE").and_then(|path| {
            SmtpCaFile::load(Path::new(path.trim()))
                .map_err(|e| errors.push(e))
                .ok()
        });

        let mut trusted_proxies = Vec::new();
        for item in var("AFTERCARE_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
        {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match AddrRange::parse(item) {
                Some(range) => trusted_proxies.push(range),
                None => errors.push(format!(
                    "AFTERCARE_TRUSTED_PROXIES: {item:?} is not an address or range like 10.0.0.1 or 10.0.0.0/8"
                )),
            }
        }

        let metrics_bind = var("AFTERCARE_METRICS_BIND").and_then(|text| {
            match text.trim().parse::<SocketAddr>() {
                Err(_) => errors.push(format!(
                    "AFTERCARE_METRICS_BIND: {text:?} is not an address like 127.0.0.1:9187"
                )),
                // Port 0 (any free port) twice is fine: tests use it.
                Ok(addr) if Some(addr) == bind && addr.port() != 0 => errors.push(format!(
                    "AFTERCARE_METRICS_BIND: {text:?} is the app's own address (AFTERCARE_BIND); \
                     the metrics need a port of their own, like 127.0.0.1:9187"
                )),
                Ok(addr) => return Some(addr),
            }
            None
        });

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            database: DatabaseSettings {
                pool_size,
                ..database.expect("checked above")
            },
            bind: bind.expect("checked above"),
            base_url: base_url.expect("checked above"),
            secret_key,
            session_idle,
            session_max_age,
            protocol_file: var("AFTERCARE_PROTOCOL").map(PathBuf::from),
            smtp_url,
            smtp_ca_file,
            mail_dir: var("AFTERCARE_MAIL_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("outbox")),
            mail_max_attempts,
            reminder_stale_hours,
            trusted_proxies,
            metrics_bind,
            backup_dir,
            backup_keep,
            backup_hour,
            smtp_timeouts,
            worker_batch,
            worker_concurrency,
        })
    }

    /// Every setting as the app uses it, by its variable's name, for the
    /// admin's System page: passwords in URLs masked, the secret key never shown.
    pub fn in_force(&self) -> Vec<(&'static str, String)> {
        let minutes = |d: Duration| (d.as_secs() / 60).to_string();
        let or_unset = |v: Option<String>, unset: &str| v.unwrap_or_else(|| unset.to_string());
        let proxies = self
            .trusted_proxies
            .iter()
            .map(AddrRange::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            ("AFTERCARE_DATABASE_URL", self.database.url.redacted()),
            (
                "AFTERCARE_DATABASE_POOL_SIZE",
                self.database.pool_size.to_string(),
            ),
            ("AFTERCARE_BIND", self.bind.to_string()),
            ("AFTERCARE_BASE_URL", self.base_url.clone()),
            (
                "AFTERCARE_SECRET_KEY",
                if self.secret_key.is_some() {
                    "set (not shown)".into()
                } else {
                    "unset: generated once, stored in the database (not shown)".into()
                },
            ),
            ("AFTERCARE_SESSION_IDLE_MINUTES", minutes(self.session_idle)),
            (
                "AFTERCARE_SESSION_MAX_MINUTES",
                minutes(self.session_max_age),
            ),
            (
                "AFTERCARE_PROTOCOL",
                or_unset(
                    self.protocol_file.as_ref().map(|p| p.display().to_string()),
                    "unset: the built-in protocol",
                ),
            ),
            (
                "AFTERCARE_SMTP_URL",
                or_unset(
                    self.smtp_url.as_ref().map(SecretUrl::redacted),
                    "unset: emails are written as files to AFTERCARE_MAIL_DIR",
                ),
            ),
            ("AFTERCARE_MAIL_DIR", self.mail_dir.display().to_string()),
            (
                "AFTERCARE_MAIL_MAX_ATTEMPTS",
                self.mail_max_attempts.to_string(),
            ),
            (
                "AFTERCARE_REMINDER_STALE_HOURS",
                self.reminder_stale_hours.to_string(),
            ),
            (
                "AFTERCARE_TRUSTED_PROXIES",
                if proxies.is_empty() {
                    "none".into()
                } else {
                    proxies
                },
            ),
            (
                "AFTERCARE_METRICS_BIND",
                or_unset(
                    self.metrics_bind.map(|a| a.to_string()),
                    "unset: no /metrics",
                ),
            ),
            (
                "AFTERCARE_SMTP_CA_FILE",
                or_unset(
                    self.smtp_ca_file
                        .as_ref()
                        .map(|f| format!("{} ({} certificates)", f.path.display(), f.certs.len())),
                    "unset: the system's and the bundled public CAs",
                ),
            ),
            (
                "AFTERCARE_BACKUP_DIR",
                or_unset(
                    self.backup_dir.as_ref().map(|p| p.display().to_string()),
                    "unset: no daily backups",
                ),
            ),
            ("AFTERCARE_BACKUP_KEEP", self.backup_keep.to_string()),
            (
                "AFTERCARE_BACKUP_HOUR",
                format!("{:02}:00", self.backup_hour),
            ),
            (
                "AFTERCARE_SMTP_TIMEOUT_*",
                format!(
                    "greeting {} s, command {} s, data start {} s, data block {} s, data end {} s",
                    self.smtp_timeouts.greeting.as_secs(),
                    self.smtp_timeouts.command.as_secs(),
                    self.smtp_timeouts.data_start.as_secs(),
                    self.smtp_timeouts.data_block.as_secs(),
                    self.smtp_timeouts.data_end.as_secs()
                ),
            ),
            ("AFTERCARE_WORKER_BATCH", self.worker_batch.to_string()),
            (
                "AFTERCARE_WORKER_CONCURRENCY",
                self.worker_concurrency.to_string(),
            ),
        ]
    }

    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// `AFTERCARE_SMTP_TIMEOUT_{GREETING,COMMAND,DATA_START,DATA_BLOCK,DATA_END}`,
/// whole seconds from 1 to 3600 each; RFC 5321's minimums by default.
fn smtp_timeouts(
    var: &impl Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> crate::mail::SmtpTimeouts {
    let mut timeouts = crate::mail::SmtpTimeouts::default();
    let t = &mut timeouts;
    for (step, field) in [
        ("GREETING", &mut t.greeting),
        ("COMMAND", &mut t.command),
        ("DATA_START", &mut t.data_start),
        ("DATA_BLOCK", &mut t.data_block),
        ("DATA_END", &mut t.data_end),
    ] {
        let name = format!("AFTERCARE_SMTP_TIMEOUT_{step}");
        if let Some(v) = var(&name) {
            match v.trim().parse::<u64>() {
                Ok(secs) if (1..=3600).contains(&secs) => *field = Duration::from_secs(secs),
                _ => errors.push(format!(
                    "{name}: {v:?} is not a whole number of seconds from 1 to 3600"
                )),
            }
        }
    }
    timeouts
}

/// A folder that exists and takes new files. A missing one is not created:
/// a typo, or a backup disk that is not mounted, would otherwise put the
/// backups somewhere nobody looks (or on the disk they are meant to survive).
fn check_writable_dir(dir: &std::path::Path) -> Result<(), String> {
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
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
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
    fn postgres_is_chosen_by_scheme() {
        let s = settings(&[("AFTERCARE_DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert_eq!(s.database.backend, Backend::Postgres);
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
    fn session_times_are_bounded_and_the_message_names_the_setting() {
        for bad in [
            "1000000000000",
            "100000000000",
            "525601",
            "4",
            "0",
            "-3",
            "ten",
        ] {
            for name in [
                "AFTERCARE_SESSION_IDLE_MINUTES",
                "AFTERCARE_SESSION_MAX_MINUTES",
            ] {
                let errors = settings(&[(name, bad)]).unwrap_err();
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert!(
                    errors[0].starts_with(&format!("{name}: {bad:?} is not a whole number")),
                    "{errors:?}"
                );
            }
        }
        let s = settings(&[
            ("AFTERCARE_SESSION_IDLE_MINUTES", "5"),
            ("AFTERCARE_SESSION_MAX_MINUTES", "525600"),
        ])
        .unwrap();
        assert_eq!(s.session_idle, Duration::from_secs(300));
        assert_eq!(s.session_max_age, Duration::from_secs(525_600 * 60));
    }

    #[test]
    fn the_pool_is_sized_by_the_cores_unless_set() {
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        let default = settings(&[]).unwrap().database.pool_size;
        assert_eq!(default, (2 * cores).clamp(4, 32));
        let set = settings(&[("AFTERCARE_DATABASE_POOL_SIZE", "12")]).unwrap();
        assert_eq!(set.database.pool_size, 12);
        let errors = settings(&[("AFTERCARE_DATABASE_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(
            errors,
            ["AFTERCARE_DATABASE_POOL_SIZE: \"0\" is not a whole number from 1 to 256"]
        );
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
    fn metrics_are_off_unless_given_an_address_of_their_own() {
        assert_eq!(settings(&[]).unwrap().metrics_bind, None);
        let on = settings(&[("AFTERCARE_METRICS_BIND", "127.0.0.1:9187")]).unwrap();
        assert_eq!(on.metrics_bind, Some("127.0.0.1:9187".parse().unwrap()));
        assert_eq!(
            settings(&[("AFTERCARE_METRICS_BIND", "9187")]).unwrap_err(),
            ["AFTERCARE_METRICS_BIND: \"9187\" is not an address like 127.0.0.1:9187"]
        );
        let same = settings(&[
            ("AFTERCARE_BIND", "127.0.0.1:8080"),
            ("AFTERCARE_METRICS_BIND", "127.0.0.1:8080"),
        ])
        .unwrap_err();
        assert_eq!(same.len(), 1, "{same:?}");
        assert!(same[0].contains("is the app's own address"), "{same:?}");
    }

    #[test]
    fn the_smtp_ca_file_is_read_and_checked_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap().pem();
        let with_file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            settings(&[("AFTERCARE_SMTP_CA_FILE", path.to_str().unwrap())])
        };

        // Two CAs in one file, with text around them, as bundles often have.
        let bundle = format!("clinic CA\n{ca}\nIT firm CA\n{ca}");
        let loaded = with_file("bundle.pem", &bundle)
            .unwrap()
            .smtp_ca_file
            .unwrap();
        assert_eq!(loaded.certs.len(), 2);
        assert!(settings(&[]).unwrap().smtp_ca_file.is_none());

        let damaged = ca.replacen("MI", "AA", 1);
        let errors = with_file("damaged.pem", &damaged).unwrap_err();
        let path = dir.path().join("damaged.pem");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!(
                "AFTERCARE_SMTP_CA_FILE: {} certificate 1 is not usable as a CA: ",
                path.display()
            )),
            "{errors:?}"
        );
    }

    #[test]
    fn the_photo_retention_variable_points_to_its_new_home() {
        let errors = settings(&[("AFTERCARE_PHOTO_RETENTION_DAYS", "30")]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("Data retention"), "{errors:?}");
    }

    #[test]
    fn https_base_url_makes_cookies_secure() {
        let s = settings(&[("AFTERCARE_BASE_URL", "https://clinic.example/")]).unwrap();
        assert!(s.secure_cookies());
        assert_eq!(s.base_url, "https://clinic.example");
    }

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
