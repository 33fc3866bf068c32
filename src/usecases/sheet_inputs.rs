//! Whether anything a patient's sheet is made from changed in this process.
//!
//! The patient's link trusts a sheet's versions for a moment after reading
//! them (`web::sheet_cache::VERSIONS_FRESH_FOR`). Every use case that changes
//! what a sheet shows, or whether its link opens (a treatment edited or
//! deleted, a patient edited or erased, the clinic's settings), calls
//! [`changed`] once its transaction is committed, so any view in this process
//! after that reads the versions again. One count for the whole process: a
//! change to one sheet makes every sheet's versions be read again once, which
//! costs one small read each; staff save far less often than patients look.

use std::sync::atomic::{AtomicU64, Ordering};

static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Call after committing a change to what a sheet shows or whether its link opens.
pub fn changed() {
    CHANGES.fetch_add(1, Ordering::SeqCst);
}

/// How many such changes this process has committed: two equal readings mean none between.
pub fn changes() -> u64 {
    CHANGES.load(Ordering::SeqCst)
}
