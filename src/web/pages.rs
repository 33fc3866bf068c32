//! The start page and the health check.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use super::page::PageCtx;
use super::session::{Auth, SignedIn};
use super::{render, AppState};
use crate::error::AppResult;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageCtx,
    dashboard: crate::treatments::Dashboard,
}

#[get("/")]
pub(super) async fn home(
    _auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let dashboard = state.db(crate::treatments::dashboard).await?;
    render(&HomePage { ctx, dashboard })
}

/// 200 `ok` when the database answers, 503 otherwise (for load balancers).
#[get("/healthz")]
pub(super) async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.db(|conn| Ok(crate::store::ping(conn)?)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
