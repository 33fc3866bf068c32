//! The outbox page: what it lists (and a treatment's page), the counts, why nothing is going
//! out when the mail settings are wrong, and staff's Retry and Cancel.

use chrono::NaiveDateTime;

use super::view::{retry_action, Blocked, ReminderView, RetryAction};
use super::{Reason, Status, Timing};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::sites::Sites;
use crate::usecases::store::reminders::{self as store, OutboxFilter, OutboxOrder};
use crate::usecases::store::{write_tx, DbConn};

/// Why emails are not going out, when the mail settings are wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfigError {
    /// What the worker met, plainly: "the SMTP server's certificate is not
    /// trusted: …" or "the SMTP server refused the user name or password: …".
    pub message: String,
    /// When a worker last met it.
    pub seen_at: NaiveDateTime,
    /// How many emails are held until it is fixed.
    pub held: i64,
}

/// The current SMTP configuration error, if any (the outbox's banner and the
/// System page): the newest one a worker held an email for, unless an email
/// has gone out since (the settings were fixed).
pub fn smtp_config_error(conn: &mut DbConn) -> AppResult<Option<SmtpConfigError>> {
    let Some((message, seen_at, held)) = store::held_for_settings(conn)? else {
        return Ok(None);
    };
    let fixed_since = store::last_sent_at(conn)?.is_some_and(|sent| sent > seen_at);
    Ok((!fixed_since).then_some(SmtpConfigError {
        message,
        seen_at,
        held,
    }))
}

/// How many emails of treatments at these locations could not be sent (the start page's
/// warning).
pub fn failed_count(conn: &mut DbConn, sites: &Sites) -> AppResult<i64> {
    Ok(store::counts(conn, sites.ids())?
        .into_iter()
        .find(|(s, _)| *s == Status::Failed)
        .map_or(0, |(_, n)| n))
}

/// How many reminders are in each state, every state named (0 when none).
pub fn count_by_status(conn: &mut DbConn) -> AppResult<Vec<(Status, i64)>> {
    count_by_status_at(conn, &Sites::All)
}

/// How many reminders of these locations' treatments are in each state, every state named.
pub fn count_by_status_at(conn: &mut DbConn, sites: &Sites) -> AppResult<Vec<(Status, i64)>> {
    let counts = store::counts(conn, sites.ids())?;
    Ok(Status::ALL
        .into_iter()
        .map(|status| {
            let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |c| c.1);
            (status, n)
        })
        .collect())
}

pub const OUTBOX_PAGE_SIZE: i64 = 50;

/// Which emails the outbox lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboxView {
    /// What is still to go (pending, sending, or failed once and waiting to be tried
    /// again), soonest first: the desk's default.
    #[default]
    DueNext,
    /// Everything due on the clinic's today, whatever became of it, in the day's order.
    Today,
    /// Every email, newest first.
    All,
    /// The emails in one state, newest first.
    Only(Status),
}

impl OutboxView {
    /// The states "due next" lists: a failed attempt waiting for its retry is pending.
    pub const UNSENT: [Status; 2] = [Status::Pending, Status::Sending];
}

/// What the outbox page asks for: a view and the clinic's calendar days.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    pub view: OutboxView,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub page: i64,
    /// The locations whose treatments' emails it lists.
    pub sites: Sites,
}

pub struct OutboxPage {
    /// Why nothing is going out, shown above the list.
    pub config_error: Option<SmtpConfigError>,
    pub rows: Vec<ReminderView>,
    pub counts: Vec<(Status, i64)>,
    /// The clinic's calendar day now (the Today view's).
    pub today: chrono::NaiveDate,
    pub page: i64,
    pub has_more: bool,
}

impl OutboxPage {
    /// How many emails are in one of these states.
    pub fn count_of(&self, statuses: &[Status]) -> i64 {
        self.counts
            .iter()
            .filter(|(s, _)| statuses.contains(s))
            .map(|(_, n)| n)
            .sum()
    }
}

impl OutboxPage {
    /// Whether its rows name their locations (the clinic has several): each row's times are
    /// then on its own location's clock.
    pub fn names_locations(&self) -> bool {
        self.rows.iter().any(|r| !r.location.is_empty())
    }
}

pub fn outbox_page(conn: &mut DbConn, query: &OutboxQuery, at: Timing) -> AppResult<OutboxPage> {
    // Day filters are the calendar days of the one location shown, else the first's.
    let tz = match query.sites.ids() {
        Some(&[one]) => crate::usecases::clinic::for_location(conn, one)?.zone(),
        _ => crate::usecases::clinic::get(conn)?.zone(),
    };
    let today = at.now.and_utc().with_timezone(&tz).date_naive();
    let day_start =
        |d: chrono::NaiveDate| crate::care::schedule::at_local_hour(tz, d, 0).naive_utc();
    let (from, to) = match query.view {
        OutboxView::Today => (Some(today), Some(today)),
        _ => (query.from, query.to),
    };
    let (statuses, order) = match query.view {
        OutboxView::DueNext => (OutboxView::UNSENT.to_vec(), OutboxOrder::NextAttemptFirst),
        OutboxView::Today => (Vec::new(), OutboxOrder::EarliestFirst),
        OutboxView::All => (Vec::new(), OutboxOrder::NewestFirst),
        OutboxView::Only(status) => (vec![status], OutboxOrder::NewestFirst),
    };
    let filter = OutboxFilter {
        statuses,
        from: from.map(day_start),
        to: to.and_then(|d| d.succ_opt()).map(day_start),
        order,
        sites: query.sites.ids().map(<[i64]>::to_vec),
    };
    let page = query.page.max(1);
    let mut rows = store::outbox(
        conn,
        &filter,
        (page - 1) * OUTBOX_PAGE_SIZE,
        OUTBOX_PAGE_SIZE + 1,
    )?;
    let has_more = rows.len() as i64 > OUTBOX_PAGE_SIZE;
    rows.truncate(OUTBOX_PAGE_SIZE as usize);
    let counts = store::counts(conn, query.sites.ids())?;
    // Each email's times on its own location's clock, named when the clinic has several.
    let mut places = crate::usecases::clinic::Places::default();
    let rows = rows
        .into_iter()
        .map(|(row, patient, treatment_deleted, location)| {
            let blocked = if patient.is_erased() {
                Some(Blocked::PatientErased)
            } else if treatment_deleted {
                Some(Blocked::TreatmentDeleted)
            } else if !patient.can_be_emailed() {
                Some(Blocked::CannotBeEmailed)
            } else {
                None
            };
            let place = places.get(conn, location)?;
            Ok(ReminderView {
                location: place.location,
                ..ReminderView::new(row, patient.name, blocked, place.time_zone.tz(), at)
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(OutboxPage {
        config_error: smtp_config_error(conn)?,
        rows,
        counts,
        today,
        page,
        has_more,
    })
}

/// A treatment's reminders, in the zone it was recorded in.
pub fn for_treatment(
    conn: &mut DbConn,
    treatment_id: i64,
    patient: &str,
    tz: chrono_tz::Tz,
    at: Timing,
) -> AppResult<Vec<ReminderView>> {
    Ok(store::for_treatment(conn, treatment_id)?
        .into_iter()
        .map(|row| ReminderView::new(row, patient.to_string(), None, tz, at))
        .collect())
}

fn refused(message: &str) -> AppError {
    AppError::invalid("reminder", message)
}

/// Staff retry a failed, skipped or cancelled reminder: it goes back in the
/// queue at its own time, or now when that has passed and it is still current.
/// A reminder is never sent before its time.
pub fn retry(conn: &mut DbConn, actor: &Actor, id: i64, at: Timing) -> AppResult<RetryAction> {
    let now = at.now;
    write_tx(conn, |conn| {
        let (row, deliverable) = store::find_with_recipient(conn, id)?.ok_or(AppError::NotFound)?;
        if deliverable.treatment_deleted {
            return Err(refused(
                "This email's treatment was deleted, so it is not sent.",
            ));
        }
        if deliverable.patient_erased {
            return Err(refused(Blocked::PatientErased.note()));
        }
        if !deliverable.patient_can_be_emailed {
            return Err(refused(
                "This patient cannot be emailed (no consent, no email, or they unsubscribed).",
            ));
        }
        let only_these = "Only a failed, skipped or cancelled email can be tried again.";
        let action = retry_action(&row, at).ok_or_else(|| refused(only_these))?;
        let next_attempt_at = match action {
            RetryAction::Restore => row.send_at,
            RetryAction::SendNow => now,
            RetryAction::TooLate => {
                return Err(refused(&format!(
                    "Not sent: this is the email for day {} of healing, and that day has passed. \
                     Sent now it would give the patient the wrong day's advice; \
                     the email for today goes out as planned.",
                    row.day
                )))
            }
        };
        if store::requeue(conn, id, next_attempt_at, now)? == 0 {
            return Err(refused(only_these));
        }
        let detail = match action {
            RetryAction::Restore => "restored, to go at its own time",
            _ => "to be sent now",
        };
        audit(
            conn,
            actor,
            "reminder.retried",
            &format!("reminder {id}"),
            &format!("{}: {detail}", row.subject),
            now,
        )?;
        Ok(action)
    })
}

/// Staff cancel a pending or failed reminder.
pub fn cancel(conn: &mut DbConn, actor: &Actor, id: i64, now: NaiveDateTime) -> AppResult<()> {
    write_tx(conn, |conn| {
        let row = store::find(conn, id)?.ok_or(AppError::NotFound)?;
        let reason = Reason::CancelledBy(actor.label.clone());
        let from = [Status::Pending, Status::Failed];
        if store::cancel(conn, id, &from, &reason, now)? == 0 {
            return Err(refused("Only a pending or failed email can be cancelled."));
        }
        audit(
            conn,
            actor,
            "reminder.cancelled",
            &format!("reminder {id}"),
            &row.subject,
            now,
        )
    })
}
