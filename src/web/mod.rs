//! The HTTP layer: extract and validate, check who may do it, call one use
//! case, render. Handlers stay thin; the work lives in the service modules.

pub mod admin;
pub mod assets;
pub mod clinic;
pub mod csrf;
pub mod errors;
pub mod login;
pub mod outbox;
pub mod pages;
pub mod patients;
pub mod session;
pub mod telemetry;
pub mod treatments;

use std::sync::Arc;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::tokens::Keys;
use crate::care::Protocol;
use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::store::{DbConn, Pool};

/// PostgreSQL cannot store a NUL character in text, and no person types one:
/// a form or address carrying one is refused with 400 before it reaches a
/// query, on both databases alike.
pub const NUL_MESSAGE: &str = "The request contains a NUL character (%00), which no field accepts.";

pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Refuses an address whose query string carries an encoded NUL (see
/// [`NUL_MESSAGE`]); forms are checked by `csrf::CsrfForm`.
pub async fn refuse_nul_in_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let decoded = percent_encoding::percent_decode_str(req.query_string());
    if decoded.into_iter().any(|b| b == 0) {
        return Ok(req.error_response(AppError::BadRequest(NUL_MESSAGE.into())));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub keys: Keys,
    pub protocol: Arc<Protocol>,
    pub links: Links,
    pub audit: crate::audit_writer::AuditWriter,
    /// Whether this process runs the reminder worker (`serve` without
    /// `--no-worker`); decides whether `/healthz` fails on stale mail.
    pub worker_in_process: bool,
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
        let clinic = self.db(crate::clinic::get).await?;
        let tz = crate::clinic::zone(&clinic);
        Ok(chrono::Utc::now().with_timezone(&tz).date_naive())
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(pages::home)
        .service(pages::healthz)
        .service(assets::asset)
        .service(login::login_form)
        .service(login::login_submit)
        .service(login::logout)
        .service(login::setup_form)
        .service(login::setup_submit)
        .service(login::set_password_form)
        .service(login::set_password_submit)
        .service(login::account_password_form)
        .service(login::account_password_submit)
        .service(admin::users)
        .service(admin::new_user_form)
        .service(admin::new_user_submit)
        .service(admin::user_detail)
        .service(admin::user_role)
        .service(admin::user_deactivate)
        .service(admin::user_reactivate)
        .service(admin::user_password_link)
        .service(admin::audit)
        .service(clinic::clinic_form)
        .service(clinic::clinic_submit)
        .service(patients::list)
        .service(patients::new_form)
        .service(patients::create)
        .service(patients::show)
        .service(patients::edit_form)
        .service(patients::update)
        .service(treatments::new_form)
        .service(treatments::record)
        .service(treatments::show)
        .service(treatments::edit_form)
        .service(treatments::edit)
        .service(treatments::delete_form)
        .service(treatments::delete)
        .service(treatments::staff_sheet)
        .service(treatments::patient_sheet)
        .service(outbox::outbox)
        .service(outbox::retry)
        .service(outbox::cancel)
        .service(outbox::preview)
        .service(outbox::unsubscribe_form)
        .service(outbox::unsubscribe);
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

/// The client's address as seen on the connection. Forwarded headers are
/// ignored on purpose: they are trivially forged and feed the throttle.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Only a local path is an acceptable place to return to after log-in.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://") =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/admin/users?x=1")), "/admin/users?x=1");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("admin")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
