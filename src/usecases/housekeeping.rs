//! Use case: pruning rows the app no longer needs, so tables that grow with
//! every request (sessions, log-in attempts) stay bounded, and records are not
//! kept past the clinic's retention settings (the audit log, finished reminder
//! emails, check-in photos). The reminder worker runs it periodically (see
//! `jobs`); every worker may, since each delete only removes what is already dead.

use crate::words::counted;
use chrono::{Duration, NaiveDateTime};

use crate::error::AppResult;
use crate::usecases::audit::{audit, Actor};
use crate::usecases::store::{write_tx, DbConn};

/// What pruning keeps of the app's own working rows (the clinic's records follow its
/// retention settings, read from the database at each run).
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
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            session_idle: Duration::hours(8),
            session_max_age: Duration::hours(24),
            login_attempts: Duration::days(7),
            heartbeats: Duration::days(7),
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
    pub audit_entries: usize,
    pub emails: usize,
}

/// Rows deleted per transaction when applying the retention settings: the first run on a
/// database years old must not hold SQLite's writer for the whole backlog. Photos are large,
/// so fewer at a time.
const BATCH: i64 = 5_000;
const PHOTO_BATCH: i64 = 100;

#[tracing::instrument(skip_all)]
pub fn prune(conn: &mut DbConn, now: NaiveDateTime, keep: &Retention) -> AppResult<Pruned> {
    let mut pruned = write_tx(conn, |c| {
        let spent = super::accounts::prune_spent(
            c,
            now,
            now - keep.session_idle,
            now - keep.session_max_age,
            now - keep.login_attempts,
        )?;
        AppResult::Ok(Pruned {
            sessions: spent.sessions,
            login_attempts: spent.login_attempts,
            password_tokens: spent.password_tokens,
            heartbeats: super::reminders::prune_heartbeats(c, now - keep.heartbeats)?,
            ..Pruned::default()
        })
    })?;
    let records = super::clinic::retention(conn)?;
    let before = |days: i32| now - Duration::days(days.into());
    let photos_before = before(records.photo_retention_days);
    pruned.photos = in_batches(conn, "check-in photos", PHOTO_BATCH, |c| {
        super::checkins::prune_photos(c, photos_before, PHOTO_BATCH)
    })?;
    if let Some(days) = records.email_retention_days {
        pruned.emails = in_batches(conn, "reminder emails", BATCH, |c| {
            super::reminders::prune_finished(c, before(days), BATCH)
        })?;
    }
    if let Some(days) = records.audit_retention_days {
        pruned.audit_entries = in_batches(conn, "audit entries", BATCH, |c| {
            super::audit::prune(c, before(days), BATCH)
        })?;
    }
    let (photos, emails, entries) = (pruned.photos, pruned.emails, pruned.audit_entries);
    if photos + emails + entries > 0 {
        // Deleting records is itself on the record, after the audit log's own pruning.
        write_tx(conn, |c| {
            audit(
                c,
                &Actor::anonymous("housekeeping", "-"),
                "retention.applied",
                "retention",
                &format!(
                    "deleted {}, {}, {}",
                    counted(photos, "photo"),
                    counted(emails, "email record"),
                    counted(entries, "audit entry")
                ),
                now,
            )
        })?;
    }
    Ok(pruned)
}

/// Runs `delete` (which removes at most `batch` rows) in a transaction of its own until it
/// finds fewer than `batch`, logging each batch. Returns how many rows went in all.
fn in_batches(
    conn: &mut DbConn,
    what: &str,
    batch: i64,
    mut delete: impl FnMut(&mut DbConn) -> AppResult<usize>,
) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let deleted = write_tx(conn, &mut delete)?;
        total += deleted;
        if deleted > 0 {
            tracing::info!(what, deleted, total, "retention: deleted a batch");
        }
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}
