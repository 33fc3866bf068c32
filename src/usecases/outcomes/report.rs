//! The Outcomes page and its CSV: the period's figures, whole and broken down, each count from
//! 1 to 4 shown as "fewer than 5" so that no patient can be singled out. Each view and each
//! download is in the audit log.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::DepthBand;
use crate::care::Protocol;
use crate::error::{AppResult, FieldErrors};
use crate::usecases::accounts;
use crate::usecases::audit::{audit, Actor};
use crate::usecases::clinic;
use crate::usecases::store::outcomes::{self as store, Breakdown, GroupCounts, GroupTimes};
use crate::usecases::store::{write_tx, DbConn};
use crate::usecases::triage::Triage;

/// The period when none is asked for: the last 90 days, today included.
pub const DEFAULT_DAYS: i64 = 90;
/// What a count from 1 to 4 shows as.
pub const FEWER_THAN_5: &str = "fewer than 5";
const DATE_HELP: &str = "Enter a date as YYYY-MM-DD, like 2026-12-05.";

/// The period as typed (`?from=&to=`); empty means the default.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct OutcomesQuery {
    pub from: String,
    pub to: String,
}

/// One count as shown: `value` is `None` when it is hidden ("fewer than 5").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub value: Option<i64>,
    pub text: String,
}

impl Cell {
    fn count(n: i64) -> Cell {
        if (1..5).contains(&n) {
            Cell {
                value: None,
                text: FEWER_THAN_5.into(),
            }
        } else {
            Cell {
                value: Some(n),
                text: n.to_string(),
            }
        }
    }
}

/// A group's figures, ready to show.
#[derive(Debug, Clone)]
pub struct Figures {
    pub label: String,
    pub treatments: Cell,
    pub checkins: Cell,
    /// The share of treatments with at least one check-in, in whole percent (hidden when
    /// fewer than 5 treatments had one).
    pub with_checkin: Cell,
    pub share_text: String,
    /// Check-ins by triage result, in [`Triage::ALL`]'s order.
    pub by_result: Vec<Cell>,
    /// From a check-in to its acknowledgement.
    pub median: String,
    pub p90: String,
    pub unsubscribes: Cell,
    pub emails_failed: Cell,
}

/// One breakdown: its title and its groups.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: &'static str,
    pub rows: Vec<Figures>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub query: OutcomesQuery,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The dates that could not be read (then every figure is empty).
    pub errors: FieldErrors,
    pub all: Option<Figures>,
    pub sections: Vec<Section>,
}

impl Report {
    /// The column headings of the triage results.
    pub fn result_headings(&self) -> Vec<&'static str> {
        Triage::ALL.iter().map(|t| heading(*t)).collect()
    }
}

/// A triage result as a column heading.
pub fn heading(t: Triage) -> &'static str {
    match t {
        Triage::Normal => "As expected",
        other => other.label(),
    }
}

/// The period `query` asks for, or the errors of its fields.
fn period(query: &OutcomesQuery, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut date = |field: &str, typed: &str, default: NaiveDate| -> NaiveDate {
        let typed = typed.trim();
        if typed.is_empty() {
            return default;
        }
        NaiveDate::parse_from_str(typed, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.add(field, DATE_HELP);
            default
        })
    };
    let to = date("to", &query.to, today);
    let from = date("from", &query.from, to - Duration::days(DEFAULT_DAYS - 1));
    if errors.is_empty() && to < from {
        errors.add("to", "The last date is before the first: swap them.");
    }
    if errors.is_empty() {
        Ok((from, to))
    } else {
        Err(errors)
    }
}

/// The figures for the period `query` asks for, as of `now` (UTC); the view is audited as
/// `action` ("outcomes.viewed", "outcomes.downloaded"). Dates that cannot be read give a
/// report with its errors and no figures (nothing is audited then).
pub fn report(
    conn: &mut DbConn,
    protocol: &Protocol,
    actor: &Actor,
    query: &OutcomesQuery,
    action: &str,
    now: NaiveDateTime,
) -> AppResult<Report> {
    let zone = clinic::get(conn)?.time_zone.tz();
    let today = now.and_utc().with_timezone(&zone).date_naive();
    let (from, to) = match period(query, today) {
        Ok(p) => p,
        Err(errors) => {
            return Ok(Report {
                query: query.clone(),
                from: today,
                to: today,
                errors,
                all: None,
                sections: Vec::new(),
            })
        }
    };
    write_tx(conn, |c| {
        audit(
            c,
            actor,
            action,
            "outcomes",
            &format!("{from} to {to}"),
            now,
        )
    })?;
    let names: Vec<(String, String)> = accounts::list_users(conn)?
        .into_iter()
        .map(|u| (u.id.to_string(), u.name))
        .collect();
    let label = |by: Breakdown, key: &str| -> String {
        match by {
            Breakdown::All | Breakdown::Dims => "All treatments".into(),
            Breakdown::ProtocolVersion => format!("Protocol version {key}"),
            Breakdown::DepthBand => DepthBand::parse(key).map_or(key.into(), |b| b.label().into()),
            Breakdown::Area => protocol.area(key).map_or(key.into(), |a| a.label.clone()),
            Breakdown::AddOn => protocol
                .add_ons()
                .iter()
                .find(|a| a.id == key)
                .map_or(key.into(), |a| a.label.clone()),
            Breakdown::Practitioner => names
                .iter()
                .find(|(id, _)| id == key)
                .map_or(format!("user {key}"), |(_, name)| name.clone()),
        }
    };
    // The treatment's own dimensions in one scan, summed per breakdown here; on SQLite their
    // times in one list too (PostgreSQL computes each breakdown's percentiles itself).
    let dims = store::counts(conn, Breakdown::Dims, from, to)?;
    let dim_times = if store::percentiles_in_sql(conn) {
        None
    } else {
        Some(store::times(conn, Breakdown::Dims, from, to)?)
    };
    let mut groups = |by: Breakdown| -> AppResult<Vec<Figures>> {
        let (counts, times) = match by {
            Breakdown::Area | Breakdown::AddOn | Breakdown::Dims => (
                store::counts(conn, by, from, to)?,
                store::times(conn, by, from, to)?,
            ),
            _ => {
                let times = match &dim_times {
                    Some(list) => roll_up_times(list, by),
                    None => store::times(conn, by, from, to)?,
                };
                (roll_up_counts(&dims, by), times)
            }
        };
        let mut rows: Vec<(String, Figures)> = counts
            .iter()
            .filter(|c| c.treatments > 0 || by == Breakdown::All)
            .map(|c| {
                let t = times.iter().find(|t| t.key == c.key);
                (c.key.clone(), figures(label(by, &c.key), c, t))
            })
            .collect();
        match by {
            Breakdown::DepthBand => rows.sort_by_key(|(k, _)| DepthBand::parse(k)),
            _ => rows.sort_by(|a, b| a.1.label.cmp(&b.1.label)),
        }
        Ok(rows.into_iter().map(|(_, f)| f).collect())
    };
    let all = groups(Breakdown::All)?.into_iter().next();
    let mut sections = Vec::new();
    for (title, by) in [
        ("By protocol version", Breakdown::ProtocolVersion),
        ("By depth band (deepest area)", Breakdown::DepthBand),
        ("By area", Breakdown::Area),
        ("By add-on", Breakdown::AddOn),
        ("By practitioner", Breakdown::Practitioner),
    ] {
        sections.push(Section {
            title,
            rows: groups(by)?,
        });
    }
    Ok(Report {
        // The form shows the period it shows.
        query: OutcomesQuery {
            from: from.to_string(),
            to: to.to_string(),
        },
        from,
        to,
        errors: FieldErrors::default(),
        all,
        sections,
    })
}

/// The part of a `Dims` key (`version|band|practitioner`) that `by` groups by.
fn part_of(key: &str, by: Breakdown) -> String {
    let mut parts = key.splitn(3, '|');
    let (version, band, practitioner) = (parts.next(), parts.next(), parts.next());
    match by {
        Breakdown::ProtocolVersion => version,
        Breakdown::DepthBand => band,
        Breakdown::Practitioner => practitioner,
        _ => None,
    }
    .unwrap_or_default()
    .to_string()
}

/// `Dims` counts summed into the groups of `by` (the whole period always has its row).
fn roll_up_counts(dims: &[GroupCounts], by: Breakdown) -> Vec<GroupCounts> {
    let mut groups: std::collections::BTreeMap<String, GroupCounts> = Default::default();
    if by == Breakdown::All {
        groups.insert(String::new(), GroupCounts::default());
    }
    for d in dims {
        let key = part_of(&d.key, by);
        let g = groups.entry(key.clone()).or_insert_with(|| GroupCounts {
            key,
            ..GroupCounts::default()
        });
        g.treatments += d.treatments;
        g.with_checkin += d.with_checkin;
        g.checkins += d.checkins;
        g.emergency += d.emergency;
        g.call_now += d.call_now;
        g.tell_us += d.tell_us;
        g.to_review += d.to_review;
        g.as_expected += d.as_expected;
        g.emails_failed += d.emails_failed;
        g.unsubscribed += d.unsubscribed;
    }
    groups.into_values().collect()
}

/// `Dims` times (SQLite: every time) gathered into the groups of `by`, each in order.
fn roll_up_times(dims: &[GroupTimes], by: Breakdown) -> Vec<GroupTimes> {
    let mut groups: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for d in dims {
        groups
            .entry(part_of(&d.key, by))
            .or_default()
            .extend(&d.seconds);
    }
    groups
        .into_iter()
        .map(|(key, mut seconds)| {
            seconds.sort_by(f64::total_cmp);
            GroupTimes {
                key,
                answered: seconds.len() as i64,
                seconds,
                ..GroupTimes::default()
            }
        })
        .collect()
}

fn figures(label: String, c: &GroupCounts, times: Option<&GroupTimes>) -> Figures {
    let with_checkin = Cell::count(c.with_checkin);
    let share_text = match with_checkin.value {
        None => FEWER_THAN_5.to_string(),
        Some(_) if c.treatments == 0 => "–".into(),
        Some(n) => format!("{}%", (n * 100 + c.treatments / 2) / c.treatments),
    };
    let with_checkin = Cell {
        value: with_checkin
            .value
            .filter(|_| c.treatments > 0)
            .map(|n| (n * 100 + c.treatments / 2) / c.treatments),
        text: share_text.clone(),
    };
    let (median, p90) = match times {
        None => ("–".to_string(), "–".to_string()),
        Some(t) if t.answered < 5 => (FEWER_THAN_5.into(), FEWER_THAN_5.into()),
        Some(t) => {
            let (m, p) = if t.seconds.is_empty() {
                (t.median, t.p90)
            } else {
                (percentile(&t.seconds, 0.5), percentile(&t.seconds, 0.9))
            };
            (duration_text(m), duration_text(p))
        }
    };
    Figures {
        label,
        treatments: Cell::count(c.treatments),
        checkins: Cell::count(c.checkins),
        with_checkin,
        share_text,
        by_result: [
            c.emergency,
            c.call_now,
            c.tell_us,
            c.to_review,
            c.as_expected,
        ]
        .into_iter()
        .map(Cell::count)
        .collect(),
        median,
        p90,
        unsubscribes: Cell::count(c.unsubscribed),
        emails_failed: Cell::count(c.emails_failed),
    }
}

/// PostgreSQL's `percentile_cont` over `sorted` (ascending): linear between the two
/// nearest ranks, so both backends give the same figure.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// "45 min", "3 h 20 min", "2 days 4 h".
fn duration_text(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else {
        return "–".into();
    };
    let minutes = (seconds / 60.0).round() as i64;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} {} {h} h", if d == 1 { "day" } else { "days" }),
    }
}

/// The report as CSV: one line per group of every breakdown, the cells as the page shows them.
pub fn csv(report: &Report) -> String {
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    };
    let mut head = vec![
        "Breakdown".to_string(),
        "Group".into(),
        "Treatments".into(),
        "With a check-in".into(),
        "Check-ins".into(),
    ];
    head.extend(report.result_headings().iter().map(|h| h.to_string()));
    head.extend([
        "Median time to acknowledge".to_string(),
        "90th percentile time to acknowledge".into(),
        "Unsubscribes".into(),
        "Emails failed".into(),
    ]);
    line(head);
    let all = report.all.iter().map(|f| ("All", f));
    let parts = report
        .sections
        .iter()
        .flat_map(|s| s.rows.iter().map(move |f| (s.title, f)));
    for (title, f) in all.chain(parts) {
        let mut cells = vec![
            title.to_string(),
            f.label.clone(),
            f.treatments.text.clone(),
            f.share_text.clone(),
            f.checkins.text.clone(),
        ];
        cells.extend(f.by_result.iter().map(|c| c.text.clone()));
        cells.extend([
            f.median.clone(),
            f.p90.clone(),
            f.unsubscribes.text.clone(),
            f.emails_failed.text.clone(),
        ]);
        line(cells);
    }
    out
}

/// One CSV field: quoted when it must be, and a leading `=`, `+`, `-` or `@` (a formula to a
/// spreadsheet) made text.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_hidden() {
        assert_eq!(Cell::count(0).text, "0");
        assert_eq!(Cell::count(1).text, FEWER_THAN_5);
        assert_eq!(Cell::count(4).value, None);
        assert_eq!(Cell::count(5).value, Some(5));
    }

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert!((percentile(&v, 0.9).unwrap() - 3.7).abs() < 1e-9);
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn periods_default_and_refuse_bad_dates() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let (from, to) = period(&OutcomesQuery::default(), today).unwrap();
        assert_eq!((to - from).num_days(), DEFAULT_DAYS - 1);
        let bad = OutcomesQuery {
            from: "yesterday".into(),
            to: String::new(),
        };
        assert!(period(&bad, today).unwrap_err().get("from").is_some());
        let swapped = OutcomesQuery {
            from: "2026-12-05".into(),
            to: "2026-12-01".into(),
        };
        assert!(period(&swapped, today).unwrap_err().get("to").is_some());
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(duration_text(Some(2700.0)), "45 min");
        assert_eq!(duration_text(Some(12_000.0)), "3 h 20 min");
    }
}
