//! The audit log: who did what, when, from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::{insert_returning_id, DbConn};

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
    /// How many times it happened: 1, but for a patient's views of their link, counted per
    /// link, address and hour ([`count_in_hour`]).
    pub times: i64,
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
    super::execute_per_backend!(conn, diesel::insert_into(audit_log::table).values(entries))
}

/// Counts `entry` on the entry of the same action, subject, actor and address written in the
/// hour from `hour`: one more `times`, or `entry` written as that entry. Returns its id.
pub fn count_in_hour(conn: &mut DbConn, entry: &NewAudit, hour: NaiveDateTime) -> QueryResult<i64> {
    let existing = audit_log::table
        .filter(audit_log::subject.eq(entry.subject))
        .filter(audit_log::action.eq(entry.action))
        .filter(audit_log::actor.eq(entry.actor))
        .filter(audit_log::ip.eq(entry.ip))
        .filter(audit_log::at.ge(hour))
        .filter(audit_log::at.lt(hour + chrono::Duration::hours(1)))
        .order(audit_log::id.asc())
        .select(audit_log::id)
        .first::<i64>(conn)
        .optional()?;
    match existing {
        Some(id) => add_times(conn, id, 1).map(|_| id),
        None => insert_returning_id!(
            conn,
            diesel::insert_into(audit_log::table).values(entry),
            audit_log::id
        ),
    }
}

/// Adds `times` to an entry's count (views counted in memory since it was last written).
pub fn add_times(conn: &mut DbConn, id: i64, times: i64) -> QueryResult<usize> {
    diesel::update(audit_log::table.find(id))
        .set(audit_log::times.eq(audit_log::times + times))
        .execute(conn)
}

/// Which entries the admin's audit log shows; every part set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Part of who did it (their email, or "patient link" and the like), any case.
    pub actor: Option<String>,
    /// The action exactly, "patient.created".
    pub action: Option<String>,
    /// About this patient: the subject "patient N", or a detail that is or starts with it
    /// ("patient N: …", how treatment entries name their patient).
    pub patient_id: Option<i64>,
    /// Part of the subject or the detail, any case (a patient's name as recorded).
    pub mentions: Option<String>,
    /// Written at or after this instant (UTC).
    pub from: Option<NaiveDateTime>,
    /// Written before this instant (UTC).
    pub until: Option<NaiveDateTime>,
}

diesel::define_sql_function! {
    /// Lower case, for matching without regard to case on both backends (SQLite's LIKE
    /// ignores ASCII case, PostgreSQL's does not).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `%part%`, lower case, with LIKE's wildcards in `part` taken literally (escape `\\`).
fn containing(part: &str) -> String {
    super::like_pattern(&part.to_lowercase())
}

fn filtered(filter: &Filter) -> audit_log::BoxedQuery<'static, <DbConn as Connection>::Backend> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(lower(audit_log::actor).like(containing(actor)).escape('\\'));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(id) = filter.patient_id {
        let named = format!("patient {id}");
        query = query.filter(
            audit_log::subject
                .eq(named.clone())
                .or(audit_log::detail.eq(named.clone()))
                .or(audit_log::detail.like(format!("{named}:%"))),
        );
    }
    if let Some(part) = &filter.mentions {
        let pattern = containing(part);
        query = query.filter(
            lower(audit_log::subject)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(audit_log::detail).like(pattern).escape('\\')),
        );
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::at.lt(until));
    }
    query
}

/// The newest entries first (what the tests read back).
#[cfg(feature = "test-support")]
pub fn page(conn: &mut DbConn, offset: i64, limit: i64) -> QueryResult<Vec<AuditRow>> {
    page_where(conn, &Filter::default(), offset, limit)
}

/// The entries `filter` lets through, newest first.
pub fn page_where(
    conn: &mut DbConn,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    filtered(filter)
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

pub fn count_where(conn: &mut DbConn, filter: &Filter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn)
}

/// Every action the log holds, alphabetically (the filter's choices).
pub fn actions(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action.asc())
        .load(conn)
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
