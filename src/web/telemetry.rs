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

/// actix-http's connection dispatcher: it logs at ERROR every request line it
/// cannot parse (a raw TAB, say) and every connection a client breaks, so
/// anyone could flood the log with ERROR lines.
pub const DISPATCHER_TARGET: &str = "actix_http::h1::dispatcher";

/// How often, at most, the malformed requests seen are summed up in the log.
const MALFORMED_SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counts the dispatcher's errors instead of printing each: the log gets one
/// WARN line a minute at most, with how many there were and the last reason.
#[derive(Clone, Default)]
pub struct MalformedRequests {
    seen: std::sync::Arc<std::sync::Mutex<(u64, String)>>,
}

impl MalformedRequests {
    /// How many were seen since the last summary, and the last one's message;
    /// resets the count.
    pub fn take(&self) -> (u64, String) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (std::mem::take(&mut seen.0), std::mem::take(&mut seen.1))
    }

    /// Logs the summary (WARN) when there is one; a no-op otherwise.
    pub fn summarise(&self) {
        let (count, last) = self.take();
        if count > 0 {
            tracing::warn!(
                count,
                last = %last,
                "malformed requests or broken connections answered 400 or closed"
            );
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MalformedRequests {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.0 += 1;
        // Bounded: a message is the parser's, but its length is not ours to trust.
        seen.1 = message.0.chars().take(200).collect();
    }
}

/// Whether text logs carry colour: only when they go to a terminal, and not
/// when `NO_COLOR` is set (<https://no-color.org>).
fn colour_logs(to_terminal: bool) -> bool {
    to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The log filter: `AFTERCARE_LOG` (default `info`), with the dispatcher's own
/// lines left out of the printed log (see [`MalformedRequests`]).
pub fn log_filter(setting: Option<&str>) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let base = setting
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info,actix_server=warn"));
    base.add_directive(
        format!("{DISPATCHER_TARGET}=off")
            .parse()
            .expect("a valid directive"),
    )
}

/// Logs to standard output: readable text, or with `AFTERCARE_LOG_FORMAT=json`
/// one JSON object a line for log collectors, each with the spans it
/// happened in (the request's id and route, the use case's ids). The
/// dispatcher's errors are counted and summed up once a minute at WARN.
/// Colours only on a terminal: under systemd or redirected to a file, escape
/// codes would land in the journal as `\x1b[2m` noise.
pub fn init_tracing() -> Result<(), String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = log_filter(std::env::var("AFTERCARE_LOG").ok().as_deref());
    let malformed = MalformedRequests::default();
    let counter = malformed
        .clone()
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.target() == DISPATCHER_TARGET && *m.level() <= tracing::Level::WARN
        }));
    let format = std::env::var("AFTERCARE_LOG_FORMAT").unwrap_or_default();
    let registry = tracing_subscriber::registry().with(counter);
    // Already set (a test harness calling in) is fine: the first one stays.
    let installed = match format.trim() {
        "" | "text" => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colour_logs(std::io::stdout().is_terminal()))
                    .with_filter(filter),
            )
            .try_init()
            .is_ok(),
        "json" => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .flatten_event(true)
                    .with_span_list(true)
                    .with_filter(filter),
            )
            .try_init()
            .is_ok(),
        other => {
            return Err(format!(
                "AFTERCARE_LOG_FORMAT: {other:?} is neither text nor json"
            ))
        }
    };
    if installed {
        std::thread::Builder::new()
            .name("malformed-requests".into())
            .spawn(move || loop {
                std::thread::sleep(MALFORMED_SUMMARY_EVERY);
                malformed.summarise();
            })
            .map_err(|e| format!("cannot start the log's summary thread: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    /// What a subscriber set up like `init_tracing`'s prints, into a buffer.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn malformed_requests_are_counted_and_summed_up_below_error() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let malformed = MalformedRequests::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                malformed
                    .clone()
                    .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                        m.target() == DISPATCHER_TARGET
                    })),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone())
                    .with_filter(log_filter(None)),
            );
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..500 {
                tracing::error!(target: "actix_http::h1::dispatcher", "stream error: Request parse error: Invalid Header provided");
            }
            tracing::error!(target: "aftercare::elsewhere", "a real error");
            malformed.summarise();
            malformed.summarise();
        });
        let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 2, "{printed}");
        assert!(
            lines[0].contains("ERROR") && lines[0].contains("a real error"),
            "{printed}"
        );
        assert!(lines[1].contains("WARN"), "{printed}");
        assert!(lines[1].contains("count=500"), "{printed}");
        assert!(lines[1].contains("Invalid Header provided"), "{printed}");
    }

    #[test]
    fn the_operators_filter_cannot_bring_the_flood_back() {
        let filter = log_filter(Some("debug"));
        assert!(
            filter
                .to_string()
                .contains("actix_http::h1::dispatcher=off"),
            "{filter}"
        );
    }
}
