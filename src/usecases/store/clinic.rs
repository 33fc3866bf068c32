//! The clinic's details (one row).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::clinic;
use super::DbConn;

/// The clinic's IANA time zone, parsed once when the row is read: a zone the
/// database holds but chrono-tz does not know is an error, never UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(name: String) -> Result<Zone, String> {
        name.parse()
            .map(Zone)
            .map_err(|_| format!("unknown time zone {name:?}"))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, serde::Deserialize, PartialEq)]
#[diesel(table_name = clinic)]
pub struct ClinicRow {
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
    /// Empty: the number for the clinic's time zone (see `clinic::emergency_number`).
    pub emergency_number: String,
    /// How its dates and times read (older copies of this row, as JSON, lack it: en-GB).
    #[diesel(deserialize_as = String)]
    #[serde(default)]
    pub locale: crate::dates::Locale,
}

pub fn get(conn: &mut DbConn) -> QueryResult<ClinicRow> {
    clinic::table
        .find(1)
        .select(ClinicRow::as_select())
        .get_result(conn)
}

/// Saves the clinic's details and its reply time (working days).
pub fn save(
    conn: &mut DbConn,
    row: &ClinicRow,
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
