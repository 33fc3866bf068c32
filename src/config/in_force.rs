//! The settings in force, as the admins' System page lists them.

use std::time::Duration;

use super::{AddrRange, SecretUrl, Settings};

impl Settings {
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
}
