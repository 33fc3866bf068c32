//! How errors look to a user: a styled page with a plain message. Causes of
//! 500s go to the log (see `web::telemetry`), never to the page. A form that
//! could not be saved because of the database's situation (unreachable, disk
//! full) comes back on its 503 page, as typed, ready to be sent again.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;
use crate::usecases::health::{outage, Outage};

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    /// A form to send again (after an outage), or `None`.
    pub retry: Option<&'a RetryForm>,
}

/// A form as it was posted, to be shown again on its error page.
#[derive(Debug, Clone)]
pub struct RetryForm {
    /// Where it was posted (path and query).
    pub action: String,
    /// Every field as sent, the CSRF token included.
    pub fields: Vec<FormField>,
}

#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

impl FormField {
    /// Shown to the person on the page (not the token, not empty ones).
    pub fn is_shown(&self) -> bool {
        self.name != "csrf_token" && !self.value.trim().is_empty()
    }
}

/// A URL-encoded form whose CSRF token checked out, as sent (set on the
/// request by `csrf::CsrfForm`), for [`keep_typed_form`].
#[derive(Clone)]
pub struct SubmittedForm(pub Vec<(String, String)>);

fn render_page(
    status: StatusCode,
    title: &str,
    message: &str,
    retry: Option<&RetryForm>,
) -> String {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        retry,
    };
    page.render()
        .unwrap_or_else(|_| format!("{} {title}", status.as_u16()))
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(render_page(status, title, message, None))
}

/// Middleware: when a posted form could not be saved because of an outage
/// (a 503: the database unreachable, the disk full), its page carries the
/// form as it was typed, with a button to send it again; nothing has to be
/// typed twice. Forms with a password are not echoed back into a page.
pub async fn keep_typed_form(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    if res.status() != StatusCode::SERVICE_UNAVAILABLE {
        return Ok(res);
    }
    let Some(SubmittedForm(pairs)) = res.request().extensions().get::<SubmittedForm>().cloned()
    else {
        return Ok(res);
    };
    let Some(kind) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .and_then(outage)
    else {
        return Ok(res);
    };
    if pairs.iter().any(|(name, _)| name.contains("password")) {
        return Ok(res);
    }
    let retry = RetryForm {
        action: res
            .request()
            .uri()
            .path_and_query()
            .map_or_else(|| res.request().path().to_string(), |p| p.to_string()),
        fields: pairs
            .into_iter()
            .map(|(name, value)| FormField { name, value })
            .collect(),
    };
    let (title, message) = outage_text(kind);
    let html = render_page(res.status(), title, message, Some(&retry));
    Ok(res.map_body(|_, _| BoxBody::new(html)))
}

/// What a browser is told to wait before trying again after a 503.
const RETRY_AFTER_SECONDS: &str = "30";

/// The title and message of the page for an [`Outage`]: plain words, what
/// happened to what was sent (nothing was saved), and what to do.
pub fn outage_text(outage: Outage) -> (&'static str, &'static str) {
    match outage {
        Outage::Unreachable => (
            "Temporarily unavailable",
            "The database is not answering. Nothing was saved. Please try again in a minute.",
        ),
        Outage::DiskFull => (
            "Not saved: the server's disk is full",
            "The server has run out of disk space, so nothing was saved. Tell your clinic's admin \
             or IT support. Once space is freed, send it again: it will work without a restart.",
        ),
        Outage::Busy => (
            "Busy, please try again",
            "The database was busy with other work. Nothing was saved. Please try again in a moment.",
        ),
    }
}

/// When a client refused as busy may try again.
const BUSY_RETRY_AFTER_SECONDS: &str = "5";

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Pool(_) | AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) if outage(self).is_some() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::LoginRequired { next } => {
                let location = format!(
                    "/login?{}",
                    serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                );
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish()
            }
            AppError::NotFound => error_page(
                status,
                "Page not found",
                "There is nothing at this address. Check the link, or go back to the start page.",
            ),
            AppError::Forbidden => error_page(
                status,
                "Not allowed",
                "Your role does not allow this. Ask a clinic admin if you need access.",
            ),
            AppError::Csrf => error_page(
                status,
                "This form has expired",
                "For your security the form could not be accepted. Go back, reload the page and try again.",
            ),
            AppError::TooManyRequests(message) => error_page(status, "Too many attempts", message),
            AppError::Busy(message) => {
                let mut response = error_page(status, "Busy for a moment", message);
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(BUSY_RETRY_AFTER_SECONDS),
                );
                response
            }
            AppError::Gone(message) => error_page(status, "This link has ended", message),
            AppError::RequestTimeout => {
                // Close the connection: the rest of the body is not worth waiting for.
                let mut response = error_page(
                    status,
                    "The form took too long to arrive",
                    "Nothing was saved. Check your connection, then send the form again.",
                );
                response.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
                response
            }
            AppError::BadRequest(message) => {
                error_page(status, "That request could not be understood", message)
            }
            AppError::Invalid(errors) => {
                let message = errors
                    .0
                    .iter()
                    .map(|(field, m)| format!("{field}: {m}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                error_page(status, "Please check what you entered", &message)
            }
            // Causes are logged once, with the request's route and id, where
            // the request's span ends (web::telemetry).
            AppError::Pool(_) | AppError::Database(_) if outage(self).is_some() => {
                let (title, message) = outage_text(outage(self).unwrap_or(Outage::Unreachable));
                let mut response = error_page(status, title, message);
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
                response
            }
            AppError::Pool(_) | AppError::Database(_) | AppError::Internal(_) => error_page(
                status,
                "Something went wrong",
                "The page could not be shown. Nothing was half-saved. Please try again; if it keeps happening, tell your clinic admin.",
            ),
        }
    }
}
