//! Audit rows that stand alone (a sheet was opened), written by group commit.
//!
//! Every opening of a sheet, by staff or by the patient's link, is audited.
//! Written one by one, each view was a write transaction of its own, and on
//! SQLite every sheet request queued for the one writer (BENCHMARKS.md, F7).
//! Here each request hands its row to one writer thread and waits until the
//! row is committed; the thread writes whatever has arrived meanwhile in one
//! transaction. A burst of views costs one commit, and no page is served
//! before its audit row is stored. Rows that belong to a change (a treatment
//! recorded, a user deactivated) are still written in that change's own
//! transaction, by `audit::audit`.
//!
//! A patient's views of their own link are counted rather than listed
//! ([`AuditWriter::count_view`]): one entry per link, address and hour, its
//! `times` the number of views (issue #24: a row per view cost a 304 as much
//! as a whole sheet). The first view of an hour waits for its entry as any
//! row does; later ones add to a count in memory, which the writer adds to
//! the entry within [`COUNT_EVERY`]. So the log always holds each hour a link
//! was opened in, and from where; a crash loses at most the last half
//! second's repeat views from the counts.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Timelike};
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::usecases::audit::Actor;
use crate::usecases::store::{self, audit::NewAudit, write_tx, Pool};

/// At most this many rows in one transaction.
const MAX_BATCH: usize = 256;

/// How long views counted in memory wait before the writer adds them to their entries.
pub const COUNT_EVERY: Duration = Duration::from_millis(500);

/// One audit row, owned, on its way to the writer.
#[derive(Debug)]
pub struct AuditEntry {
    pub at: NaiveDateTime,
    pub actor: Actor,
    pub action: &'static str,
    pub subject: String,
}

impl AuditEntry {
    fn row(&self) -> NewAudit<'_> {
        self.actor
            .audit_row(self.action, &self.subject, "", self.at)
    }
}

type Committed = oneshot::Sender<Result<(), String>>;

enum Pending {
    /// A row of its own.
    Row(AuditEntry, Committed),
    /// A view this process has no entry for yet: added to its hour's entry, or the entry written.
    FirstView(AuditEntry, Committed),
    /// Views were counted in memory: add them to their entries soon.
    Counted,
}

/// Which entry a view is counted on: the same who, what, about what and from where, in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ViewKey {
    action: &'static str,
    subject: String,
    actor: String,
    ip: String,
    /// The start of the hour (UTC).
    hour: NaiveDateTime,
}

impl ViewKey {
    fn of(entry: &AuditEntry) -> ViewKey {
        let at = entry.at;
        ViewKey {
            action: entry.action,
            subject: entry.subject.clone(),
            actor: entry.actor.label.clone(),
            ip: entry.actor.ip.clone(),
            hour: at.date().and_time(chrono::NaiveTime::MIN)
                + chrono::Duration::hours(at.hour().into()),
        }
    }
}

/// The entries views are counted on, and the views not yet added to them.
#[derive(Default)]
struct ViewCounts {
    /// By key: the entry's id and how many views it is yet to be given.
    entries: HashMap<ViewKey, (i64, i64)>,
    /// Whether the writer has been told that views wait.
    told: bool,
}

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
    views: Arc<Mutex<ViewCounts>>,
}

fn locked(views: &Mutex<ViewCounts>) -> MutexGuard<'_, ViewCounts> {
    views.lock().unwrap_or_else(|e| e.into_inner())
}

impl AuditWriter {
    /// Starts the writer thread; it ends once every `AuditWriter` clone is
    /// dropped and the rows already queued, and the views counted, are written.
    pub fn start(pool: Pool) -> std::io::Result<AuditWriter> {
        let (queue, incoming) = mpsc::channel();
        let views = Arc::new(Mutex::new(ViewCounts::default()));
        let counts = views.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_until_stopped(&pool, &incoming, &counts))?;
        Ok(AuditWriter { queue, views })
    }

    /// Returns once the row is committed, or with the database's error.
    pub async fn record(&self, entry: AuditEntry) -> AppResult<()> {
        self.enqueue(entry)?.committed().await
    }

    /// Hands the row to the writer and returns at once, so a request can do
    /// its own work while the row is being committed; it awaits
    /// [`QueuedAudit::committed`] before it shows anything.
    pub fn enqueue(&self, entry: AuditEntry) -> AppResult<QueuedAudit> {
        let (committed, on_commit) = oneshot::channel();
        self.send(Pending::Row(entry, committed))?;
        Ok(QueuedAudit(Some(on_commit)))
    }

    /// A view counted on its hour's entry (see the module's notes). The first
    /// this process sees of an hour is queued like [`AuditWriter::enqueue`];
    /// later ones are counted in memory, and their [`QueuedAudit`] is done.
    pub fn count_view(&self, entry: AuditEntry) -> AppResult<QueuedAudit> {
        let key = ViewKey::of(&entry);
        let mut views = locked(&self.views);
        if let Some((_, uncounted)) = views.entries.get_mut(&key) {
            *uncounted += 1;
            let tell = !std::mem::replace(&mut views.told, true);
            drop(views);
            if tell {
                self.send(Pending::Counted)?;
            }
            return Ok(QueuedAudit(None));
        }
        drop(views);
        let (committed, on_commit) = oneshot::channel();
        self.send(Pending::FirstView(entry, committed))?;
        Ok(QueuedAudit(Some(on_commit)))
    }

    fn send(&self, pending: Pending) -> AppResult<()> {
        self.queue.send(pending).map_err(|_| stopped())
    }
}

/// An audit row on its way to the database (or a view already counted).
#[must_use = "a page is shown only once its audit row is committed"]
pub struct QueuedAudit(Option<oneshot::Receiver<Result<(), String>>>);

impl QueuedAudit {
    /// Returns once the row is committed, or with the database's error.
    pub async fn committed(self) -> AppResult<()> {
        let Some(on_commit) = self.0 else {
            return Ok(());
        };
        on_commit
            .await
            .map_err(|_| stopped())?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("could not write the audit log: {e}")))
    }
}

fn stopped() -> AppError {
    AppError::Internal(anyhow::anyhow!("the audit writer has stopped"))
}

fn write_until_stopped(pool: &Pool, incoming: &mpsc::Receiver<Pending>, views: &Mutex<ViewCounts>) {
    // When the views counted in memory are next added to their entries. Real time, not the
    // app's clock: this paces the writer, it is not a time anything is stored at.
    let mut counts_due: Option<Instant> = None;
    loop {
        let next = match counts_due {
            None => incoming
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(due) => incoming.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(first) => {
                let mut batch = vec![first];
                batch.extend(incoming.try_iter().take(MAX_BATCH - 1));
                if batch.iter().any(|p| matches!(p, Pending::Counted)) {
                    counts_due.get_or_insert_with(|| Instant::now() + COUNT_EVERY);
                }
                write_batch(pool, views, batch);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                write_counts(pool, views);
                return;
            }
        }
        if counts_due.is_some_and(|due| Instant::now() >= due) {
            // Tried again a little later when the database refused them.
            counts_due = (!write_counts(pool, views)).then(|| Instant::now() + COUNT_EVERY);
        }
    }
}

fn write_batch(pool: &Pool, views: &Mutex<ViewCounts>, batch: Vec<Pending>) {
    let mut rows = Vec::new();
    let mut first_views = Vec::new();
    let mut waiting = Vec::new();
    for pending in &batch {
        match pending {
            Pending::Row(entry, _) => rows.push(entry.row()),
            Pending::FirstView(entry, _) => first_views.push((ViewKey::of(entry), entry.row())),
            Pending::Counted => {}
        }
    }
    let outcome = write(pool, &rows, &first_views).map_err(|e| format!("{e:#}"));
    match &outcome {
        Ok(counted) => {
            let mut views = locked(views);
            for (key, id) in counted {
                views.entries.entry(key.clone()).or_insert((*id, 0));
            }
        }
        Err(e) => tracing::error!(error = %e, rows = batch.len(), "could not write audit rows"),
    }
    for pending in batch {
        if let Pending::Row(_, committed) | Pending::FirstView(_, committed) = pending {
            waiting.push(committed);
        }
    }
    let outcome = outcome.map(|_| ());
    for committed in waiting {
        // The request may have gone (client disconnected); the row is written all the same.
        let _ = committed.send(outcome.clone());
    }
}

/// Writes the rows, and counts each first view on its hour's entry; returns those entries' ids.
fn write(
    pool: &Pool,
    rows: &[NewAudit],
    first_views: &[(ViewKey, NewAudit)],
) -> anyhow::Result<Vec<(ViewKey, i64)>> {
    let mut conn = pool.get()?;
    let counted = write_tx(&mut conn, |c| {
        store::audit::insert_all(c, rows)?;
        first_views
            .iter()
            .map(|(key, row)| {
                let id = store::audit::count_in_hour(c, row, key.hour)?;
                Ok((key.clone(), id))
            })
            .collect::<Result<Vec<_>, store::DbError>>()
    })?;
    Ok(counted)
}

/// Adds the views counted in memory to their entries, and forgets the entries of hours
/// that have passed. False when the database refused them (they are kept for the next try).
fn write_counts(pool: &Pool, views: &Mutex<ViewCounts>) -> bool {
    let counts: Vec<(ViewKey, i64, i64)> = {
        let mut views = locked(views);
        views.told = false;
        let newest = views.entries.keys().map(|k| k.hour).max();
        views
            .entries
            .retain(|key, (_, uncounted)| *uncounted > 0 || Some(key.hour) == newest);
        views
            .entries
            .iter_mut()
            .filter(|(_, (_, uncounted))| *uncounted > 0)
            .map(|(key, (id, uncounted))| (key.clone(), *id, std::mem::take(uncounted)))
            .collect()
    };
    if counts.is_empty() {
        return true;
    }
    let written = pool
        .get()
        .map_err(anyhow::Error::from)
        .and_then(|mut conn| {
            write_tx(&mut conn, |c| {
                for (_, id, times) in &counts {
                    store::audit::add_times(c, *id, *times)?;
                }
                Ok::<_, store::DbError>(())
            })
            .map_err(anyhow::Error::from)
        });
    match written {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), entries = counts.len(), "could not count views in the audit log");
            let mut views = locked(views);
            for (key, id, times) in counts {
                views.entries.entry(key).or_insert((id, 0)).1 += times;
            }
            false
        }
    }
}
