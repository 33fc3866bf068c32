//! The clinic's details (one row).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::clinic;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, serde::Deserialize, PartialEq)]
#[diesel(table_name = clinic)]
pub struct ClinicRow {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub opening_hours: String,
    pub out_of_hours: String,
    pub time_zone: String,
    pub send_hour: i32,
    pub sender_email: String,
    pub configured: bool,
    /// Empty: the number for the clinic's time zone (see `clinic::emergency_number`).
    pub emergency_number: String,
}

pub fn get(conn: &mut DbConn) -> QueryResult<ClinicRow> {
    clinic::table
        .find(1)
        .select(ClinicRow::as_select())
        .get_result(conn)
}

pub fn save(conn: &mut DbConn, row: &ClinicRow, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(clinic::table.find(1))
        .set((
            clinic::name.eq(&row.name),
            clinic::phone.eq(&row.phone),
            clinic::email.eq(&row.email),
            clinic::address.eq(&row.address),
            clinic::opening_hours.eq(&row.opening_hours),
            clinic::out_of_hours.eq(&row.out_of_hours),
            clinic::time_zone.eq(&row.time_zone),
            clinic::send_hour.eq(row.send_hour),
            clinic::sender_email.eq(&row.sender_email),
            clinic::configured.eq(true),
            clinic::emergency_number.eq(&row.emergency_number),
            clinic::updated_at.eq(now),
        ))
        .execute(conn)
}
