//! The reminder worker: how much it takes on at once, and how late a daily
//! reminder may go before it is skipped.

use super::read::Reader;
use crate::mail::SmtpTimeouts;

/// The worker's settings, as [`super::Settings`] holds them.
pub(super) struct Worker {
    pub(super) reminder_stale_hours: i64,
    pub(super) batch: i64,
    pub(super) concurrency: usize,
}

/// `AFTERCARE_REMINDER_STALE_HOURS` (12), `AFTERCARE_WORKER_BATCH` (100) and
/// `AFTERCARE_WORKER_CONCURRENCY` (8), checked against the lease that
/// `smtp_timeouts` give a worker.
pub(super) fn read(r: &mut Reader, smtp_timeouts: &SmtpTimeouts) -> Worker {
    let reminder_stale_hours = r.count("AFTERCARE_REMINDER_STALE_HOURS", 12, 24 * 14);
    let batch = r.count("AFTERCARE_WORKER_BATCH", 100, 10_000);
    let concurrency = r.count("AFTERCARE_WORKER_CONCURRENCY", 8, 64) as usize;
    // A worker that dies leaves its claim for one lease; a daily email
    // waiting longer than the stale rule's hours would be skipped.
    let lease = lease_for(smtp_timeouts.longest_send(1));
    if lease.as_secs() >= reminder_stale_hours as u64 * 3600 {
        r.error(format!(
            "AFTERCARE_SMTP_TIMEOUT_*: one email may take up to {} s, so a worker's lease is \
             {} s, as long as AFTERCARE_REMINDER_STALE_HOURS ({reminder_stale_hours}) or \
             longer: shorten the timeouts or allow more hours",
            smtp_timeouts.longest_send(1).as_secs(),
            lease.as_secs()
        ));
    }
    Worker {
        reminder_stale_hours,
        batch,
        concurrency,
    }
}

/// The lease a worker takes for a claim when one send may take up to
/// `longest_send`: half as long again, so that after a renewal missed (see
/// `jobs::lease::renew_every`) a send may still start with its whole time ahead.
pub fn lease_for(longest_send: std::time::Duration) -> std::time::Duration {
    longest_send * 3 / 2
}
