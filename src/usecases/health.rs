//! Use case: is the app fit to serve, and is reminder mail moving?
//!
//! The worker's liveness is read from the database (its heartbeat row and
//! the outbox), not from this process's memory, so the answer is the same
//! whether the worker runs inside `serve` or as `aftercare worker` elsewhere.

use chrono::{Duration, NaiveDateTime};

use super::reminders::Status;
use crate::error::{AppError, AppResult};
use crate::usecases::store::DbConn;

pub use crate::usecases::store::Outage;

/// Whether `e` comes from the database's situation (unreachable, disk full,
/// busy) rather than from the request: pages answer 503 for these, `/healthz`
/// gives the reason, and the worker backs off and tries again.
pub fn outage(e: &AppError) -> Option<Outage> {
    match e {
        AppError::Pool(_) => {
            crate::usecases::store::note_unreachable();
            Some(Outage::Unreachable)
        }
        AppError::Database(db) => crate::usecases::store::outage(db),
        _ => None,
    }
}

/// As [`outage`], for errors the worker and the commands carry as `anyhow`.
pub fn outage_in(e: &anyhow::Error) -> Option<Outage> {
    if let Some(app) = e.downcast_ref::<AppError>() {
        return outage(app);
    }
    if e.downcast_ref::<r2d2::Error>().is_some() {
        crate::usecases::store::note_unreachable();
        return Some(Outage::Unreachable);
    }
    e.downcast_ref::<crate::usecases::store::DbError>()
        .and_then(crate::usecases::store::outage)
}

/// A worker beats at every claim and every batch of recorded outcomes, so
/// even a round of slow SMTP sends (15 s timeout each) beats well within this.
pub const HEARTBEAT_MAX_AGE: Duration = Duration::minutes(2);
/// A due reminder waiting this long means the workers are stuck or far
/// behind: an idle worker claims due rows within seconds.
pub const DUE_MAX_AGE: Duration = Duration::minutes(15);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// Whether this process runs a worker, so its health includes mail.
    pub worker_in_process: bool,
    /// Seconds since any worker last beat; `None` when none ever has.
    pub heartbeat_age_seconds: Option<i64>,
    /// Seconds the oldest due reminder has waited; `None` when none is due.
    pub oldest_due_age_seconds: Option<i64>,
    /// Why the app is unhealthy; empty when it is healthy.
    pub problems: Vec<String>,
}

impl Health {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads the heartbeat and the outbox. Stale worker figures count against
/// health only when `worker_in_process`: a `serve --no-worker` instance
/// cannot fix a separate worker by being restarted or taken out of a load
/// balancer, so it reports the figures without failing on them.
#[tracing::instrument(skip_all)]
pub fn check(conn: &mut DbConn, now: NaiveDateTime, worker_in_process: bool) -> AppResult<Health> {
    let (heartbeat, oldest_due) = worker_ages(conn, now)?;
    let mut problems = Vec::new();
    if worker_in_process {
        match heartbeat {
            None => problems.push("the reminder worker has not beaten yet".to_string()),
            Some(a) if a > HEARTBEAT_MAX_AGE => problems.push(format!(
                "the reminder worker last beat {} s ago",
                a.num_seconds()
            )),
            Some(_) => {}
        }
        if let Some(a) = oldest_due.filter(|a| *a > DUE_MAX_AGE) {
            problems.push(format!(
                "a reminder has been due for {} s without being sent",
                a.num_seconds()
            ));
        }
    }
    Ok(Health {
        worker_in_process,
        heartbeat_age_seconds: heartbeat.map(|a| a.num_seconds()),
        oldest_due_age_seconds: oldest_due.map(|a| a.num_seconds()),
        problems,
    })
}

/// How long since any worker beat, and how long the oldest due reminder has
/// waited (`None`: never beaten, nothing due).
fn worker_ages(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> AppResult<(Option<Duration>, Option<Duration>)> {
    let (heartbeat, oldest_due) = super::reminders::worker_figures(conn, now)?;
    let age = |t: NaiveDateTime| (now - t).max(Duration::zero());
    Ok((heartbeat.map(age), oldest_due.map(age)))
}

/// What a monitoring system samples (`/metrics`): the outbox by state and
/// the worker's ages. A handful of aggregate queries (the outbox count walks
/// the status index), so a scrape holds its connection for milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFigures {
    /// Reminders in each state, every state named.
    pub outbox: Vec<(Status, i64)>,
    /// The same, for each location's treatments (by location id).
    pub by_location: Vec<(i64, Vec<(Status, i64)>)>,
    /// Each location's id, name and whether it is open.
    pub locations: Vec<(i64, String, bool)>,
    pub heartbeat_age: Option<Duration>,
    pub oldest_due_age: Option<Duration>,
}

#[tracing::instrument(skip_all)]
pub fn mail_figures(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<MailFigures> {
    let (heartbeat_age, oldest_due_age) = worker_ages(conn, now)?;
    let locations = super::clinic::locations(conn)?;
    let mut by_location = Vec::new();
    for l in &locations {
        let sites = super::sites::Sites::Only(vec![l.id]);
        by_location.push((l.id, super::reminders::count_by_status_at(conn, &sites)?));
    }
    Ok(MailFigures {
        outbox: super::reminders::count_by_status(conn)?,
        by_location,
        locations: locations
            .into_iter()
            .map(|l| (l.id, l.name, !l.closed))
            .collect(),
        heartbeat_age,
        oldest_due_age,
    })
}
