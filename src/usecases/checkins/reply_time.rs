//! The clinic's reply time: a number of working days (Monday to Friday, in the clinic's
//! zone) after a check-in, at the end of which the clinic is reminded once if nobody has
//! acknowledged it. Weekend time does not count: a check-in on Friday at 18:00 with one
//! working day is due on Monday at 18:00; one sent on Saturday counts from Monday 00:00.
//! Public holidays are not known to the app.

use chrono::{Datelike, Duration, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::Tz;

fn is_weekend(t: NaiveDateTime) -> bool {
    matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The next Monday at 00:00 (local), for a moment in a weekend.
fn next_monday(t: NaiveDateTime) -> NaiveDateTime {
    let mut day = t.date();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += Duration::days(1);
    }
    day.and_hms_opt(0, 0, 0).expect("midnight exists")
}

/// When a check-in sent at `sent` (UTC) is overdue: `days` working days later, in `tz`.
pub fn due_at(sent: NaiveDateTime, days: i32, tz: Tz) -> NaiveDateTime {
    let mut local = tz.from_utc_datetime(&sent).naive_local();
    if is_weekend(local) {
        local = next_monday(local);
    }
    for _ in 0..days.max(1) {
        local += Duration::days(1);
        if is_weekend(local) {
            // Monday at the same time of day: the weekend's two days are not counted.
            local += Duration::days(2);
        }
    }
    // A local time in a daylight-saving gap does not exist: an hour later does.
    let moment = tz
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map_or(local, |m| m.naive_utc());
    moment.max(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    const LONDON: Tz = chrono_tz::Europe::London;

    #[test]
    fn one_working_day_skips_the_weekend() {
        // 2026-12-04 is a Friday; London is on UTC in December.
        assert_eq!(
            due_at(at(2026, 12, 2, 10, 0), 1, LONDON),
            at(2026, 12, 3, 10, 0)
        );
        assert_eq!(
            due_at(at(2026, 12, 4, 18, 0), 1, LONDON),
            at(2026, 12, 7, 18, 0)
        );
        assert_eq!(
            due_at(at(2026, 12, 3, 18, 0), 2, LONDON),
            at(2026, 12, 7, 18, 0)
        );
        // Sent on Saturday: Monday counts from its start.
        assert_eq!(
            due_at(at(2026, 12, 5, 10, 0), 1, LONDON),
            at(2026, 12, 8, 0, 0)
        );
        assert_eq!(
            due_at(at(2026, 12, 6, 23, 30), 5, LONDON),
            at(2026, 12, 14, 0, 0)
        );
    }

    #[test]
    fn working_days_are_the_clinics_own() {
        // Friday 23:30 UTC is already Saturday in Auckland (UTC+13): due Tuesday 00:00 there.
        let auckland = chrono_tz::Pacific::Auckland;
        assert_eq!(
            due_at(at(2026, 12, 4, 23, 30), 1, auckland),
            at(2026, 12, 7, 11, 0)
        );
    }

    #[test]
    fn a_daylight_saving_change_keeps_the_local_time() {
        // London goes to summer time on Sunday 29 March 2026: Friday 10:00 UTC (10:00
        // local) is due Monday 10:00 local, which is 09:00 UTC.
        assert_eq!(
            due_at(at(2026, 3, 27, 10, 0), 1, LONDON),
            at(2026, 3, 30, 9, 0)
        );
    }
}
