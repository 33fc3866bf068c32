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
