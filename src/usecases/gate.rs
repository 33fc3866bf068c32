//! Bounds on heavy work: a few jobs at a time on the blocking pool, a short
//! queue behind them, and a plain "busy" answer beyond that.
//!
//! A password hash takes 19 MiB and tens of milliseconds; decoding a photo
//! can take a hundred MiB and seconds. Run without a bound, a burst of either
//! grows the process until the machine swaps or the kernel kills it. A gate
//! lets `workers` jobs run at once and `queue` more wait; the next one is
//! refused at once with [`AppError::Busy`] (503 with `Retry-After`), so memory
//! stays near `workers` × one job whatever arrives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Makes every allocation of 1 MiB or more its own mapping, given back to
/// the system when freed. glibc otherwise raises that threshold to the
/// largest block freed so far, after which each of its arenas (up to eight
/// per core, one per thread that used it) keeps a freed 19 MiB argon2 block or
/// a decoded photo for good: 64 parallel sign-ins, two at a time through the
/// gate, still left the process at 608 MiB. Called once at start-up; a no-op
/// where the C library is not glibc.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        /// `M_MMAP_THRESHOLD` in glibc's `malloc.h`.
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        // SAFETY: `mallopt` only sets a tuning value of the allocator, and
        // glibc documents it as callable at any time.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
        }
    }
}

#[derive(Clone)]
pub struct Gate {
    what: &'static str,
    permits: Arc<Semaphore>,
    /// Jobs running or waiting.
    admitted: Arc<AtomicUsize>,
    limit: usize,
}

/// Counts a job admitted until it is dropped: when it ends, or when its
/// request is given up while it still waits.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// `workers` at once (at least 1), `queue` more waiting. `what` names the
    /// work in the busy page ("sign-ins", "photos").
    pub fn new(what: &'static str, workers: usize, queue: usize) -> Gate {
        let workers = workers.max(1);
        Gate {
            what,
            permits: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(AtomicUsize::new(0)),
            limit: workers + queue,
        }
    }

    /// Password hashing: one job per core, and sixteen per core waiting (a
    /// wait of under a second before the answer; waiting costs no memory).
    pub fn for_password_hashing() -> Gate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Gate::new("sign-ins", cores, 16 * cores)
    }

    /// Photo decoding: two at a time, a few waiting.
    pub fn for_photos() -> Gate {
        Gate::new("photo uploads", 2, 4)
    }

    /// Jobs running or waiting now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Runs `job` on the blocking pool when a worker is free, or refuses at
    /// once when the queue is full. The job keeps its place until it ends,
    /// even if the request that asked for it is given up.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let admitted = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .map(|_| Admitted(self.admitted.clone()))
            .map_err(|_| self.busy())?;
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| self.busy())?;
        tokio::task::spawn_blocking(move || {
            let _held = (permit, admitted);
            job()
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))
    }

    fn busy(&self) -> AppError {
        tracing::warn!(what = self.what, "refused: too much heavy work at once");
        AppError::Busy(format!(
            "The clinic's server is busy with other {} right now. Nothing was saved. Please try again in a few seconds.",
            self.what
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_workers_and_the_queue_the_answer_is_busy() {
        let gate = Gate::new("tests", 1, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let running = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(move || wait.recv().unwrap()).await })
        };
        while gate.admitted() < 1 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(|| 7).await })
        };
        while gate.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.run(|| 0).await, Err(AppError::Busy(_))));
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 7);
        assert_eq!(gate.admitted(), 0);
        assert_eq!(gate.run(|| 1).await.unwrap(), 1);
    }
}
