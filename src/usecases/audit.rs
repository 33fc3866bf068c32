//! The audit log: who did what, when and from where. Every use case that
//! changes something writes its row in its own transaction with [`audit`];
//! rows that stand alone (a sheet was opened) go through the audit writer (`audit_writer`).

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::care::schedule::at_local_hour;
use crate::error::{AppResult, FieldErrors};
use crate::usecases::store::{self, audit::AuditRow, audit::Filter, audit::NewAudit, DbConn};

/// Who did something, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub label: String,
    pub ip: String,
}

impl Actor {
    pub fn anonymous(label: &str, ip: &str) -> Actor {
        Actor {
            id: None,
            label: label.to_string(),
            ip: ip.to_string(),
        }
    }
}

impl Actor {
    /// The audit-log row for something this actor did.
    pub(in crate::usecases) fn audit_row<'a>(
        &'a self,
        action: &'a str,
        subject: &'a str,
        detail: &'a str,
        at: NaiveDateTime,
    ) -> NewAudit<'a> {
        NewAudit {
            at,
            actor_id: self.id,
            actor: &self.label,
            action,
            subject,
            detail,
            ip: &self.ip,
        }
    }
}

pub fn audit(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    store::audit::insert(conn, &actor.audit_row(action, subject, detail, now))?;
    Ok(())
}

/// The admin's filters, as typed in the query string (`?who=&what=&patient=&from=&to=&page=`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AuditQuery {
    // Links to other pages carry only the filters that are set.
    /// Part of who did it: an email, "patient link".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub who: String,
    /// The action exactly, chosen from those the log holds.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub what: String,
    /// A patient's number ("7", "patient 7") or part of what is recorded about them (their
    /// name as it was when the entry was written).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub patient: String,
    /// The first and last clinic date to show, YYYY-MM-DD (both included).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// The page, from 1 (one that is not a number is a bad request, as before the filters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
}

/// One entry as the page shows it, its time in the clinic's zone.
pub struct EntryView {
    pub entry: Entry,
    /// "2026-12-05 09:30:00 GMT": the clinic's wall clock and the zone's abbreviation.
    pub clinic_time: String,
    /// RFC 3339 in UTC, for `<time datetime>`.
    pub utc: String,
}

pub struct AuditPage {
    pub rows: Vec<EntryView>,
    pub page: i64,
    pub pages: i64,
    /// Entries the filters let through, over all pages.
    pub total: i64,
    /// The actions to filter by: every one the log holds.
    pub actions: Vec<String>,
    /// The clinic's zone, which every time on the page is in.
    pub zone: &'static str,
    /// Filters that could not be read, by field (then no entries are shown).
    pub errors: FieldErrors,
}

pub const AUDIT_PAGE_SIZE: i64 = 50;

const DATE_HELP: &str = "Enter a date as YYYY-MM-DD, like 2026-12-05.";

/// The store's filter for `query`, with clinic dates made UTC instants in `zone`, or the
/// errors of the fields that cannot be read.
fn filter_for(query: &AuditQuery, zone: Tz) -> Result<Filter, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut date = |field: &str, typed: &str| -> Option<NaiveDate> {
        let typed = typed.trim();
        if typed.is_empty() {
            return None;
        }
        NaiveDate::parse_from_str(typed, "%Y-%m-%d")
            .map_err(|_| errors.add(field, DATE_HELP))
            .ok()
    };
    let (from, to) = (date("from", &query.from), date("to", &query.to));
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            errors.add("to", "The last date is before the first: swap them.");
        }
    }
    errors.clone().into_result().map_err(|_| errors)?;
    let text = |typed: &str| Some(typed.trim().to_string()).filter(|t| !t.is_empty());
    let patient = text(&query.patient);
    let patient_id = patient.as_deref().and_then(patient_number);
    // A clinic date runs from its local midnight to the next (23 or 25 hours on a DST day).
    let midnight = |date: NaiveDate| at_local_hour(zone, date, 0).naive_utc();
    Ok(Filter {
        actor: text(&query.who),
        action: text(&query.what),
        patient_id,
        mentions: patient.filter(|_| patient_id.is_none()),
        from: from.map(midnight),
        until: to.and_then(|d| d.succ_opt()).map(midnight),
    })
}

/// "7", "#7" or "patient 7" name patient 7; anything else is part of a name.
fn patient_number(typed: &str) -> Option<i64> {
    let lower = typed.to_lowercase();
    let number = lower
        .strip_prefix("patient")
        .or_else(|| lower.strip_prefix('#'))
        .unwrap_or(&lower);
    number.trim().parse().ok().filter(|id: &i64| *id > 0)
}

/// A page of the audit log as `query` filters it, times in the clinic's `zone`.
pub fn audit_page(conn: &mut DbConn, zone: Tz, query: &AuditQuery) -> AppResult<AuditPage> {
    let actions = store::audit::actions(conn)?;
    let mut page = AuditPage {
        rows: Vec::new(),
        page: 1,
        pages: 1,
        total: 0,
        actions,
        zone: zone.name(),
        errors: FieldErrors::default(),
    };
    let filter = match filter_for(query, zone) {
        Ok(filter) => filter,
        Err(errors) => {
            page.errors = errors;
            return Ok(page);
        }
    };
    page.total = store::audit::count_where(conn, &filter)?;
    page.pages = ((page.total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    page.page = query.page.unwrap_or(1).clamp(1, page.pages);
    let offset = (page.page - 1) * AUDIT_PAGE_SIZE;
    page.rows = store::audit::page_where(conn, &filter, offset, AUDIT_PAGE_SIZE)?
        .into_iter()
        .map(|entry| EntryView {
            clinic_time: Utc
                .from_utc_datetime(&entry.at)
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            utc: crate::dates::iso_utc(entry.at),
            entry: entry.into(),
        })
        .collect();
    Ok(page)
}

/// One entry of the log: who did what, when, from where.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    /// When, UTC.
    pub at: NaiveDateTime,
    /// The user's id; none for a patient, the worker or a command.
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
    /// How many times it happened: 1, but for a patient's views of their link, counted per
    /// link, address and hour.
    pub times: i64,
}

impl From<AuditRow> for Entry {
    fn from(row: AuditRow) -> Entry {
        Entry {
            id: row.id,
            at: row.at,
            actor_id: row.actor_id,
            actor: row.actor,
            action: row.action,
            subject: row.subject,
            detail: row.detail,
            ip: row.ip,
            times: row.times,
        }
    }
}

/// The entries about any of `subjects` ("patient 7", "treatment 12" …), oldest first.
pub fn about(conn: &mut DbConn, subjects: &[String]) -> AppResult<Vec<Entry>> {
    let rows = store::audit::about(conn, subjects)?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Rewrites the entries about `subjects`: `scrub` gets each entry and answers its (detail,
/// address) as they should be. Returns how many changed.
pub fn scrub_about(
    conn: &mut DbConn,
    subjects: &[String],
    scrub: impl Fn(&Entry) -> (String, String),
) -> AppResult<usize> {
    let mut changed = 0;
    for entry in about(conn, subjects)? {
        let (detail, ip) = scrub(&entry);
        if detail != entry.detail || ip != entry.ip {
            changed += store::audit::rewrite(conn, entry.id, &detail, &ip)?;
        }
    }
    Ok(changed)
}

/// Deletes up to `limit` of the oldest entries written before `before` (the retention setting).
pub fn prune(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> AppResult<usize> {
    Ok(store::audit::delete_before(conn, before, limit)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: &str, to: &str) -> AuditQuery {
        AuditQuery {
            from: from.into(),
            to: to.into(),
            ..Default::default()
        }
    }

    #[test]
    fn clinic_dates_become_the_utc_instants_of_their_local_midnights() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let filter = filter_for(&query("2026-12-04", "2026-12-04"), la).unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(filter.from, Some(at("2026-12-04 08:00")));
        assert_eq!(filter.until, Some(at("2026-12-05 08:00")));
        // London's clocks went back on 25 October 2026: that day has 25 hours.
        let london: Tz = "Europe/London".parse().unwrap();
        let filter = filter_for(&query("2026-10-25", "2026-10-25"), london).unwrap();
        assert_eq!(filter.from, Some(at("2026-10-24 23:00")));
        assert_eq!(filter.until, Some(at("2026-10-26 00:00")));
    }

    #[test]
    fn unreadable_or_reversed_dates_are_named_by_field() {
        let utc: Tz = "UTC".parse().unwrap();
        let errors = filter_for(&query("5/12/2026", ""), utc).unwrap_err();
        assert_eq!(errors.msg("from"), DATE_HELP);
        assert_eq!(errors.msg("to"), "");
        let errors = filter_for(&query("2026-12-05", "2026-12-01"), utc).unwrap_err();
        assert!(errors.msg("to").contains("before the first"));
    }

    #[test]
    fn a_patient_is_named_by_number_or_by_part_of_a_name() {
        assert_eq!(patient_number("7"), Some(7));
        assert_eq!(patient_number("Patient 12"), Some(12));
        assert_eq!(patient_number("#3"), Some(3));
        assert_eq!(patient_number("Maya"), None);
        assert_eq!(patient_number("0"), None);
    }
}
