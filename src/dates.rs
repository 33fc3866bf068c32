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

/// How the clinic writes dates and times: day-month and the 24-hour clock (en-GB, the
/// default), or month-day and the 12-hour clock (en-US). Each form below names both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en-GB")]
    EnGb,
    #[serde(rename = "en-US")]
    EnUs,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::EnGb, Locale::EnUs];

    /// Its tag, as stored and as the settings form sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::EnGb => "en-GB",
            Locale::EnUs => "en-US",
        }
    }

    /// What the settings form calls it.
    pub fn label(self) -> &'static str {
        match self {
            Locale::EnGb => "English (UK): Friday 27 March 2026, 14:30",
            Locale::EnUs => "English (US): Friday, March 27, 2026, 2:30 PM",
        }
    }

    pub fn parse(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == tag)
    }

    fn pick(self, gb: &'static str, us: &'static str) -> &'static str {
        match self {
            Locale::EnGb => gb,
            Locale::EnUs => us,
        }
    }

    /// "Friday 27 March 2026" / "Friday, March 27, 2026"
    pub fn long_date(self, day: impl Wall) -> String {
        show(day, self.pick("%A %-d %B %Y", "%A, %B %-d, %Y"))
    }

    /// "Fri 27 Mar" / "Fri, Mar 27"
    pub fn short_date(self, day: impl Wall) -> String {
        show(day, self.pick("%a %-d %b", "%a, %b %-d"))
    }

    /// "27 March 2026" / "March 27, 2026"
    pub fn date(self, day: impl Wall) -> String {
        show(day, self.pick("%-d %B %Y", "%B %-d, %Y"))
    }

    /// "14:30" / "2:30 PM"
    pub fn time(self, at: impl Wall) -> String {
        show(at, self.pick("%H:%M", "%-I:%M %p"))
    }

    /// "Fri 27 Mar 2026, 14:30" / "Fri, Mar 27, 2026, 2:30 PM": staff pages' times.
    pub fn moment(self, at: impl Wall) -> String {
        show(
            at,
            self.pick("%a %-d %b %Y, %H:%M", "%a, %b %-d, %Y, %-I:%M %p"),
        )
    }

    /// "Friday 27 March 2026, 14:30" / "Friday, March 27, 2026, 2:30 PM": a page's heading.
    pub fn long_moment(self, at: impl Wall) -> String {
        show(
            at,
            self.pick("%A %-d %B %Y, %H:%M", "%A, %B %-d, %Y, %-I:%M %p"),
        )
    }

    /// "Fri 27 Mar, 14:30" / "Fri, Mar 27, 2:30 PM": within the weeks of one treatment, the
    /// year goes without saying.
    pub fn short_moment(self, at: impl Wall) -> String {
        show(at, self.pick("%a %-d %b, %H:%M", "%a, %b %-d, %-I:%M %p"))
    }

    /// A stored UTC time on the clock of `zone`, as [`Locale::moment`].
    pub fn local_moment(self, utc: NaiveDateTime, zone: Tz) -> String {
        self.moment(utc.and_utc().with_timezone(&zone))
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Locale {
    type Error = String;
    fn try_from(tag: String) -> Result<Locale, String> {
        Locale::parse(&tag).ok_or_else(|| format!("unknown locale {tag:?}"))
    }
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
        let gb = Locale::EnGb;
        assert_eq!(gb.long_date(at.date()), "Friday 27 March 2026");
        assert_eq!(gb.short_date(at), "Fri 27 Mar");
        // Templates hold some by reference (`if let Some(at) = …`).
        let held: Vec<&NaiveDateTime> = vec![&at];
        assert_eq!(
            held.into_iter().map(|d| gb.date(d)).collect::<Vec<_>>(),
            ["27 March 2026"]
        );
        assert_eq!(gb.time(at), "14:30");
        assert_eq!(gb.moment(zoned), "Fri 27 Mar 2026, 14:30");
        assert_eq!(gb.long_moment(zoned), "Friday 27 March 2026, 14:30");
        assert_eq!(gb.short_moment(at), "Fri 27 Mar, 14:30");
        assert_eq!(utc_stamp(at), "2026-03-27 14:30:05");
        assert_eq!(iso_utc(at.and_utc()), "2026-03-27T14:30:05Z");
        // After the clocks go forward (29 March), London is an hour ahead of UTC.
        let summer = at + chrono::Duration::days(7);
        assert_eq!(
            gb.local_moment(summer, chrono_tz::Europe::London),
            "Fri 3 Apr 2026, 15:30"
        );
    }

    #[test]
    fn a_us_clinic_reads_month_first_and_the_12_hour_clock() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(9, 5, 0)
            .unwrap();
        let us = Locale::EnUs;
        assert_eq!(us.long_date(at), "Friday, December 4, 2026");
        assert_eq!(us.short_date(at), "Fri, Dec 4");
        assert_eq!(us.date(at), "December 4, 2026");
        assert_eq!(us.time(at), "9:05 AM");
        assert_eq!(us.time(at + chrono::Duration::hours(12)), "9:05 PM");
        assert_eq!(us.moment(at), "Fri, Dec 4, 2026, 9:05 AM");
        assert_eq!(us.long_moment(at), "Friday, December 4, 2026, 9:05 AM");
        assert_eq!(us.short_moment(at), "Fri, Dec 4, 9:05 AM");
        assert_eq!(Locale::parse("en-US"), Some(us));
        assert_eq!(Locale::parse("fr-FR"), None);
    }
}
