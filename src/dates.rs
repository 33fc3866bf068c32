//! How dates and times read, wherever the app shows one: pages, the sheet,
//! emails. One place, so the same moment reads the same everywhere. Times are
//! shown as given (already on the clinic's clock), except [`local_moment`],
//! which takes a stored UTC time and a zone, and the UTC stamps of the admin
//! pages. (`care::text`, the plan as plain text for the command line, keeps
//! its own terse form.)
//!
//! Each function takes a date, a naive date-time or a zoned one (by value or
//! by reference, as templates hold them); a date alone reads as its midnight.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Something with a date and a wall-clock time.
pub trait Wall {
    fn wall(&self) -> NaiveDateTime;
}

impl Wall for NaiveDateTime {
    fn wall(&self) -> NaiveDateTime {
        *self
    }
}

impl Wall for NaiveDate {
    fn wall(&self) -> NaiveDateTime {
        self.and_time(chrono::NaiveTime::MIN)
    }
}

impl<Z: TimeZone> Wall for DateTime<Z> {
    fn wall(&self) -> NaiveDateTime {
        self.naive_local()
    }
}

impl<T: Wall + ?Sized> Wall for &T {
    fn wall(&self) -> NaiveDateTime {
        (**self).wall()
    }
}

fn show(at: impl Wall, format: &str) -> String {
    at.wall().format(format).to_string()
}

/// "Friday 27 March 2026"
pub fn long_date(day: impl Wall) -> String {
    show(day, "%A %-d %B %Y")
}

/// "Fri 27 Mar"
pub fn short_date(day: impl Wall) -> String {
    show(day, "%a %-d %b")
}

/// "27 March 2026"
pub fn date(day: impl Wall) -> String {
    show(day, "%-d %B %Y")
}

/// "14:30"
pub fn time(at: impl Wall) -> String {
    show(at, "%H:%M")
}

/// "Fri 27 Mar 2026, 14:30": staff pages' times.
pub fn moment(at: impl Wall) -> String {
    show(at, "%a %-d %b %Y, %H:%M")
}

/// "Friday 27 March 2026, 14:30": a page's heading.
pub fn long_moment(at: impl Wall) -> String {
    show(at, "%A %-d %B %Y, %H:%M")
}

/// "Fri 27 Mar, 14:30": within the weeks of one treatment, the year goes without saying.
pub fn short_moment(at: impl Wall) -> String {
    show(at, "%a %-d %b, %H:%M")
}

/// A stored UTC time on the clock of `zone`, as [`moment`].
pub fn local_moment(utc: NaiveDateTime, zone: Tz) -> String {
    moment(utc.and_utc().with_timezone(&zone))
}

/// "2026-03-27 14:30:05", for the admin pages, which show UTC.
pub fn utc_stamp(utc: impl Wall) -> String {
    show(utc, "%Y-%m-%d %H:%M:%S")
}

/// "2026-03-27T14:30:05Z": a `<time datetime>` attribute, or an instant the page's script reads.
pub fn iso_utc(utc: impl Wall) -> String {
    show(utc, "%Y-%m-%dT%H:%M:%SZ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_reads_as_documented() {
        let at = NaiveDate::from_ymd_opt(2026, 3, 27)
            .unwrap()
            .and_hms_opt(14, 30, 5)
            .unwrap();
        let zoned = at.and_utc().with_timezone(&chrono_tz::Europe::London);
        assert_eq!(long_date(at.date()), "Friday 27 March 2026");
        assert_eq!(short_date(at), "Fri 27 Mar");
        // Templates hold some by reference (`if let Some(at) = …`).
        let held: Vec<&NaiveDateTime> = vec![&at];
        assert_eq!(
            held.into_iter().map(date).collect::<Vec<_>>(),
            ["27 March 2026"]
        );
        assert_eq!(time(at), "14:30");
        assert_eq!(moment(zoned), "Fri 27 Mar 2026, 14:30");
        assert_eq!(long_moment(zoned), "Friday 27 March 2026, 14:30");
        assert_eq!(short_moment(at), "Fri 27 Mar, 14:30");
        assert_eq!(utc_stamp(at), "2026-03-27 14:30:05");
        assert_eq!(iso_utc(at.and_utc()), "2026-03-27T14:30:05Z");
        // After the clocks go forward (29 March), London is an hour ahead of UTC.
        let summer = at + chrono::Duration::days(7);
        assert_eq!(
            local_moment(summer, chrono_tz::Europe::London),
            "Fri 3 Apr 2026, 15:30"
        );
    }
}
