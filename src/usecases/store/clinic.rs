//! What the clinic's locations share (one row): its name, how dates read, retention.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::clinic;
use super::DbConn;

/// What the clinic's locations share, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clinic)]
pub struct ClinicRow {
    pub name: String,
    pub configured: bool,
    pub locale: String,
}

pub fn get(conn: &mut DbConn) -> QueryResult<ClinicRow> {
    clinic::table
        .find(1)
        .select(ClinicRow::as_select())
        .get_result(conn)
}

/// Saves what the locations share, and counts a new version of the clinic's settings.
pub fn save(conn: &mut DbConn, name: &str, locale: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(clinic::table.find(1))
        .set((
            clinic::name.eq(name),
            clinic::configured.eq(true),
            clinic::locale.eq(locale),
            clinic::updated_at.eq(now),
            clinic::version.eq(clinic::version + 1),
        ))
        .execute(conn)
}

/// How the clinic writes dates, as stored ("en-GB", "en-US").
pub fn locale(conn: &mut DbConn) -> QueryResult<String> {
    clinic::table
        .find(1)
        .select(clinic::locale)
        .get_result(conn)
}

/// How long records are kept, in days; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = clinic, treat_none_as_null = true)]
pub struct RetentionRow {
    /// The audit log, by the age of each entry.
    pub audit_retention_days: Option<i32>,
    /// Finished reminder emails, counted from their plan's last one.
    pub email_retention_days: Option<i32>,
    /// Check-in photos, by when the patient sent them.
    pub photo_retention_days: i32,
}

pub fn retention(conn: &mut DbConn) -> QueryResult<RetentionRow> {
    clinic::table
        .find(1)
        .select(RetentionRow::as_select())
        .get_result(conn)
}

pub fn save_retention(
    conn: &mut DbConn,
    row: &RetentionRow,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(clinic::table.find(1))
        .set((row, clinic::updated_at.eq(now)))
        .execute(conn)
}
