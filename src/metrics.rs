//! What the app counts for a monitoring system, rendered in Prometheus text
//! format (served by `web::metrics` when `AFTERCARE_METRICS_BIND` is set).
//!
//! Two kinds of figures:
//! - counted as things happen, in this process: HTTP requests (by route
//!   pattern, method and status) and the worker's mail outcomes;
//! - read when scraped, from the database and the pool: the outbox by state,
//!   the oldest due reminder, the worker's heartbeat, pool usage, the last
//!   backup. Read from the database, these agree whichever process serves them.
//!
//! No label carries patient data: routes are patterns (`/sheet/{token}`),
//! never paths, and every other label takes a value from a short fixed list.
//! Each app has a registry of its own (no global recorder), so two apps in
//! one process (the tests) count apart.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry,
    TextEncoder,
};

use crate::config::Settings;
use crate::usecases::health::MailFigures;
use crate::usecases::reminders::Outcome;

/// What a scrape answers with: `text/plain; version=0.0.4`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of a request no route matched (a 404).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Which outbox an email came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Reminder,
    CheckinAlert,
}

impl MailKind {
    const ALL: [MailKind; 2] = [MailKind::Reminder, MailKind::CheckinAlert];

    fn label(self) -> &'static str {
        match self {
            MailKind::Reminder => "reminder",
            MailKind::CheckinAlert => "checkin_alert",
        }
    }
}

/// The outcome label of a send: what the outbox records, in words an
/// operator's alert rule reads.
fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Sent => "sent",
        Outcome::Retry { .. } => "failed_temporarily",
        Outcome::Failed(_) => "failed_permanently",
        Outcome::Skipped(_) => "skipped",
        Outcome::Cancelled(_) => "cancelled",
        Outcome::Held(_) => "held_configuration_error",
    }
}

const OUTCOMES: [&str; 6] = [
    "sent",
    "failed_temporarily",
    "failed_permanently",
    "skipped",
    "cancelled",
    "held_configuration_error",
];

/// Methods a route can have; any other (`FOO`) is counted as `other`, so a
/// client cannot make up label values.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The counters of one app. Cheap to clone: each part is shared.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    mail_outcomes: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let http = ["method", "route", "status"];
        let http_requests = IntCounterVec::new(
            Opts::new(
                "aftercare_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
            ),
            &http,
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "aftercare_http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern, method and status.",
            ),
            &http,
        )
        .expect("valid metric");
        let mail_outcomes = IntCounterVec::new(
            Opts::new(
                "aftercare_mail_outcomes_total",
                "Reminders and check-in alerts the worker finished, by outcome \
                 (a patient's reminders due together go in one email).",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        // Every series exists from the start, so `increase()` sees the first send.
        for kind in MailKind::ALL {
            for outcome in OUTCOMES {
                mail_outcomes.with_label_values(&[kind.label(), outcome]);
            }
        }
        let registry = Registry::new();
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(mail_outcomes.clone()),
        ] {
            registry.register(collector).expect("names are unique");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            mail_outcomes,
        }
    }

    /// Counts one answered request. `route` is the matched pattern, or
    /// `None` when no route matched.
    pub fn observe_request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = METHODS
            .into_iter()
            .find(|m| *m == method)
            .unwrap_or("other");
        let status = status.to_string();
        let labels = [method, route.unwrap_or(UNMATCHED_ROUTE), status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
    }

    /// Counts what became of one reminder or alert the worker claimed.
    pub fn count_mail(&self, kind: MailKind, outcome: &Outcome) {
        self.mail_outcomes
            .with_label_values(&[kind.label(), outcome_label(outcome)])
            .inc();
    }

    /// The counters and `scraped`, in Prometheus text format.
    pub fn render(&self, scraped: &Scraped) -> String {
        let mut families = self.registry.gather();
        families.extend(scraped.registry().gather());
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut text)
            .expect("writing to memory cannot fail");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

/// One connection pool's use, from `r2d2::Pool::state()`.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub name: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// The figures read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    pub pools: Vec<PoolUsage>,
    /// `None` when the database could not be read (`aftercare_database_up` 0).
    pub mail: Option<MailFigures>,
    pub backup_age_seconds: Option<f64>,
}

impl Scraped {
    /// A registry of this scrape's gauges: built afresh each time, so a
    /// figure that is unknown now (no heartbeat yet) is absent, not stale.
    fn registry(&self) -> Registry {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, value: f64| {
            let g = Gauge::new(name, help).expect("valid metric");
            g.set(value);
            registry.register(Box::new(g)).expect("names are unique");
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("names are unique");
            g
        };

        let connections = gauges(
            "aftercare_db_pool_connections",
            "Database connections of the pool, in use or idle.",
            &["pool", "state"],
        );
        let max = gauges(
            "aftercare_db_pool_max_connections",
            "The most connections the pool opens (AFTERCARE_DATABASE_POOL_SIZE).",
            &["pool"],
        );
        for pool in &self.pools {
            connections
                .with_label_values(&[pool.name, "in_use"])
                .set(pool.in_use.into());
            connections
                .with_label_values(&[pool.name, "idle"])
                .set(pool.idle.into());
            max.with_label_values(&[pool.name]).set(pool.max.into());
        }

        gauge(
            "aftercare_database_up",
            "1 when this scrape could read the database, else 0.",
            if self.mail.is_some() { 1.0 } else { 0.0 },
        );
        if let Some(mail) = &self.mail {
            let outbox = gauges(
                "aftercare_outbox_reminders",
                "Reminders in the outbox, by state.",
                &["status"],
            );
            for (status, n) in &mail.outbox {
                outbox.with_label_values(&[status.as_str()]).set(*n as f64);
            }
            // Per location by its id (a name can change; `aftercare_location_info` maps one
            // to the other).
            let by_location = gauges(
                "aftercare_outbox_reminders_by_location",
                "Reminders in the outbox, by the location of their treatment and by state.",
                &["location", "status"],
            );
            for (location, counts) in &mail.by_location {
                for (status, n) in counts {
                    by_location
                        .with_label_values(&[&location.to_string(), status.as_str()])
                        .set(*n as f64);
                }
            }
            let info = gauges(
                "aftercare_location_info",
                "1 for each location: its id, its name, and whether it is open.",
                &["location", "name", "state"],
            );
            for (id, name, open) in &mail.locations {
                let state = if *open { "open" } else { "closed" };
                info.with_label_values(&[&id.to_string(), name, state])
                    .set(1.0);
            }
            gauge(
                "aftercare_outbox_oldest_due_age_seconds",
                "How long the longest-waiting due reminder has waited; 0 when none is due.",
                mail.oldest_due_age.map_or(0.0, seconds),
            );
            if let Some(age) = mail.heartbeat_age {
                gauge(
                    "aftercare_worker_heartbeat_age_seconds",
                    "Seconds since any reminder worker last beat; absent until one has.",
                    seconds(age),
                );
            }
        }
        if let Some(age) = self.backup_age_seconds {
            gauge(
                "aftercare_backup_age_seconds",
                "Seconds since the newest backup was taken; absent when none is known.",
                age,
            );
        }
        registry
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// The age of the newest daily backup, for `aftercare_backup_age_seconds`;
/// `None` (the metric left out) when the app takes none (PostgreSQL, or no
/// `AFTERCARE_BACKUP_DIR`), none is there yet, or the folder cannot be read.
/// One listing of the folder: cheap enough for every scrape.
pub fn backup_age_seconds(settings: &Settings, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    if settings.database.backend != crate::config::Backend::Sqlite {
        return None;
    }
    let dir = settings.backup_dir.as_ref()?;
    match crate::usecases::backup::latest(dir) {
        Ok(latest) => latest.map(|b| seconds(now - b.taken_at)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the backup folder");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_lists() {
        let metrics = Metrics::new();
        metrics.observe_request("BREW", None, 404, Duration::from_millis(3));
        metrics.observe_request("GET", Some("/sheet/{token}"), 200, Duration::from_millis(3));
        let text = metrics.render(&Scraped::default());
        assert!(
            text.contains(
                r#"aftercare_http_requests_total{method="other",route="unmatched",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"aftercare_http_requests_total{method="GET",route="/sheet/{token}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("aftercare_database_up 0"), "{text}");
        assert!(!text.contains("aftercare_backup_age_seconds"), "{text}");
    }

    #[test]
    fn every_mail_outcome_is_counted_under_its_name() {
        let metrics = Metrics::new();
        metrics.count_mail(
            MailKind::Reminder,
            &Outcome::Retry {
                error: "busy".into(),
                next: chrono::NaiveDateTime::default(),
            },
        );
        metrics.count_mail(MailKind::CheckinAlert, &Outcome::Sent);
        let text = metrics.render(&Scraped::default());
        for line in [
            r#"aftercare_mail_outcomes_total{kind="reminder",outcome="failed_temporarily"} 1"#,
            r#"aftercare_mail_outcomes_total{kind="checkin_alert",outcome="sent"} 1"#,
            r#"aftercare_mail_outcomes_total{kind="reminder",outcome="sent"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
}
