//! The clinic's details (one row).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::clinic;
use super::DbConn;
use crate::documents::clinic::{Clinic, Zone};

/// The clinic's row as diesel reads it; the use cases get a [`Clinic`].
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clinic)]
struct ClinicRow {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub opening_hours: String,
    pub out_of_hours: String,
    #[diesel(deserialize_as = String)]
    pub time_zone: Zone,
    pub send_hour: i32,
    pub sender_email: String,
    pub configured: bool,
    pub emergency_number: String,
    #[diesel(deserialize_as = String)]
    pub locale: crate::dates::Locale,
}

impl From<ClinicRow> for Clinic {
    fn from(row: ClinicRow) -> Clinic {
        Clinic {
            name: row.name,
            phone: row.phone,
            email: row.email,
            address: row.address,
            opening_hours: row.opening_hours,
            out_of_hours: row.out_of_hours,
            time_zone: row.time_zone,
            send_hour: row.send_hour,
            sender_email: row.sender_email,
            configured: row.configured,
            emergency_number: row.emergency_number,
            locale: row.locale,
        }
    }
}

pub fn get(conn: &mut DbConn) -> QueryResult<Clinic> {
    clinic::table
        .find(1)
        .select(ClinicRow::as_select())
        .get_result::<ClinicRow>(conn)
        .map(Clinic::from)
}

/// Saves the clinic's details and its reply time (working days).
pub fn save(
    conn: &mut DbConn,
    row: &Clinic,
    reply_days: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(clinic::table.find(1))
        .set((
            clinic::reply_days.eq(reply_days),
            clinic::name.eq(&row.name),
            clinic::phone.eq(&row.phone),
            clinic::email.eq(&row.email),
            clinic::address.eq(&row.address),
            clinic::opening_hours.eq(&row.opening_hours),
            clinic::out_of_hours.eq(&row.out_of_hours),
            clinic::time_zone.eq(row.time_zone.name()),
            clinic::send_hour.eq(row.send_hour),
            clinic::sender_email.eq(&row.sender_email),
            clinic::configured.eq(true),
            clinic::emergency_number.eq(&row.emergency_number),
            clinic::locale.eq(row.locale.as_str()),
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

/// How many working days the clinic takes to answer a check-in that waits for a reply.
pub fn reply_days(conn: &mut DbConn) -> QueryResult<i32> {
    clinic::table
        .find(1)
        .select(clinic::reply_days)
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
