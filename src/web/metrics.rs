//! `/metrics` for Prometheus, served on an address of its own
//! (`AFTERCARE_METRICS_BIND`), never on the app's: it needs no sign-in, so it
//! belongs on a private address a monitoring system reaches and patients'
//! browsers do not. Also the middleware that counts the app's requests.

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::AppState;
use crate::metrics::{PoolUsage, Scraped, CONTENT_TYPE};

/// Counts each request of the app by its route pattern (`/sheet/{token}`,
/// never the path, which carries patients' tokens and ids), method and status.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let arrived = Instant::now();
    let route = req.match_pattern();
    let method = req.method().clone();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let answered = next.call(req).await;
    if let Some(metrics) = metrics {
        let status = match &answered {
            Ok(response) => response.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        metrics.observe_request(
            method.as_str(),
            route.as_deref(),
            status.as_u16(),
            arrived.elapsed(),
        );
    }
    answered
}

/// The metrics server: `GET /metrics` and nothing else (404), on one worker
/// thread (a scrape every few seconds needs no more).
pub fn server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}

/// Renders the counters with the figures read now: pool usage first (before
/// this scrape takes a connection), then the database's, with one pooled
/// connection for a few aggregate queries.
async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.state();
    let pools = vec![PoolUsage {
        name: "main",
        in_use: pool.connections - pool.idle_connections,
        idle: pool.idle_connections,
        max: state.pool.max_size(),
    }];
    let now = state.clock.now();
    let mail = match state
        .db(move |conn| crate::usecases::health::mail_figures(conn, now.naive_utc()))
        .await
    {
        Ok(figures) => Some(figures),
        Err(e) => {
            // Shown as aftercare_database_up 0; the cause goes to the log.
            tracing::error!(error = %e, "metrics: cannot read the database");
            None
        }
    };
    let settings = state.settings.clone();
    let backup_age_seconds = web::block(move || crate::metrics::backup_age_seconds(&settings, now))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics: cannot read the last backup's age");
            None
        });
    let scraped = Scraped {
        pools,
        mail,
        backup_age_seconds,
    };
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.render(&scraped))
}
