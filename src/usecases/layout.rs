//! Use case: what every signed-in page's layout reads from the database, in the session's one
//! trip: the check-ins waiting (the navigation's count) and how the clinic writes dates.

use super::accounts::{self, User};
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

/// The layout for this user: the count is of their own locations' check-ins.
pub fn layout(conn: &mut DbConn, user: &User) -> AppResult<Layout> {
    let sites = accounts::sites_of(conn, user)?;
    Ok(Layout {
        attention: checkins::open_count(conn, &sites)?,
        locale: clinic::locale(conn)?,
    })
}
