//! The start page and the health check.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;

use super::page::PageCtx;
use super::session::{Auth, SignedIn};
use super::sites::{site_filter, LocationQuery, SiteFilter};
use super::{render, AppState};
use crate::error::AppResult;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageCtx,
    dashboard: crate::usecases::treatments::Dashboard,
    filter: SiteFilter,
}

/// The start page, for the user's locations or those `?location=` chooses.
pub(super) async fn home(
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<LocationQuery>,
) -> AppResult<HttpResponse> {
    let filter = site_filter(&state, auth.user(), &query).await?;
    let sites = filter.sites.clone();
    let dashboard = state
        .db(move |conn| crate::usecases::treatments::dashboard(conn, &sites))
        .await?;
    render(&HomePage {
        ctx,
        dashboard,
        filter,
    })
}

/// 200 `ok` when the database answers and, in a process that runs the
/// worker, mail is moving; 503 with the reasons otherwise (for load balancers
/// and service managers). `Accept: application/json` gets the figures.
pub(super) async fn healthz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (in_process, now) = (state.worker_in_process, state.now());
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let health = match state
        .db(move |conn| crate::usecases::health::check(conn, now, in_process))
        .await
    {
        Ok(health) => health,
        Err(e) => {
            // Why, for the operator: "database unavailable: timed out waiting
            // for connection: … Connection refused", "… disk is full".
            let reason = crate::config::redact(&match &e {
                crate::error::AppError::Database(db) => format!("database unavailable: {db}"),
                other => other.to_string(),
            });
            tracing::warn!(error = %reason, "health check failed");
            let mut response = HttpResponse::ServiceUnavailable();
            return if wants_json {
                response.json(serde_json::json!({ "problems": [reason] }))
            } else {
                response.content_type("text/plain").body(reason)
            };
        }
    };
    let mut response = if health.is_ok() {
        HttpResponse::Ok()
    } else {
        tracing::warn!(problems = ?health.problems, "unhealthy");
        HttpResponse::ServiceUnavailable()
    };
    if wants_json {
        response.json(&health)
    } else if health.is_ok() {
        response.content_type("text/plain").body("ok")
    } else {
        response
            .content_type("text/plain")
            .body(health.problems.join("\n"))
    }
}
