//! Daily backups of the SQLite database, inside `serve` when
//! `AFTERCARE_BACKUP_DIR` is set: at the backup hour in the clinic's zone,
//! and at start-up when that hour was missed. Each is logged; a failure is
//! logged as an error and tried again an hour later, and never stops the app.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::usecases::backup::{self, Daily};
use crate::usecases::{clinic, Pool};

/// How long to wait, at most, between two looks: a failed backup is tried
/// again this much later, and a changed time zone is seen within it.
const RECHECK: StdDuration = StdDuration::from_secs(3600);

#[derive(Clone)]
pub struct DailyBackups {
    pub pool: Pool,
    pub clock: Arc<dyn Clock>,
    pub dir: PathBuf,
    pub keep: usize,
    /// The hour of the day, clinic time.
    pub hour: u32,
}

/// What one look found.
#[derive(Debug)]
pub struct Look {
    /// The backup taken, when one was due.
    pub taken: Option<Daily>,
    /// When the next one falls due.
    pub next_due: DateTime<Utc>,
}

impl DailyBackups {
    /// Takes the daily backup if it is due (see `backup::daily_due`) and
    /// prunes the old ones; logs what it did.
    pub async fn look(&self) -> anyhow::Result<Look> {
        let (pool, dir, keep, hour) = (self.pool.clone(), self.dir.clone(), self.keep, self.hour);
        let now = self.clock.now();
        let look = tokio::task::spawn_blocking(move || -> anyhow::Result<Look> {
            let mut conn = pool.get()?;
            let tz = clinic::get(&mut conn)?.zone();
            let newest = backup::latest(&dir)
                .with_context(|| format!("cannot read the backup folder {}", dir.display()))?
                .map(|b| b.taken_at);
            let next_due = backup::next_slot(now, tz, hour);
            let taken = backup::daily_due(newest, now, tz, hour)
                .then(|| backup::take_daily(&mut conn, &dir, now, keep))
                .transpose()?;
            Ok(Look { taken, next_due })
        })
        .await??;
        if let Some(daily) = &look.taken {
            tracing::info!(
                path = %daily.taken.path.display(),
                bytes = daily.taken.bytes,
                duration_ms = daily.taken.took.as_millis() as u64,
                patients = daily.taken.counts.patients,
                treatments = daily.taken.counts.treatments,
                reminders = daily.taken.counts.reminders,
                pruned = daily.pruned.len(),
                "daily backup taken"
            );
            for old in &daily.pruned {
                tracing::info!(path = %old.display(), "old backup deleted");
            }
        }
        Ok(look)
    }

    /// Looks now, then at each backup hour (and at least hourly) until `stop`.
    pub async fn run_until(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        tracing::info!(dir = %self.dir.display(), keep = self.keep, hour = self.hour, "daily backups on");
        loop {
            let pause = match self.look().await {
                Ok(look) => (look.next_due - self.clock.now())
                    .to_std()
                    .unwrap_or(StdDuration::ZERO)
                    .clamp(StdDuration::from_secs(1), RECHECK),
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %format!("{e:#}"), "daily backup failed; trying again in an hour");
                    RECHECK
                }
            };
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
