//! The Outcomes page (issue #26) and its CSV, for clinicians. The charts are SVG drawn here
//! on the server (no script), each with its title, a description and the table beside it.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::page::PageCtx;
use super::session::{Auth, Clinicians};
use super::{client_ip, render, AppState};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::Actor;
use crate::usecases::outcomes::{self, Figures, OutcomesQuery, Report};

/// Chart geometry, in SVG user units.
const LABEL_W: u32 = 230;
const BAR_W: u32 = 360;
const ROW_H: u32 = 26;

/// One bar: its label, its length and the figure written after it.
pub struct Bar {
    pub label: String,
    pub y: u32,
    pub width: u32,
    pub text: String,
}

/// A bar chart of one figure per group.
pub struct Chart {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub height: u32,
    pub bars: Vec<Bar>,
}

impl Chart {
    pub fn label_w(&self) -> u32 {
        LABEL_W
    }
    pub fn bar_x(&self) -> u32 {
        LABEL_W + 8
    }
    pub fn text_x(&self, bar: &Bar) -> u32 {
        LABEL_W + 14 + bar.width
    }
    pub fn width(&self) -> u32 {
        LABEL_W + BAR_W + 130
    }
}

/// A chart of `rows`, each bar `value(row)` of `max` long; a hidden figure draws no bar.
fn chart(id: String, title: String, rows: &[(String, Option<i64>, String)], max: i64) -> Chart {
    let max = max.max(1);
    let bars: Vec<Bar> = rows
        .iter()
        .enumerate()
        .map(|(i, (label, value, text))| Bar {
            label: label.clone(),
            y: i as u32 * ROW_H,
            width: value.map_or(0, |v| (v.max(0) * BAR_W as i64 / max) as u32),
            text: text.clone(),
        })
        .collect();
    let desc = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.text))
        .collect::<Vec<_>>()
        .join("; ");
    Chart {
        id,
        title,
        desc,
        height: (bars.len() as u32).max(1) * ROW_H,
        bars,
    }
}

/// The check-ins by triage result of the whole period.
fn results_chart(report: &Report) -> Option<Chart> {
    let all = report.all.as_ref()?;
    let rows: Vec<_> = report
        .result_headings()
        .into_iter()
        .zip(&all.by_result)
        .map(|(h, c)| (h.to_string(), c.value, c.text.clone()))
        .collect();
    let max = rows.iter().filter_map(|r| r.1).max().unwrap_or(0);
    Some(chart(
        "chart-results".into(),
        "Check-ins by triage result".into(),
        &rows,
        max,
    ))
}

/// The share of treatments with a check-in in each breakdown, beside its table.
fn section_charts(report: &Report) -> Vec<Option<Chart>> {
    report
        .sections
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let rows: Vec<_> = section
                .rows
                .iter()
                .map(|f: &Figures| (f.label.clone(), f.with_checkin.value, f.share_text.clone()))
                .collect();
            let title = format!(
                "Treatments with at least one check-in, {}",
                section.title.to_lowercase()
            );
            (!rows.is_empty()).then(|| chart(format!("chart-{i}"), title, &rows, 100))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "outcomes.html")]
struct OutcomesPage {
    ctx: PageCtx,
    report: Report,
    results_chart: Option<Chart>,
    section_charts: Vec<Option<Chart>>,
    csv_link: String,
}

async fn report(
    state: &AppState,
    actor: Actor,
    query: OutcomesQuery,
    action: &'static str,
) -> AppResult<Report> {
    let protocol = state.protocol.clone();
    let now = state.now();
    state
        .db(move |conn| outcomes::report(conn, &protocol, &actor, &query, action, now))
        .await
}

pub(super) async fn page(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<OutcomesQuery>,
) -> AppResult<HttpResponse> {
    let actor = auth.user().actor(&client_ip(&req));
    let report = report(&state, actor, query.into_inner(), "outcomes.viewed").await?;
    let invalid = !report.errors.is_empty();
    let csv_link = format!(
        "/outcomes.csv?{}",
        serde_urlencoded::to_string(OutcomesQuery {
            from: report.from.to_string(),
            to: report.to.to_string(),
        })
        .unwrap_or_default()
    );
    let page = OutcomesPage {
        ctx,
        results_chart: results_chart(&report),
        section_charts: section_charts(&report),
        report,
        csv_link,
    };
    let mut response = render(&page)?;
    if invalid {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(super) async fn csv(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    state: web::Data<AppState>,
    query: web::Query<OutcomesQuery>,
) -> AppResult<HttpResponse> {
    let actor = auth.user().actor(&client_ip(&req));
    let report = report(&state, actor, query.into_inner(), "outcomes.downloaded").await?;
    if let Some((_, message)) = report.errors.0.iter().next() {
        return Err(AppError::BadRequest(message.clone()));
    }
    let name = format!("outcomes-{}-to-{}.csv", report.from, report.to);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(outcomes::csv(&report)))
}
