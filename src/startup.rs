//! Building and running the app: database, keys, HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use secrecy::ExposeSecret;

use crate::auth::tokens::{random_token, Keys};
use crate::care::Protocol;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::AppError;
use crate::jobs::backups::DailyBackups;
use crate::jobs::{Worker, WorkerConfig};
use crate::usecases::backup::DatabaseLock;
use crate::usecases::housekeeping::Retention;
use crate::usecases::links::Links;
use crate::usecases::{database, Pool};
use crate::web::{self as routes, AppState};

/// No inline script or style, nothing from other origins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The signing key: from configuration, or generated once and kept in the
/// database so every instance and every restart agrees on it.
pub fn resolve_keys(settings: &Settings, pool: &Pool) -> anyhow::Result<Keys> {
    if let Some(secret) = &settings.secret_key {
        return Ok(Keys::new(secret.expose_secret()));
    }
    let candidate = format!("{}{}", random_token(), random_token());
    let secret = database::shared_secret(pool, &candidate)?;
    Ok(Keys::new(secret.as_bytes()))
}

/// Migrates the database and builds what every process needs (the web app,
/// a lone worker, the command line): pool, keys, protocol, links.
pub fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    prepare_with_clock(settings, Arc::new(SystemClock))
}

/// [`prepare`] with the clock the whole process reads "now" from.
pub fn prepare_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    crate::usecases::gate::return_large_allocations();
    // Before anything touches the file: refused while a restore replaces it.
    let database_lock = DatabaseLock::shared(&settings.database)?.map(Arc::new);
    let pool = database::open(&settings.database)?;
    let keys = resolve_keys(&settings, &pool)?;
    let protocol = Arc::new(load_protocol(&settings)?);
    let links = Links {
        base_url: settings.base_url.clone(),
        keys: keys.clone(),
    };
    Ok(AppState {
        audit: crate::usecases::audit_writer::AuditWriter::start(pool.clone())?,
        // About 20 KB a page: a thousand sheets (the busiest few days of a
        // clinic) hold about 20 MB at most.
        sheets: Arc::new(crate::web::sheet_cache::SheetCache::new(1000)),
        pool,
        settings: Arc::new(settings),
        keys,
        protocol,
        links,
        clock,
        worker_in_process: false,
        metrics: crate::metrics::Metrics::new(),
        database_lock,
        hashing: crate::usecases::gate::Gate::for_password_hashing(),
        photos: crate::usecases::gate::Gate::for_photos(),
    })
}

/// The clinic's protocol file when configured, else the built-in one.
pub fn load_protocol(settings: &Settings) -> anyhow::Result<Protocol> {
    match &settings.protocol_file {
        None => Ok(Protocol::default_protocol()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the protocol file {}", path.display()))?;
            Ok(Protocol::parse(&path.display().to_string(), &text)?)
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    pub state: AppState,
    worker: Option<Worker>,
    metrics: Option<MetricsServer>,
    backups: Option<DailyBackups>,
}

/// `/metrics` on `AFTERCARE_METRICS_BIND`, bound but not yet serving.
pub struct MetricsServer {
    port: u16,
    server: Server,
}

impl MetricsServer {
    /// Binds when `AFTERCARE_METRICS_BIND` is set (so a taken port fails
    /// start-up, not the first scrape); `None` when it is not.
    pub fn bind(state: &AppState) -> anyhow::Result<Option<MetricsServer>> {
        let Some(address) = state.settings.metrics_bind else {
            return Ok(None);
        };
        let listener = TcpListener::bind(address).with_context(|| {
            format!("cannot listen on {address} for metrics (AFTERCARE_METRICS_BIND)")
        })?;
        let bound = listener.local_addr()?;
        tracing::info!(address = %format!("http://{bound}/metrics"), "serving metrics");
        Ok(Some(MetricsServer {
            port: bound.port(),
            server: routes::metrics::server(listener, state.clone())?,
        }))
    }

    /// Serves `/metrics` while `work` runs, then stops.
    pub async fn alongside<T>(
        metrics: Option<MetricsServer>,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let Some(metrics) = metrics else {
            return work.await;
        };
        let handle = metrics.server.handle();
        tokio::spawn(async move {
            if let Err(e) = metrics.server.await {
                tracing::error!(error = %e, "the metrics server failed");
            }
        });
        let result = work.await;
        handle.stop(true).await;
        result
    }
}

impl Application {
    /// Migrates, connects and binds (port 0 picks a free port, for tests).
    /// No worker: tests drive their own.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with(settings, false)
    }

    /// As [`Application::build`]; `with_worker` adds the reminder worker,
    /// run by [`Application::run_supervised`], and makes `/healthz` answer
    /// for it.
    pub fn build_with(settings: Settings, with_worker: bool) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, with_worker, Arc::new(SystemClock))
    }

    /// [`Application::build_with`] on a given clock (tests move time with one).
    pub fn build_with_clock(
        mut settings: Settings,
        with_worker: bool,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // A base URL derived from "port 0" names the port we actually got.
        if let Some(base) = settings.base_url.strip_suffix(":0") {
            settings.base_url = format!("{base}:{port}");
        }
        let mut state = prepare_with_clock(settings, clock)?;
        state.worker_in_process = with_worker;
        let worker = with_worker.then(|| worker_for(&state)).transpose()?;
        if let Some(worker) = &worker {
            // Beat once before serving, so that `/healthz` is right from the
            // first request, not only after the worker's first round.
            let mut conn = state.pool.get().context("cannot reach the database")?;
            crate::usecases::reminders::beat(&mut conn, &worker.config.name, state.now())?;
        }
        let metrics = MetricsServer::bind(&state)?;
        let backups = daily_backups(&state);
        let server = run(listener, state.clone())?;
        Ok(Application {
            port,
            server,
            state,
            worker,
            metrics,
            backups,
        })
    }

    /// The reminder worker for this app's database and settings.
    pub fn worker(&self) -> anyhow::Result<Worker> {
        worker_for(&self.state)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when `AFTERCARE_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port)
    }

    /// Serves until SIGTERM or Ctrl-C, finishing requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        MetricsServer::alongside(self.metrics, self.server).await
    }

    /// Serves, runs the worker (when built with one) and takes the daily
    /// backups (when configured) until SIGTERM or Ctrl-C. If the worker dies
    /// first, the server is stopped too and the worker's failure returned:
    /// the process exits non-zero for its service manager to restart,
    /// instead of serving on without sending. A backup in progress finishes
    /// before the process ends.
    pub async fn run_supervised(self) -> anyhow::Result<()> {
        let Application {
            server,
            worker,
            metrics,
            backups,
            ..
        } = self;
        let (stop_backups, backups_stopped) = tokio::sync::oneshot::channel::<()>();
        let backups = backups.map(|backups| {
            tokio::spawn(async move {
                backups
                    .run_until(async {
                        let _ = backups_stopped.await;
                    })
                    .await
            })
        });
        let served = MetricsServer::alongside(metrics, supervise_app(server, worker)).await;
        let _ = stop_backups.send(());
        if let Some(task) = backups {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the daily backups ended abnormally");
            }
        }
        served
    }
}

/// The app's server and, when there is one, its worker, as
/// [`Application::run_supervised`] describes.
async fn supervise_app(server: Server, worker: Option<Worker>) -> anyhow::Result<()> {
    let Some(worker) = worker else {
        return Ok(server.await?);
    };
    let handle = server.handle();
    let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(async move {
        worker
            .run_until(async {
                let _ = stopped.await;
            })
            .await
    });
    supervise(server, move || handle.stop(true), worker, stop_worker).await
}

/// The daily backups `serve` takes, when `AFTERCARE_BACKUP_DIR` is set and
/// the database is SQLite. On PostgreSQL the setting is only warned about:
/// `pg_dump` is the tool there.
fn daily_backups(state: &AppState) -> Option<DailyBackups> {
    let settings = &state.settings;
    let dir = settings.backup_dir.clone()?;
    if settings.database.backend == crate::config::Backend::Postgres {
        tracing::warn!(
            dir = %dir.display(),
            "AFTERCARE_BACKUP_DIR is set, but the database is PostgreSQL: the app takes no backups of it; \
             use pg_dump (see the README's Backups section)"
        );
        return None;
    }
    Some(DailyBackups {
        pool: state.pool.clone(),
        clock: state.clock.clone(),
        dir,
        keep: settings.backup_keep,
        hour: settings.backup_hour,
    })
}

/// Waits for whichever of the server and the worker ends first; see
/// [`Application::run_supervised`].
async fn supervise<Stopping: std::future::Future<Output = ()>>(
    server: impl std::future::Future<Output = std::io::Result<()>>,
    stop_server: impl FnOnce() -> Stopping,
    mut worker: tokio::task::JoinHandle<anyhow::Result<()>>,
    stop_worker: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => {
            // Stopped by a signal: the worker finishes its round first.
            let _ = stop_worker.send(());
            let worker_ended = worker_failure(worker.await);
            served?;
            worker_ended.map_or(Ok(()), Err)
        }
        ended = &mut worker => {
            let failure = worker_failure(ended)
                .unwrap_or_else(|| anyhow::anyhow!("the reminder worker stopped on its own"));
            tracing::error!(error = %format!("{failure:#}"), "the reminder worker died; stopping the server");
            // The server future carries out the stop, so it must be polled meanwhile.
            let _ = tokio::join!(stop_server(), server);
            Err(failure)
        }
    }
}

/// Why the worker task ended badly, if it did.
fn worker_failure(
    ended: Result<anyhow::Result<()>, tokio::task::JoinError>,
) -> Option<anyhow::Error> {
    match ended {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            Some(anyhow::anyhow!("the reminder worker panicked: {message}"))
        }
        Err(e) => Some(anyhow::anyhow!("the reminder worker was cancelled: {e}")),
    }
}

pub fn worker_for(state: &AppState) -> anyhow::Result<Worker> {
    let settings = &state.settings;
    let mailer = settings.mailer()?;
    Ok(Worker {
        pool: state.pool.clone(),
        links: state.links.clone(),
        clock: state.clock.clone(),
        metrics: state.metrics.clone(),
        config: WorkerConfig {
            // Long enough for the longest send the settings allow (checked at start-up).
            lease: crate::jobs::lease::lease_for(mailer.longest_send()),
            batch_size: settings.worker_batch,
            concurrency: settings.worker_concurrency,
            max_attempts: settings.mail_max_attempts,
            stale_after: chrono::Duration::hours(settings.reminder_stale_hours),
            retention: Retention {
                session_idle: to_chrono(settings.session_idle),
                session_max_age: to_chrono(settings.session_max_age),
                ..Retention::default()
            },
            ..WorkerConfig::default()
        },
        mailer: Arc::new(mailer),
    })
}

/// Settings' durations are minutes, far inside chrono's range.
fn to_chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    // Requests are counted only when someone can read the counts.
    let count_requests = state.settings.metrics_bind.is_some();
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(actix_web::web::FormConfig::default().limit(256 * 1024))
            .app_data(actix_web::web::PayloadConfig::default().limit(256 * 1024))
            .app_data(
                actix_web::web::QueryConfig::default().error_handler(|e, _| {
                    tracing::debug!(error = %e, "malformed query");
                    AppError::BadRequest(
                        "The address is not one this page understands: a value is missing, \
                         repeated or of the wrong kind."
                            .into(),
                    )
                    .into()
                }),
            )
            .app_data(
                actix_web::web::PathConfig::default()
                    .error_handler(|_, _| AppError::NotFound.into()),
            )
            .wrap(from_fn(routes::errors::keep_typed_form))
            .wrap(from_fn(routes::refuse_bad_query))
            .wrap(from_fn(routes::csrf::seed_middleware))
            .wrap(from_fn(routes::flash::clear_shown))
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(actix_web::middleware::Compress::default())
            .wrap(routes::telemetry::request_spans())
            .wrap(from_fn(routes::head_as_get))
            // Outermost: the time includes every middleware; the method is the client's.
            .wrap(Condition::new(
                count_requests,
                from_fn(routes::metrics::count_requests),
            ))
            .configure(routes::routes::register)
            .default_service(actix_web::web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
    })
    .listen(listener)?
    .shutdown_timeout(20)
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A stand-in server that runs until stopped; says whether it was.
    fn server() -> (
        impl std::future::Future<Output = std::io::Result<()>>,
        impl FnOnce() -> std::future::Ready<()>,
        Arc<AtomicBool>,
    ) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let was_stopped = Arc::new(AtomicBool::new(false));
        let flag = was_stopped.clone();
        let serving = async move {
            let _ = stopped.await;
            Ok(())
        };
        let stop_server = move || {
            flag.store(true, Ordering::SeqCst);
            let _ = stop.send(());
            std::future::ready(())
        };
        (serving, stop_server, was_stopped)
    }

    #[tokio::test]
    async fn a_worker_panic_stops_the_server_with_an_error() {
        let (serving, stop_server, was_stopped) = server();
        let (stop_worker, _) = tokio::sync::oneshot::channel();
        let worker = tokio::spawn(async {
            tokio::task::yield_now().await;
            panic!("claim went wrong");
        });
        let error = supervise(serving, stop_server, worker, stop_worker)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the reminder worker panicked: claim went wrong"
        );
        assert!(was_stopped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_server_stopped_by_a_signal_stops_the_worker_cleanly() {
        let (stop_worker, worker_stop) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            let _ = worker_stop.await;
            Ok(())
        });
        supervise(
            async { Ok(()) },
            || std::future::ready(()),
            worker,
            stop_worker,
        )
        .await
        .unwrap();
    }
}
