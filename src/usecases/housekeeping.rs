//! Use case: pruning rows the app no longer needs, so tables that grow with
//! every request (sessions, log-in attempts) stay bounded, and check-in
//! photos are not kept past their retention. The reminder
//! worker runs it periodically (see `jobs`); every worker may, since each
//! delete only removes what is already dead.

use chrono::{Duration, NaiveDateTime};

use crate::error::AppResult;
use crate::store::{write_tx, DbConn};

/// What pruning keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A session unused this long has ended (`AFTERCARE_SESSION_IDLE_MINUTES`).
    pub session_idle: Duration,
    /// A session this old has ended (`AFTERCARE_SESSION_MAX_MINUTES`).
    pub session_max_age: Duration,
    /// The lock-out reads only the last day of log-in attempts
    /// (`auth::lockout::lookback`); a week lets an admin look into a burst
    /// someone reports.
    pub login_attempts: Duration,
    /// A worker silent this long is gone (restarted under a new name).
    pub heartbeats: Duration,
    /// Check-in photos are health data: kept only this long
    /// (`AFTERCARE_PHOTO_RETENTION_DAYS`).
    pub photos: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            session_idle: Duration::hours(8),
            session_max_age: Duration::hours(24),
            login_attempts: Duration::days(7),
            heartbeats: Duration::days(7),
            photos: Duration::days(90),
        }
    }
}

/// How many rows of each kind were deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: usize,
    pub login_attempts: usize,
    pub password_tokens: usize,
    pub heartbeats: usize,
    pub photos: usize,
}

#[tracing::instrument(skip_all)]
pub fn prune(conn: &mut DbConn, now: NaiveDateTime, keep: &Retention) -> AppResult<Pruned> {
    write_tx(conn, |c| {
        let spent = super::accounts::prune_spent(
            c,
            now,
            now - keep.session_idle,
            now - keep.session_max_age,
            now - keep.login_attempts,
        )?;
        Ok(Pruned {
            sessions: spent.sessions,
            login_attempts: spent.login_attempts,
            password_tokens: spent.password_tokens,
            heartbeats: super::reminders::prune_heartbeats(c, now - keep.heartbeats)?,
            photos: super::checkins::prune_photos(c, now - keep.photos)?,
        })
    })
}
