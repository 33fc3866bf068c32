//! `/metrics` on its own address (`AFTERCARE_METRICS_BIND`): valid Prometheus text, requests
//! counted by route pattern, the outbox and the worker's figures following a sent reminder,
//! and no patient's data in any label.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aftercare::mail::Mailer;
use chrono::Duration;

use crate::helpers::*;
use crate::reminders::rows;
use crate::smtp_sink::SmtpSink;

const NAME: &str = "Ada Lovelace";
const EMAIL: &str = "ada.lovelace@example.com";

/// One sample line: `name{label="value",…} value`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape, parsed strictly: every line is a `# HELP` or `# TYPE` comment or
/// a sample of a family whose type was declared before it; anything else fails the test.
struct Scrape(Vec<Sample>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                let mut parts = comment.splitn(3, ' ');
                let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
                let name = name.unwrap_or_else(|| panic!("a comment without a name: {line:?}"));
                assert!(is_metric_name(name), "bad name in {line:?}");
                match (kind, rest) {
                    (Some("HELP"), Some(_)) => {}
                    (Some("TYPE"), Some(t @ ("counter" | "gauge" | "histogram"))) => {
                        assert!(
                            types.insert(name.into(), t.into()).is_none(),
                            "{name} typed twice"
                        );
                    }
                    _ => panic!("not a HELP or TYPE line: {line:?}"),
                }
                continue;
            }
            let sample = parse_sample(line);
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| sample.name.strip_suffix(s))
                .find(|base| types.get(*base).is_some_and(|t| t == "histogram"))
                .unwrap_or(&sample.name);
            assert!(
                types.contains_key(family),
                "{line:?}: no TYPE line before it"
            );
            samples.push(sample);
        }
        assert!(!samples.is_empty(), "no samples in {text:?}");
        Scrape(samples)
    }

    /// The value of the one sample called `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .0
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).is_some_and(|got| got == v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().map(|s| s.value)
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in the scrape"))
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let name = &line[..name_end];
    assert!(is_metric_name(name), "bad name in {line:?}");
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = inner
                .find("=\"")
                .unwrap_or_else(|| panic!("bad label in {line:?}"));
            let key = &inner[..eq];
            assert!(
                is_metric_name(key) && !key.contains(':'),
                "bad label name in {line:?}"
            );
            let mut value = String::new();
            let mut chars = inner[eq + 2..].char_indices();
            let close = loop {
                match chars.next() {
                    Some((i, '"')) => break eq + 2 + i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((_, c)) => value.push(c),
                    None => panic!("unclosed label value in {line:?}"),
                }
            };
            assert!(
                labels.insert(key.to_string(), value).is_none(),
                "{key} twice in {line:?}"
            );
            inner = &inner[close + 1..];
            inner = inner.strip_prefix(',').unwrap_or(inner);
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{v:?} is not a number (a timestamp?) in {line:?}")),
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let r = app.get_metrics().await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Scrape::parse(&r.text().await.unwrap())
}

/// No label value holds anything of a patient's: name, email, a token (`secrets`), and no
/// route label an id or a token as a path segment.
fn assert_no_patient_data(scrape: &Scrape, secrets: &[&str]) {
    for sample in &scrape.0 {
        for (key, value) in &sample.labels {
            for secret in secrets.iter().chain(&["Ada", "Lovelace", EMAIL]) {
                assert!(
                    !value.to_lowercase().contains(&secret.to_lowercase()),
                    "label {key}={value:?} holds {secret:?}"
                );
            }
            if key != "route" {
                continue;
            }
            for segment in value.split('/') {
                assert!(
                    segment.is_empty() || !segment.chars().all(|c| c.is_ascii_digit()),
                    "route {value:?} holds an id"
                );
                assert!(
                    segment.len() < 16,
                    "route {value:?} holds what looks like a token"
                );
            }
        }
    }
    let routes = scrape.0.iter().filter(|s| s.labels.contains_key("route"));
    assert!(routes.count() > 0, "the check saw routes");
}

const REQUESTS: &str = "aftercare_http_requests_total";

async fn requests_are_counted_by_route_pattern_never_by_path(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let patient = app.add_patient(&staff, NAME, EMAIL).await;
    let page = [
        ("method", "GET"),
        ("route", "/patients/{id}"),
        ("status", "200"),
    ];
    let before = scrape(&app).await.value(REQUESTS, &page).unwrap_or(0.0);
    for _ in 0..3 {
        let r = app.get_with(&staff, &format!("/patients/{patient}")).await;
        assert_eq!(r.status().as_u16(), 200);
    }
    // A search by name, a made-up path with the patient's id and email, and a made-up method.
    let r = app.get_with(&staff, "/patients?q=Ada+Lovelace").await;
    assert_eq!(r.status().as_u16(), 200);
    let made_up = format!("/patients/{patient}/{EMAIL}/nothing-here");
    assert_eq!(app.get_with(&staff, &made_up).await.status().as_u16(), 404);
    let odd = reqwest::Method::from_bytes(b"BREW").unwrap();
    staff
        .request(odd, app.url(&format!("/patients/{patient}")))
        .send()
        .await
        .unwrap();

    let after = scrape(&app).await;
    assert_eq!(after.get(REQUESTS, &page), before + 3.0);
    // The histogram counts the same requests.
    assert_eq!(
        after.get("aftercare_http_request_duration_seconds_count", &page),
        before + 3.0
    );
    assert_eq!(
        after.get(
            "aftercare_http_request_duration_seconds_bucket",
            &[page[0], page[1], page[2], ("le", "+Inf")]
        ),
        before + 3.0
    );
    assert_eq!(
        after.get(
            REQUESTS,
            &[("method", "GET"), ("route", "/patients"), ("status", "200")]
        ),
        1.0
    );
    assert!(
        after.get(
            REQUESTS,
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(after.0.iter().any(|s| s.name == REQUESTS
        && s.labels["method"] == "other"
        && s.labels["route"] == "/patients/{id}"));
    assert_no_patient_data(&after, &[]);

    // The pool: what it may open, and no more in use or idle than that.
    let max = after.get("aftercare_db_pool_max_connections", &[("pool", "main")]);
    assert_eq!(max, f64::from(app.state.settings.database.pool_size));
    let used = after.get(
        "aftercare_db_pool_connections",
        &[("pool", "main"), ("state", "in_use")],
    );
    let idle = after.get(
        "aftercare_db_pool_connections",
        &[("pool", "main"), ("state", "idle")],
    );
    assert!(used + idle >= 1.0 && used + idle <= max, "{used} + {idle}");
    assert_eq!(after.get("aftercare_database_up", &[]), 1.0);

    // Not served on the app's own address, to signed-in staff or anyone.
    assert_eq!(
        app.get_with(&staff, "/metrics").await.status().as_u16(),
        404
    );
    assert_eq!(app.get("/metrics").await.status().as_u16(), 404);
    // And the metrics address serves nothing else.
    let other = app
        .client
        .get(format!(
            "{}/healthz",
            app.metrics_address.as_deref().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
}

const OUTBOX: &str = "aftercare_outbox_reminders";
const OUTCOMES: &str = "aftercare_mail_outcomes_total";
const SENT: [(&str, &str); 2] = [("kind", "reminder"), ("outcome", "sent")];

async fn the_outbox_gauges_and_the_sends_counter_follow_a_sent_reminder(app: TestApp) {
    let sink = SmtpSink::start().await;
    // The app's own clock: the scrape's ages and the worker's "now" agree.
    let mailer = Arc::new(Mailer::smtp(&sink.url()).unwrap());
    let mut worker = aftercare::startup::worker_for(&app.state).unwrap();
    // The lease must outlast the longest send of the mailer that sends (SMTP, not files).
    worker.config.lease = aftercare::jobs::lease::lease_for(mailer.longest_send());
    worker.mailer = mailer;
    let before = scrape(&app).await;
    assert_eq!(before.get(OUTBOX, &[("status", "pending")]), 0.0);
    assert_eq!(before.get(OUTCOMES, &SENT), 0.0);
    assert_eq!(
        before.value("aftercare_worker_heartbeat_age_seconds", &[]),
        None
    );
    assert_eq!(
        before.get("aftercare_outbox_oldest_due_age_seconds", &[]),
        0.0
    );

    let practitioner = app.signed_in("practitioner").await;
    let when = clinic_time(-Duration::hours(1));
    let (_, treatment) = app
        .patient_with_treatment(
            &practitioner,
            NAME,
            EMAIL,
            &[
                ("treated_at", when.as_str()),
                ("area_0", "cheeks"),
                ("depth_0", "1.0"),
            ],
        )
        .await;
    let schedule = rows(&app, treatment).await;
    let pending = schedule.iter().filter(|r| r.status == "pending").count() as f64;
    assert!(pending >= 2.0, "{schedule:?}");
    let recorded = scrape(&app).await;
    assert_eq!(recorded.get(OUTBOX, &[("status", "pending")]), pending);
    assert_eq!(recorded.get(OUTBOX, &[("status", "sent")]), 0.0);

    // A minute after the first reminder's time it is due, then sent.
    let first = schedule
        .iter()
        .filter(|r| r.status == "pending")
        .min_by_key(|r| r.send_at)
        .unwrap();
    app.clock
        .set(first.send_at.and_utc() + Duration::minutes(1));
    let due = scrape(&app).await;
    assert!(
        due.get("aftercare_outbox_oldest_due_age_seconds", &[]) >= 60.0,
        "due for a minute"
    );
    assert_eq!(worker.drain().await.unwrap().sent, 1);
    let mail = sink.wait_for(1, StdDuration::from_secs(5)).await.remove(0);

    let sent = scrape(&app).await;
    assert_eq!(sent.get(OUTBOX, &[("status", "sent")]), 1.0);
    assert_eq!(sent.get(OUTBOX, &[("status", "pending")]), pending - 1.0);
    assert_eq!(sent.get(OUTCOMES, &SENT), 1.0);
    assert_eq!(
        sent.get(
            OUTCOMES,
            &[("kind", "reminder"), ("outcome", "failed_temporarily")]
        ),
        0.0
    );
    assert_eq!(
        sent.get("aftercare_outbox_oldest_due_age_seconds", &[]),
        0.0
    );
    assert_eq!(
        sent.get("aftercare_worker_heartbeat_age_seconds", &[]),
        0.0,
        "the worker beat at the app's now"
    );

    // The patient opens the links in the email; their tokens stay out of the labels too.
    let text = mail.text_part("text/plain").unwrap();
    let (sheet, stop) = (link_in(&text, "/s/"), link_in(&text, "/unsubscribe/"));
    let anonymous = new_client();
    for link in [&sheet, &stop] {
        assert_eq!(
            anonymous.get(link).send().await.unwrap().status().as_u16(),
            200
        );
    }
    let opened = scrape(&app).await;
    for route in ["/s/{token}", "/unsubscribe/{token}"] {
        assert_eq!(
            opened.get(
                REQUESTS,
                &[("method", "GET"), ("route", route), ("status", "200")]
            ),
            1.0
        );
    }
    let tokens: Vec<&str> = [&sheet, &stop]
        .iter()
        .map(|l| l.rsplit('/').next().unwrap())
        .collect();
    assert!(tokens.iter().all(|t| t.len() >= 16), "{tokens:?}");
    assert_no_patient_data(&opened, &tokens);
}

crate::on_both_databases!(
    settings &[("AFTERCARE_METRICS_BIND", "127.0.0.1:0")];
    requests_are_counted_by_route_pattern_never_by_path,
    the_outbox_gauges_and_the_sends_counter_follow_a_sent_reminder,
);

mod off_by_default {
    use crate::helpers::*;

    async fn without_the_setting_nothing_serves_metrics(app: TestApp) {
        assert_eq!(app.metrics_address, None);
        assert_eq!(app.get("/metrics").await.status().as_u16(), 404);
        assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    }

    crate::on_both_databases!(without_the_setting_nothing_serves_metrics);
}
