//! The audit log: who did what, when, from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAudit<'a> {
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
    pub ip: &'a str,
}

pub fn insert(conn: &mut DbConn, entry: &NewAudit) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
}

/// Many rows in one statement (the audit writer's batches).
pub fn insert_all(conn: &mut DbConn, entries: &[NewAudit]) -> QueryResult<usize> {
    if entries.is_empty() {
        return Ok(0);
    }
    crate::execute_per_backend!(conn, diesel::insert_into(audit_log::table).values(entries))
}

/// Newest first.
pub fn page(conn: &mut DbConn, offset: i64, limit: i64) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    audit_log::table.count().get_result(conn)
}

/// The entries about any of `subjects` ("patient 7", "treatment 12" …), oldest first.
pub fn about(conn: &mut DbConn, subjects: &[String]) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::subject.eq_any(subjects))
        .order(audit_log::id.asc())
        .select(AuditRow::as_select())
        .load(conn)
}

/// Replaces an entry's detail and address (an erasure's scrubbing).
pub fn rewrite(conn: &mut DbConn, id: i64, detail: &str, ip: &str) -> QueryResult<usize> {
    diesel::update(audit_log::table.find(id))
        .set((audit_log::detail.eq(detail), audit_log::ip.eq(ip)))
        .execute(conn)
}

/// Deletes up to `limit` of the oldest entries written before `cutoff`.
pub fn delete_before(conn: &mut DbConn, cutoff: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = audit_log::table
        .filter(audit_log::at.lt(cutoff))
        .order(audit_log::id.asc())
        .limit(limit)
        .select(audit_log::id)
        .load(conn)?;
    diesel::delete(audit_log::table.filter(audit_log::id.eq_any(ids))).execute(conn)
}
