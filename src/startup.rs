//! Building and running the app: database, keys, HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders, Logger};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::auth::tokens::{random_token, Keys};
use crate::care::Protocol;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::AppError;
use crate::jobs::{Worker, WorkerConfig};
use crate::links::Links;
use crate::mail::Mailer;
use crate::store::{self, Pool};
use crate::web::{self as routes, AppState};

const SECRET_KEY_SETTING: &str = "secret_key";

/// No inline script or style, nothing from other origins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The signing key: from configuration, or generated once and kept in the
/// database so every instance and every restart agrees on it.
pub fn resolve_keys(settings: &Settings, pool: &Pool) -> anyhow::Result<Keys> {
    if let Some(secret) = &settings.secret_key {
        return Ok(Keys::new(secret));
    }
    let mut conn = pool
        .get()
        .context("cannot reach the database for the secret key")?;
    let candidate = format!("{}{}", random_token(), random_token());
    let secret = store::settings::get_or_insert(&mut conn, SECRET_KEY_SETTING, &candidate)
        .context("cannot read or store the generated secret key")?;
    Ok(Keys::new(secret.as_bytes()))
}

/// Migrates the database and builds what every process needs (the web app,
/// a lone worker, the command line): pool, keys, protocol, links.
pub fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    prepare_with_clock(settings, Arc::new(SystemClock))
}

/// [`prepare`] with the clock the whole process reads "now" from.
pub fn prepare_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    store::migrate(&settings.database)?;
    let pool = store::pool(&settings.database)?;
    let keys = resolve_keys(&settings, &pool)?;
    let protocol = Arc::new(load_protocol(&settings)?);
    let links = Links {
        base_url: settings.base_url.clone(),
        keys: keys.clone(),
    };
    Ok(AppState {
        audit: crate::audit_writer::AuditWriter::start(pool.clone())?,
        pool,
        settings: Arc::new(settings),
        keys,
        protocol,
        links,
        clock,
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
}

impl Application {
    /// Migrates, connects and binds (port 0 picks a free port, for tests).
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with_clock(settings, Arc::new(SystemClock))
    }

    /// [`Application::build`] on a given clock (tests move time with one).
    pub fn build_with_clock(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // A base URL derived from "port 0" names the port we actually got.
        if let Some(base) = settings.base_url.strip_suffix(":0") {
            settings.base_url = format!("{base}:{port}");
        }
        let state = prepare_with_clock(settings, clock)?;
        let server = run(listener, state.clone())?;
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The reminder worker for this app's database and settings.
    pub fn worker(&self) -> anyhow::Result<Worker> {
        worker_for(&self.state)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, finishing requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub fn worker_for(state: &AppState) -> anyhow::Result<Worker> {
    let settings = &state.settings;
    Ok(Worker {
        pool: state.pool.clone(),
        mailer: Arc::new(Mailer::from_settings(settings)?),
        links: state.links.clone(),
        clock: state.clock.clone(),
        config: WorkerConfig {
            max_attempts: settings.mail_max_attempts,
            stale_after: chrono::Duration::hours(settings.reminder_stale_hours),
            ..WorkerConfig::default()
        },
    })
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
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
            .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
            .wrap(from_fn(routes::head_as_get))
            .configure(routes::routes)
            .default_service(actix_web::web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
    })
    .listen(listener)?
    .shutdown_timeout(20)
    .run();
    Ok(server)
}
