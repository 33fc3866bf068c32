//! The HTTP layer: extract and validate, check who may do it, call one use
//! case, render. Handlers stay thin; the work lives in the service modules.

pub mod admin;
pub mod assets;
pub mod checkins;
pub mod client_addr;
pub mod clinic;
pub mod cookies;
pub mod csrf;
pub mod data_rights;
pub mod errors;
pub mod flash;
pub mod locations;
pub mod login;
pub mod metrics;
pub mod outbox;
pub mod outcomes;
pub mod page;
pub mod pages;
pub mod patient_link;
pub mod patients;
pub mod routes;
pub mod session;
pub mod sheet_cache;
pub mod sites;
pub mod system;
pub mod telemetry;
pub mod treatment_form;
pub mod treatments;

use std::sync::Arc;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::tokens::Keys;
use crate::care::Protocol;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::usecases::links::Links;
use crate::usecases::{DbConn, Pool};

/// PostgreSQL cannot store a NUL character in text, and no person types one:
/// a form or address carrying one is refused with 400 before it reaches a
/// query, on both databases alike.
pub const NUL_MESSAGE: &str = "The request contains a NUL character (%00), which no field accepts.";

pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Refuses an address whose query string carries an encoded NUL (see
/// [`NUL_MESSAGE`]) or bytes that are not UTF-8 text (decoders would replace
/// them silently); forms are checked by `csrf::CsrfForm`.
pub async fn refuse_bad_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(req.query_string()).collect();
    let message = if decoded.contains(&0) {
        Some(NUL_MESSAGE)
    } else if std::str::from_utf8(&decoded).is_err() {
        Some("The address contains bytes that are not text (invalid UTF-8).")
    } else {
        None
    };
    if let Some(message) = message {
        return Ok(req.error_response(AppError::BadRequest(message.into())));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// HEAD is answered wherever GET is: routed as a GET, and the server sends
/// the headers without the body (actix drops a HEAD response's body).
pub async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub keys: Keys,
    pub protocol: Arc<Protocol>,
    pub links: Links,
    pub audit: crate::usecases::audit_writer::AuditWriter,
    /// Rendered sheets by treatment, while their versions hold.
    pub sheets: Arc<sheet_cache::SheetCache>,
    /// The one clock: handlers take "now" from here, never from the system.
    pub clock: Arc<dyn Clock>,
    /// Whether this process runs the reminder worker (`serve` without
    /// `--no-worker`); decides whether `/healthz` fails on stale mail.
    pub worker_in_process: bool,
    /// What `/metrics` reports (served apart, see `metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Held while the process runs, so `aftercare restore` refuses to replace
    /// the SQLite file under it (`None` on PostgreSQL).
    pub database_lock: Option<Arc<crate::usecases::backup::DatabaseLock>>,
    /// Password hashing, a few at a time (`usecases::gate`).
    pub hashing: crate::usecases::gate::Gate,
    /// Photo decoding, a few at a time.
    pub photos: crate::usecases::gate::Gate,
}

impl AppState {
    /// Runs blocking database work on the blocking pool, never on the async
    /// executor, with a pooled connection held only for the call.
    pub async fn db<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }
}

impl AppState {
    /// Today's date in the clinic's time zone.
    pub async fn clinic_today(&self) -> AppResult<chrono::NaiveDate> {
        let clinic = self.db(crate::usecases::clinic::get).await?;
        let tz = clinic.zone();
        Ok(self.clock.now().with_timezone(&tz).date_naive())
    }

    /// Now, as the database stores it (UTC, whole microseconds).
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now_naive()
    }

    /// Now, with the stale rule's threshold, for use cases that schedule reminders.
    pub fn timing(&self) -> crate::usecases::reminders::Timing {
        crate::usecases::reminders::Timing {
            now: self.now(),
            stale_after: chrono::Duration::hours(self.settings.reminder_stale_hours),
        }
    }
}

pub fn render(template: &impl Template) -> AppResult<HttpResponse> {
    let body = template
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template error: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A form shown again with its errors answers 422, so scripts and tests can tell.
pub fn render_invalid(template: &impl Template) -> AppResult<HttpResponse> {
    let mut response = render(template)?;
    *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

/// 303 See Other: after a form POST, the browser GETs the next page.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The client's address: the connection's, or, behind a reverse proxy named
/// in `AFTERCARE_TRUSTED_PROXIES`, the one it wrote in `X-Forwarded-For` (see
/// `client_addr`); "unknown" when that header cannot be read. It feeds the
/// log-in throttle and the audit log.
pub fn client_ip(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return client_addr::ClientAddr::Unknown.to_string();
    };
    let trusted = &cookies::state(req).settings.trusted_proxies;
    if trusted.is_empty() {
        return peer.to_string();
    }
    let x_forwarded_for: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    client_addr::client_address(peer, trusted, &x_forwarded_for).to_string()
}

/// Where to go after sign-in: `next` when it is a path on this site, else
/// `/`. A local path starts with one `/` followed by neither `/` nor `\\`
/// (`//host` and `/\\host` name another host), and holds no whitespace or
/// control character anywhere: browsers strip a TAB or newline, which turned
/// `/<TAB>/evil.test` into `//evil.test`, and a newline breaks the header.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

fn is_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !path.chars().any(|c| {
            c == '\\' || c.is_whitespace() || crate::usecases::fields::forbidden_in_line(c)
        })
}

#[cfg(test)]
mod tests {
    use super::safe_next;
    use proptest::prelude::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/admin/users?x=1")), "/admin/users?x=1");
        assert_eq!(
            safe_next(Some("/patients?q=Zo%C3%AB")),
            "/patients?q=Zo%C3%AB"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/\r\n/evil.example",
            "/\n",
            "/ /evil.example",
            "\\\\evil.example",
            "admin",
            "",
            "/\u{2028}/evil.example",
            "/\u{202e}x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    /// Strings built from the pieces that have fooled redirect checks.
    fn tricky() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_string()),
            Just("\\".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just(" ".to_string()),
            Just(":".to_string()),
            Just("@".to_string()),
            Just("%2F".to_string()),
            Just("evil.test".to_string()),
            Just("https:".to_string()),
            Just("\u{3000}".to_string()),
            Just("\u{0085}".to_string()),
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
    }

    proptest! {
        /// Wherever `next` points, the browser ends up on the app's own origin,
        /// and the value is a valid Location header (never a 500).
        #[test]
        fn the_redirect_after_sign_in_stays_on_the_app(next in prop_oneof![tricky(), any::<String>()]) {
            let base = url::Url::parse("https://clinic.example/app").unwrap();
            let to = safe_next(Some(&next));
            let resolved = base.join(&to).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin());
            prop_assert!(actix_web::http::header::HeaderValue::from_str(&to).is_ok());
        }
    }
}
