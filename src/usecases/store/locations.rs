//! The clinic's locations, and which of them each user works at.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{clinic, locations, reminders, treatments, user_locations};
use super::DbConn;

/// A location's row: its id, what its form sets, and whether it is closed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = locations)]
pub struct LocationRow {
    pub id: i64,
    #[diesel(embed)]
    pub fields: LocationFields,
    pub closed_at: Option<NaiveDateTime>,
}

/// What a location's form sets.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = locations)]
pub struct LocationFields {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub opening_hours: String,
    pub out_of_hours: String,
    pub emergency_number: String,
    pub time_zone: String,
    pub send_hour: i32,
    pub sender_email: String,
    pub reply_to: String,
    pub reply_days: i32,
}

pub fn get(conn: &mut DbConn, id: i64) -> QueryResult<Option<LocationRow>> {
    locations::table
        .find(id)
        .select(LocationRow::as_select())
        .first(conn)
        .optional()
}

/// Every location, open ones first, each group in the order they were made.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<LocationRow>> {
    let mut rows: Vec<LocationRow> = locations::table
        .select(LocationRow::as_select())
        .order(locations::id)
        .load(conn)?;
    rows.sort_by_key(|r| r.closed_at.is_some());
    Ok(rows)
}

/// The first location: the one a single-site clinic's settings edit.
pub fn first_id(conn: &mut DbConn) -> QueryResult<i64> {
    locations::table
        .select(locations::id)
        .order(locations::id)
        .first(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    locations::table.count().get_result(conn)
}

/// Adds a location, and counts a new version of the clinic's settings (with a second
/// location every sheet names its own).
pub fn insert(conn: &mut DbConn, row: &LocationFields, now: NaiveDateTime) -> QueryResult<i64> {
    let id = diesel::insert_into(locations::table)
        .values((
            row,
            locations::created_at.eq(now),
            locations::updated_at.eq(now),
        ))
        .returning(locations::id)
        .get_result(conn)?;
    new_version(conn)?;
    Ok(id)
}

/// Saves a location, and counts a new version of the clinic's settings (every sheet of the
/// location shows its lines).
pub fn update(
    conn: &mut DbConn,
    id: i64,
    row: &LocationFields,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let n = diesel::update(locations::table.find(id))
        .set((row, locations::updated_at.eq(now)))
        .execute(conn)?;
    new_version(conn)?;
    Ok(n)
}

/// A new version of what sheets are made from: cached sheets are made again.
fn new_version(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::update(clinic::table.find(1))
        .set(clinic::version.eq(clinic::version + 1))
        .execute(conn)
}

pub fn set_closed(
    conn: &mut DbConn,
    id: i64,
    closed_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(locations::table.find(id))
        .set((
            locations::closed_at.eq(closed_at),
            locations::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(user_locations::table.filter(user_locations::location_id.eq(id)))
        .execute(conn)?;
    let n = diesel::delete(locations::table.find(id)).execute(conn)?;
    new_version(conn)?;
    Ok(n)
}

/// How many treatments (deleted ones too: their records stay) were recorded at a location.
pub fn treatment_count(conn: &mut DbConn, id: i64) -> QueryResult<i64> {
    treatments::table
        .filter(treatments::location_id.eq(id))
        .count()
        .get_result(conn)
}

/// Pending reminder emails by location.
pub fn pending_by_location(conn: &mut DbConn) -> QueryResult<Vec<(i64, i64)>> {
    reminders::table
        .inner_join(treatments::table)
        .filter(reminders::status.eq("pending"))
        .group_by(treatments::location_id)
        .select((treatments::location_id, diesel::dsl::count_star()))
        .load(conn)
}
