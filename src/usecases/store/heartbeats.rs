//! Reminder workers' heartbeats: one row per worker, stamped every round.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::worker_heartbeats as beats;
use super::DbConn;

/// Records that `worker` is alive at `now`. Each worker writes only its own
/// row, so the update-then-insert cannot race with another worker.
pub fn beat(conn: &mut DbConn, worker: &str, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(beats::table.find(worker))
        .set(beats::beat_at.eq(now))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(beats::table)
            .values((beats::worker.eq(worker), beats::beat_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// The most recent beat of any worker.
pub fn newest(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    beats::table
        .select(diesel::dsl::max(beats::beat_at))
        .get_result(conn)
}

/// Forgets workers that stopped beating before `cutoff` (restarted processes).
pub fn delete_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(beats::table.filter(beats::beat_at.lt(cutoff))).execute(conn)
}
