//! Use case: what every signed-in page's layout reads from the database, in the session's one
//! trip: the check-ins waiting (the navigation's count) and how the clinic writes dates.

use super::{checkins, clinic};
use crate::dates::Locale;
use crate::error::AppResult;
use crate::usecases::store::DbConn;

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Check-ins waiting for someone (the navigation's count).
    pub attention: i64,
    /// How the clinic writes dates and times.
    pub locale: Locale,
}

pub fn layout(conn: &mut DbConn) -> AppResult<Layout> {
    Ok(Layout {
        attention: checkins::open_count(conn)?,
        locale: clinic::locale(conn)?,
    })
}
