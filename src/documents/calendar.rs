//! Calendar files (RFC 5545) from a stored plan: the next-session window, and
//! the day each skincare active may come back. Pure: the same plan gives the
//! same bytes (DTSTAMP is the treatment's time), so a calendar app that
//! imports one twice updates its events by their stable UIDs.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::care::Plan;

/// The address of the next-session file, beside the patient's sheet link.
pub fn next_session_url(sheet_url: &str) -> String {
    format!("{sheet_url}/next-session.ics")
}

/// The address of the skincare file, beside the patient's sheet link.
pub fn actives_url(sheet_url: &str) -> String {
    format!("{sheet_url}/actives.ics")
}

/// The file names the patient link serves, as `next_session_url` and `actives_url` end.
pub const NEXT_SESSION_FILE: &str = "next-session.ics";
pub const ACTIVES_FILE: &str = "actives.ics";

/// Who the events are from: the clinic's name, and the domain their UIDs live in.
pub struct Origin<'a> {
    pub treatment_id: i64,
    pub clinic_name: &'a str,
    /// The clinic's sender address; its domain makes the UIDs global.
    pub sender: &'a str,
}

impl Origin<'_> {
    fn uid(&self, what: &str) -> String {
        let domain = self
            .sender
            .rsplit_once('@')
            .map_or("aftercare.invalid", |(_, d)| d);
        format!("treatment-{}-{what}@{domain}", self.treatment_id)
    }
}

/// The window to book the next session in: one all-day event over its days
/// (dates, not times: any hour of those days will do).
pub fn next_session(plan: &Plan, origin: &Origin) -> String {
    let tz = plan.time_zone;
    let ns = &plan.next_session;
    let event = Event {
        uid: origin.uid("next-session"),
        summary: format!("Book your next session at {}", origin.clinic_name),
        description: ns.note.clone(),
        when: When::Days(ns.from, ns.to + Duration::days(1)),
    };
    calendar(plan, tz, ns.from, ns.to, &[event])
}

/// One short event per active, at the clinic's sending hour on its first day,
/// in the clinic's zone.
pub fn actives(plan: &Plan, origin: &Origin) -> String {
    let tz = plan.time_zone;
    let events: Vec<Event> = plan
        .actives
        .iter()
        .map(|a| Event {
            uid: origin.uid(&a.key),
            summary: format!("{} can come back", a.name),
            description: a.how.clone(),
            when: When::At(a.from.and_hms_opt(plan.send_hour, 0, 0).unwrap_or_default()),
        })
        .collect();
    let first = plan.actives.iter().map(|a| a.from).min();
    let last = plan.actives.iter().map(|a| a.from).max();
    let today = plan.treated_at.local.date();
    calendar(
        plan,
        tz,
        first.unwrap_or(today),
        last.unwrap_or(today),
        &events,
    )
}

enum When {
    /// All-day, from the first day up to (not including) the second.
    Days(NaiveDate, NaiveDate),
    /// Local wall-clock time in the calendar's zone, 15 minutes long.
    At(NaiveDateTime),
}

struct Event {
    uid: String,
    summary: String,
    description: String,
    when: When,
}

fn calendar(plan: &Plan, tz: Tz, from: NaiveDate, to: NaiveDate, events: &[Event]) -> String {
    let stamp = plan.treated_at.utc.format("%Y%m%dT%H%M%SZ").to_string();
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//Aftercare//Aftercare sheet//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-TIMEZONE:{}", tz.name()),
    ];
    let start = from.min(plan.treated_at.local.date());
    lines.extend(vtimezone(tz, start, to));
    for e in events {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}", e.uid));
        lines.push(format!("DTSTAMP:{stamp}"));
        match e.when {
            When::Days(first, end) => {
                lines.push(format!("DTSTART;VALUE=DATE:{}", first.format("%Y%m%d")));
                lines.push(format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
                lines.push("TRANSP:TRANSPARENT".into());
            }
            When::At(local) => {
                let fmt = "%Y%m%dT%H%M%S";
                let end = local + Duration::minutes(15);
                lines.push(format!("DTSTART;TZID={}:{}", tz.name(), local.format(fmt)));
                lines.push(format!("DTEND;TZID={}:{}", tz.name(), end.format(fmt)));
            }
        }
        lines.push(format!("SUMMARY:{}", escape(&e.summary)));
        if !e.description.is_empty() {
            lines.push(format!("DESCRIPTION:{}", escape(&e.description)));
        }
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in lines {
        fold(&line, &mut out);
    }
    out
}

/// TEXT values escape backslash, semicolon, comma and newlines (RFC 5545 3.3.11).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Lines end in CRLF and fold before 75 octets, never inside a character (3.1).
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// What the zone is at a UTC instant: offset (seconds), abbreviation, summer time.
fn offset_at(tz: Tz, at: DateTime<Utc>) -> (i32, String, bool) {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    let name = o.abbreviation().unwrap_or("").to_string();
    (
        o.fix().local_minus_utc(),
        name,
        o.dst_offset() != Duration::zero(),
    )
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}{:02}", s / 3600, (s / 60) % 60)
}

/// The zone's definition over the days the events use, with each change of
/// offset written out (no RRULE, so no rule to get wrong): what the offset is
/// at the start, then every transition up to the end.
fn vtimezone(tz: Tz, from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let begin = Utc.from_utc_datetime(&(from - Duration::days(1)).and_hms_opt(0, 0, 0).unwrap());
    let end = Utc.from_utc_datetime(&(to + Duration::days(2)).and_hms_opt(0, 0, 0).unwrap());
    let mut lines = vec!["BEGIN:VTIMEZONE".to_string(), format!("TZID:{}", tz.name())];
    let component =
        |lines: &mut Vec<String>, at: DateTime<Utc>, before: i32, after: &(i32, String, bool)| {
            let kind = if after.2 { "DAYLIGHT" } else { "STANDARD" };
            let local = at.naive_utc() + Duration::seconds(before.into());
            lines.push(format!("BEGIN:{kind}"));
            lines.push(format!("DTSTART:{}", local.format("%Y%m%dT%H%M%S")));
            lines.push(format!("TZOFFSETFROM:{}", utc_offset(before)));
            lines.push(format!("TZOFFSETTO:{}", utc_offset(after.0)));
            if !after.1.is_empty() && !after.1.starts_with(['+', '-']) {
                lines.push(format!("TZNAME:{}", after.1));
            }
            lines.push(format!("END:{kind}"));
        };
    let first = offset_at(tz, begin);
    component(&mut lines, begin, first.0, &first);
    // Day by day, then by halving within the day that changed: offsets change
    // at most a few times a year, never twice in a day.
    let mut day = begin;
    let mut current = first;
    while day < end {
        let next = day + Duration::days(1);
        let after = offset_at(tz, next);
        if after.0 != current.0 || after.2 != current.2 {
            // Whole minutes: zones change on the minute.
            let same = |m: i64| {
                let o = offset_at(tz, day + Duration::minutes(m));
                o.0 == current.0 && o.2 == current.2
            };
            let (mut lo, mut hi) = (0, 24 * 60);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if same(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = day + Duration::minutes(hi);
            component(&mut lines, hi, current.0, &after);
            current = after;
        }
        day = next;
    }
    lines.push("END:VTIMEZONE".into());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::care::{compute_plan, sample_input, Protocol};

    fn origin() -> Origin<'static> {
        Origin {
            treatment_id: 7,
            clinic_name: "Glow, Clinic",
            sender: "aftercare@glow.example",
        }
    }

    #[test]
    fn a_london_window_across_the_clock_change_has_both_offsets() {
        let plan = compute_plan(&Protocol::default_protocol(), &sample_input()).unwrap();
        let ics = actives(&plan, &origin());
        assert!(ics.contains("TZID:Europe/London\r\n"), "{ics}");
        assert!(ics.contains("UID:treatment-7-active-"), "{ics}");
        assert!(ics.lines().all(|l| l.len() <= 76), "{ics}");
        let ns = next_session(&plan, &origin());
        assert!(
            ns.contains("SUMMARY:Book your next session at Glow\\, Clinic\r\n"),
            "{ns}"
        );
        assert!(ns.contains(&format!(
            "DTSTART;VALUE=DATE:{}\r\n",
            plan.next_session.from.format("%Y%m%d")
        )));
    }

    #[test]
    fn transitions_are_found_to_the_minute() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let lines = vtimezone(chrono_tz::Europe::London, d("2026-03-01"), d("2026-11-30"));
        let text = lines.join("\n");
        // 29 March 2026 01:00 GMT → BST; 25 October 2026 02:00 BST → GMT.
        assert!(text.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T010000\nTZOFFSETFROM:+0000\nTZOFFSETTO:+0100\nTZNAME:BST"), "{text}");
        assert!(text.contains("BEGIN:STANDARD\nDTSTART:20261025T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0000\nTZNAME:GMT"), "{text}");
    }
}
