//! Local wall-clock times in the clinic's zone → UTC instants, with one rule for daylight saving.
//!
//! A local time can be missing (clocks jump forward) or repeated (clocks go back). Reminders are
//! "at the send hour local time", so each such case needs a defined answer:
//! - **skipped** (e.g. 02:30 on the spring-forward night in America/New_York, 01:30 in
//!   Europe/London, 02:00 in Australia/Lord_Howe where the jump is 30 minutes): the first instant
//!   after the gap, i.e. the moment the clocks change (03:00, 02:00, 02:30 local respectively). The
//!   email goes out as soon as that local hour is "over", never an hour early.
//! - **repeated** (01:30 on the fall-back night in New York): the earlier of the two instants, so
//!   the email is not an hour late.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// The longest real gap is a whole skipped day (Pacific/Apia, 2011-12-30); search past it.
const MAX_GAP_MINUTES: i64 = 48 * 60;

/// The UTC instant of a local wall-clock time, by the module's rule for skipped and repeated
/// times.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let instant = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(earlier, _) => earlier,
        // Gaps start and end on whole minutes in every zone this app can meet, so the first
        // valid minute after `local` is the end of the gap.
        LocalResult::None => match (1..=MAX_GAP_MINUTES).find_map(|m| {
            tz.from_local_datetime(&(local + Duration::minutes(m)))
                .earliest()
        }) {
            Some(t) => t,
            // Unreachable with real zone data; reading the time as UTC beats a panic.
            None => return local.and_utc(),
        },
    };
    instant.with_timezone(&Utc)
}

/// `hour`:00 local on `date`, as a UTC instant (see [`local_to_utc`] for DST).
pub fn at_local_hour(tz: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    local_to_utc(tz, date.and_time(time))
}

/// Every change of the zone's offset from UTC after `from` and up to `to` (daylight saving, or
/// a zone changing its standard time): the first minute on the new clock, and how many minutes
/// the clocks moved (+60 forward, -60 back). Zones change at most a few times a year, so an
/// hourly walk finds each one, and halving narrows it to the minute.
pub fn offset_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, i32)> {
    let offset = |t: DateTime<Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let mut changes = Vec::new();
    let (mut at, mut before) = (from, offset(from));
    while at < to {
        let next = (at + Duration::hours(1)).min(to);
        let after = offset(next);
        if after != before {
            let (mut old, mut new) = (at, next);
            while new - old > Duration::minutes(1) {
                let mid = old + (new - old) / 2;
                if offset(mid) == before {
                    old = mid;
                } else {
                    new = mid;
                }
            }
            changes.push((new, (after - before) / 60));
            before = after;
        }
        at = next;
    }
    changes
}

/// The clinic's wall-clock time of a UTC instant (always exists and is unique).
pub fn utc_to_local(tz: Tz, utc: DateTime<Utc>) -> NaiveDateTime {
    utc.with_timezone(&tz).naive_local()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn ordinary_hours_map_to_their_offset() {
        let london: Tz = "Europe/London".parse().unwrap();
        assert_eq!(
            at_local_hour(london, date("2026-01-15"), 9),
            utc("2026-01-15T09:00:00Z")
        );
        assert_eq!(
            at_local_hour(london, date("2026-07-15"), 9),
            utc("2026-07-15T08:00:00Z")
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            at_local_hour(kolkata, date("2026-07-15"), 9),
            utc("2026-07-15T03:30:00Z")
        );
    }

    #[test]
    fn skipped_hour_moves_to_the_end_of_the_gap() {
        let new_york: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT, which is 07:00 UTC.
        assert_eq!(
            at_local_hour(new_york, date("2026-03-08"), 2),
            utc("2026-03-08T07:00:00Z")
        );
        let london: Tz = "Europe/London".parse().unwrap();
        // 2026-03-29: 01:00 GMT jumps to 02:00 BST, which is 01:00 UTC.
        assert_eq!(
            at_local_hour(london, date("2026-03-29"), 1),
            utc("2026-03-29T01:00:00Z")
        );
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        // 2026-10-04: 02:00 (+10:30) jumps to 02:30 (+11:00), which is 15:30 UTC the day before.
        assert_eq!(
            at_local_hour(lord_howe, date("2026-10-04"), 2),
            utc("2026-10-03T15:30:00Z")
        );
        assert_eq!(
            utc_to_local(lord_howe, utc("2026-10-03T15:30:00Z")).to_string(),
            "2026-10-04 02:30:00"
        );
    }

    #[test]
    fn repeated_hour_takes_the_earlier_instant() {
        let new_york: Tz = "America/New_York".parse().unwrap();
        // 2026-11-01: 01:00–02:00 happens twice, first in EDT (UTC-4).
        assert_eq!(
            at_local_hour(new_york, date("2026-11-01"), 1),
            utc("2026-11-01T05:00:00Z")
        );
        let london: Tz = "Europe/London".parse().unwrap();
        // 2026-10-25: 01:00–02:00 happens twice, first in BST (UTC+1).
        assert_eq!(
            at_local_hour(london, date("2026-10-25"), 1),
            utc("2026-10-25T00:00:00Z")
        );
    }

    #[test]
    fn offset_changes_finds_each_clock_change_with_its_direction() {
        let london: Tz = "Europe/London".parse().unwrap();
        // Spring forward 2026-03-29 at 01:00 UTC; fall back 2026-10-25 at 01:00 UTC.
        let changes = offset_changes(
            london,
            utc("2026-03-27T14:30:00Z"),
            utc("2026-11-01T00:00:00Z"),
        );
        assert_eq!(changes.len(), 2);
        let (forward, back) = (changes[0], changes[1]);
        assert_eq!(forward.1, 60);
        assert_eq!(back.1, -60);
        for (at, exact) in [
            (forward.0, utc("2026-03-29T01:00:00Z")),
            (back.0, utc("2026-10-25T01:00:00Z")),
        ] {
            assert!(at >= exact && at - exact <= Duration::minutes(1), "{at}");
        }
        assert!(offset_changes(
            london,
            utc("2026-04-01T00:00:00Z"),
            utc("2026-06-01T00:00:00Z")
        )
        .is_empty());
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        let half = offset_changes(
            lord_howe,
            utc("2026-10-01T00:00:00Z"),
            utc("2026-10-10T00:00:00Z"),
        );
        assert_eq!(half.iter().map(|c| c.1).collect::<Vec<_>>(), vec![30]);
    }

    #[test]
    fn a_whole_skipped_day_still_resolves() {
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        // Samoa skipped 2011-12-30 entirely: 9:00 that day becomes midnight on the 31st (+14:00).
        assert_eq!(
            at_local_hour(apia, date("2011-12-30"), 9),
            utc("2011-12-30T10:00:00Z")
        );
    }
}
