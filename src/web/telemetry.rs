//! One span per request, with a request id, and one log line when it ends.
//!
//! The span names the matched route pattern (`/sheet/{token}`), never the
//! path or query: paths carry patients' sheet and unsubscribe tokens, and
//! queries carry patient names from the search box. Events logged while
//! handling a request (a use case's error, say) carry the span's fields.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder, TracingLogger};

/// The middleware to wrap the app in.
pub fn request_spans() -> TracingLogger<RequestSpan> {
    TracingLogger::new()
}

pub struct RequestSpan;

/// When the request arrived, for the elapsed time in the closing line.
struct Arrived(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Arrived(Instant::now()));
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string());
        let route = request.match_pattern();
        tracing::info_span!(
            "request",
            request_id = id.as_deref().unwrap_or_default(),
            method = %request.method(),
            route = route.as_deref().unwrap_or("(none)"),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error, elapsed) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(|e| e.as_response_error()),
                response
                    .request()
                    .extensions()
                    .get::<Arrived>()
                    .map(|a| a.0.elapsed()),
            ),
            Err(e) => (
                e.as_response_error().status_code(),
                Some(e.as_response_error()),
                None,
            ),
        };
        span.record("status", status.as_u16());
        let elapsed_ms = elapsed.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        span.in_scope(|| match error {
            // The cause of a 500 goes to the log, never to the page (web::errors).
            Some(e) if status.is_server_error() => {
                tracing::error!(status = status.as_u16(), elapsed_ms, error = ?e, "request failed")
            }
            _ => tracing::info!(status = status.as_u16(), elapsed_ms, "request done"),
        });
    }
}
