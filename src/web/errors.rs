//! How errors look to a user: a styled page with a plain message. Causes of
//! 500s go to the log (see `web::telemetry`), never to the page.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// When a client refused as busy may try again.
const BUSY_RETRY_AFTER_SECONDS: &str = "5";

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Pool(_) | AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            AppError::Pool(_) => error_page(
                    status,
                    "Temporarily unavailable",
                "The database is not answering. Nothing was saved. Please try again in a minute.",
            ),
            AppError::Database(_) | AppError::Internal(_) => error_page(
                status,
                "Something went wrong",
                "The page could not be shown. Nothing was half-saved. Please try again; if it keeps happening, tell your clinic admin.",
            ),
        }
    }
}
