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

use std::sync::mpsc;

use chrono::NaiveDateTime;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::usecases::audit::Actor;
use crate::usecases::store::{self, audit::NewAudit, write_tx, Pool};

/// At most this many rows in one transaction.
const MAX_BATCH: usize = 256;

/// One audit row, owned, on its way to the writer.
#[derive(Debug)]
pub struct AuditEntry {
    pub at: NaiveDateTime,
    pub actor: Actor,
    pub action: &'static str,
    pub subject: String,
}

struct Pending {
    entry: AuditEntry,
    committed: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer thread; it ends once every `AuditWriter` clone is
    /// dropped and the rows already queued are written.
    pub fn start(pool: Pool) -> std::io::Result<AuditWriter> {
        let (queue, incoming) = mpsc::channel();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_batches(&pool, &incoming))?;
        Ok(AuditWriter { queue })
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
        self.queue
            .send(Pending { entry, committed })
            .map_err(|_| stopped())?;
        Ok(QueuedAudit(on_commit))
    }
}

/// An audit row on its way to the database.
#[must_use = "a page is shown only once its audit row is committed"]
pub struct QueuedAudit(oneshot::Receiver<Result<(), String>>);

impl QueuedAudit {
    /// Returns once the row is committed, or with the database's error.
    pub async fn committed(self) -> AppResult<()> {
        self.0
            .await
            .map_err(|_| stopped())?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("could not write the audit log: {e}")))
    }
}

fn stopped() -> AppError {
    AppError::Internal(anyhow::anyhow!("the audit writer has stopped"))
}

fn write_batches(pool: &Pool, incoming: &mpsc::Receiver<Pending>) {
    while let Ok(first) = incoming.recv() {
        let mut batch = vec![first];
        batch.extend(incoming.try_iter().take(MAX_BATCH - 1));
        let outcome = write(pool, &batch).map_err(|e| format!("{e:#}"));
        if let Err(e) = &outcome {
            tracing::error!(error = %e, rows = batch.len(), "could not write audit rows");
        }
        for pending in batch {
            // The request may have gone (client disconnected); the row is written all the same.
            let _ = pending.committed.send(outcome.clone());
        }
    }
}

fn write(pool: &Pool, batch: &[Pending]) -> anyhow::Result<()> {
    let rows: Vec<NewAudit> = batch
        .iter()
        .map(|Pending { entry, .. }| {
            entry
                .actor
                .audit_row(entry.action, &entry.subject, "", entry.at)
        })
        .collect();
    let mut conn = pool.get()?;
    write_tx(&mut conn, |c| store::audit::insert_all(c, &rows))?;
    Ok(())
}
