//! The email outbox (front desk and admins), the preview of a reminder, and
//! the patient's one-click unsubscribe.

use actix_web::http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Auth, FrontDesk, Policy, SignedIn};
use super::sites::{site_filter, LocationQuery, SiteFilter};
use super::{client_ip, render, AppState};
use crate::error::{AppError, AppResult};
use crate::mail::reminder::PreviewBar;
use crate::usecases::reminders::{self, OutboxPage, OutboxView, RetryAction, Status};

#[derive(Deserialize, Default)]
pub(super) struct OutboxQuery {
    /// `today` or `all`; empty for "due next" (unless a status is chosen).
    #[serde(default)]
    view: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    page: Option<i64>,
    /// Which locations' emails (see `sites`).
    #[serde(default)]
    location: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxTemplate {
    ctx: PageCtx,
    outbox: OutboxPage,
    query: OutboxQuery,
    view: OutboxView,
    statuses: [Status; 6],
    filter: SiteFilter,
}

impl OutboxTemplate {
    fn count(&self, status: &Status) -> i64 {
        self.outbox.count_of(&[*status])
    }
    fn due_next_count(&self) -> i64 {
        self.outbox.count_of(&OutboxView::UNSENT)
    }
    fn total(&self) -> i64 {
        self.outbox.count_of(&Status::ALL)
    }
    fn is_due_next(&self) -> bool {
        self.view == OutboxView::DueNext
    }
    fn is_today(&self) -> bool {
        self.view == OutboxView::Today
    }
    /// This page's list with another view (`today`, `all`), status or page.
    fn link(&self, view: &str, status: &str, page: &i64) -> String {
        let q = &self.query;
        let page = page.to_string();
        let mut params = vec![("view", view), ("status", status)];
        if view != "today" {
            params.extend([("from", q.from.as_str()), ("to", q.to.as_str())]);
        }
        params.push(("location", q.location.as_str()));
        params.push(("page", &page));
        params.retain(|(_, value)| !value.is_empty());
        format!(
            "/outbox?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    }
    /// The same list on another page (and where a button brings the user back).
    fn page_link(&self, page: &i64) -> String {
        self.link(&self.query.view, &self.query.status, page)
    }
}

fn parse_day(text: &str, field: &str) -> AppResult<Option<NaiveDate>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("The {field} date must look like 2026-11-25.")))
}

pub(super) async fn outbox(
    auth: Auth<FrontDesk>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let unknown = |what: &str| AppError::BadRequest(format!("Unknown {what} filter."));
    let view = match (query.view.as_str(), query.status.as_str()) {
        ("", "") => OutboxView::DueNext,
        ("today", "") => OutboxView::Today,
        ("all", "") => OutboxView::All,
        ("", name) => OutboxView::Only(Status::parse(name).ok_or_else(|| unknown("status"))?),
        _ => return Err(unknown("view")),
    };
    let location = LocationQuery {
        location: query.location.clone(),
    };
    let mut filter = site_filter(&state, auth.user(), &location).await?;
    filter.keep = [("view", &query.view), ("status", &query.status)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    let asked = reminders::OutboxQuery {
        view,
        sites: filter.sites.clone(),
        from: parse_day(&query.from, "from")?,
        to: parse_day(&query.to, "to")?,
        page: query.page.unwrap_or(1),
    };
    let at = state.timing();
    let outbox = state
        .db(move |conn| reminders::outbox_page(conn, &asked, at))
        .await?;
    render(&OutboxTemplate {
        ctx,
        outbox,
        query,
        view,
        statuses: Status::ALL,
        filter,
    })
}

#[derive(Deserialize)]
pub(super) struct ReturnTo {
    #[serde(default)]
    back: String,
}

async fn outbox_action(
    req: HttpRequest,
    auth: Auth<FrontDesk>,
    state: web::Data<AppState>,
    id: i64,
    back: String,
    is_retry: bool,
) -> AppResult<HttpResponse> {
    let actor = auth.user().actor(&client_ip(&req));
    let at = state.timing();
    let result = state
        .db(move |conn| {
            if is_retry {
                reminders::retry(conn, &actor, id, at).map(Some)
            } else {
                reminders::cancel(conn, &actor, id, at.now).map(|()| None)
            }
        })
        .await;
    let (kind, message) = match result {
        Ok(Some(RetryAction::Restore)) => (
            FlashKind::Success,
            "The email is back in the queue and will go at its own time.".to_string(),
        ),
        Ok(Some(_)) => (
            FlashKind::Success,
            "The email will be sent within a minute.".to_string(),
        ),
        Ok(None) => (FlashKind::Success, "The email is cancelled.".to_string()),
        Err(AppError::Invalid(e)) => (FlashKind::Error, e.msg("reminder").to_string()),
        Err(e) => return Err(e),
    };
    let back = super::safe_next(Some(&back));
    let back = if back.starts_with("/outbox") || back.starts_with("/treatments/") {
        back
    } else {
        "/outbox".into()
    };
    Ok(redirect_with_flash(&state, &back, kind, &message))
}

/// The outbox's buttons: `retry` (which says Restore or Send now) and `cancel`.
pub(super) async fn button(
    req: HttpRequest,
    auth: Auth<FrontDesk>,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: CsrfForm<ReturnTo>,
) -> AppResult<HttpResponse> {
    let (id, action) = path.into_inner();
    outbox_action(req, auth, state, id, form.0.back, action == "retry").await
}

/// The email exactly as the patient gets it, under a bar with its subject, its
/// recipient and the way back. Mail HTML needs inline styles, so this one
/// response relaxes the CSP for styles only (still no script).
pub(super) async fn preview(
    auth: Auth<SignedIn>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, reminder) = path.into_inner();
    let links = state.links.clone();
    let preview = state
        .db(move |conn| crate::usecases::treatments::reminder_preview(conn, &links, id, reminder))
        .await?;
    let mut back = vec![(
        format!("/treatments/{id}"),
        "← Back to the treatment".to_string(),
    )];
    if FrontDesk::ROLES.contains(&auth.user().role) {
        back.push(("/outbox".to_string(), "The outbox".to_string()));
    }
    let bar = PreviewBar {
        subject: preview.email.subject.clone(),
        to: preview
            .to
            .unwrap_or_else(|| "nobody: the patient has no email address".to_string()),
        not_sent: preview.not_sent.map(str::to_string),
        links: back,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"),
        ))
        .body(
            preview
                .email
                .preview_html(&bar)
                .map_err(|e| AppError::Internal(e.into()))?,
        ))
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    clinic: crate::usecases::clinic::Clinic,
    done: bool,
    already: bool,
}

/// The patient an unsubscribe link names; a tampered or made-up one is 404.
fn unsubscribing(state: &AppState, token: &str) -> AppResult<i64> {
    state
        .links
        .open_unsubscribe(token)
        .ok_or(AppError::NotFound)
}

pub(super) async fn unsubscribe_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let patient_id = unsubscribing(&state, &token)?;
    let (clinic, patient) = state
        .db(move |conn| {
            Ok((
                crate::usecases::treatments::clinic_of_patient(conn, patient_id)?,
                crate::usecases::patients::get_unless_erased(conn, patient_id)?,
            ))
        })
        .await?;
    render(&UnsubscribePage {
        clinic,
        done: false,
        already: patient.unsubscribed_at.is_some(),
    })
}

/// RFC 8058 one-click: mail clients POST here with no cookie and no CSRF
/// token; the signed token in the URL is the authority.
pub(super) async fn unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let patient_id = unsubscribing(&state, &token)?;
    let (ip, now) = (client_ip(&req), state.now());
    state
        .db(move |conn| crate::usecases::patients::unsubscribe(conn, patient_id, &ip, now))
        .await?;
    let clinic = state
        .db(move |conn| crate::usecases::treatments::clinic_of_patient(conn, patient_id))
        .await?;
    render(&UnsubscribePage {
        clinic,
        done: true,
        already: false,
    })
}
