//! How the protocol's hours and days become moments of one treatment: counted from the
//! treatment instant, stretched by the healing factor, shown on the clinic's clock.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::schedule::utc_to_local;

use super::input::Resolved;
use super::types::Moment;

/// An instant as the clinic's clock shows it.
pub(super) fn moment(tz: Tz, utc: DateTime<Utc>) -> Moment {
    Moment {
        local: utc_to_local(tz, utc),
        utc,
    }
}

/// The first day's length: an offset within it stays within it when stretched.
const FIRST_DAY_HOURS: i64 = 24;

/// Hours stretched by the healing factor. Every boundary goes through this same function, so
/// phases stay contiguous, and it never shrinks (factor >= 1) or reorders them. An offset within
/// the first 24 hours is stretched no further than 24 hours (review L4): the slower body skin
/// lengthens what comes after, while "the first day" never runs into day 2's email.
pub(super) fn stretch_hours(hours: u32, factor: f64) -> i64 {
    let stretched = (f64::from(hours) * factor).round() as i64;
    if i64::from(hours) <= FIRST_DAY_HOURS {
        stretched.min(FIRST_DAY_HOURS)
    } else {
        stretched
    }
}

/// The moment `hours` (stretched by the healing factor) after the treatment.
pub(super) fn at_hours(r: &Resolved, hours: u32) -> Moment {
    after_hours(r, stretch_hours(hours, r.healing_factor))
}

/// The moment `hours` (already stretched) after the treatment.
pub(super) fn after_hours(r: &Resolved, hours: i64) -> Moment {
    moment(r.tz, r.treated_utc + Duration::hours(hours))
}

pub(super) fn stretch_days(days: u32, factor: f64) -> u32 {
    (f64::from(days) * factor).round() as u32
}

/// The protocol and the input's year range bound every offset, so this cannot overflow.
pub(super) fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date + Days::new(u64::from(days))
}
