//! The test harness, shared by the api tests (`tests/api/`), the browser test
//! (`tests/browser.rs`) and the worker bench (`benches/worker.rs`), each of which includes it
//! with `#[path = "…/support/mod.rs"] mod support;`:
//! - a real server on a random port with a fresh database ([`spawn_app`]), driven over HTTP
//!   with a cookie jar, as a browser would;
//! - fresh databases ([`db`]): a SQLite file, or a PostgreSQL database dropped afterwards;
//! - an SMTP server that records what the app sends ([`smtp_sink`]).
//!
//! Tests that need PostgreSQL are declared with [`on_both_databases!`](crate::on_both_databases):
//! without `AFTERCARE_TEST_DATABASE_URL` at build time they are reported as ignored, never as
//! passed (build.rs; the README's "Development" section).

// Each includer uses a part of it.
#![allow(dead_code)]

pub mod db;
pub mod migrations;
pub mod smtp_sink;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aftercare::clock::ManualClock;
use aftercare::config::Settings;
use aftercare::jobs::Worker;
use aftercare::mail::Mailer;
use aftercare::startup::Application;
use aftercare::usecases::accounts::{self, NewUserInput};
use aftercare::usecases::store;
use aftercare::web::AppState;
use diesel::RunQueryDsl;
use reqwest::{redirect, Client, Response};

pub use db::{Db, TestDb};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:PORT` of `/metrics`, when started with `AFTERCARE_METRICS_BIND`.
    pub metrics_address: Option<String>,
    pub client: Client,
    pub state: AppState,
    /// The app's clock: it stands still until a test moves it.
    pub clock: Arc<ManualClock>,
    pub mail_dir: tempfile::TempDir,
    _db: TestDb,
}

/// The app's settings for a test: this database, any free port, mail written to `mail_dir`,
/// then `extra` (which wins).
pub fn settings(database_url: &str, mail_dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("AFTERCARE_DATABASE_URL".into(), database_url.into()),
        ("AFTERCARE_BIND".into(), "127.0.0.1:0".into()),
        ("AFTERCARE_MAIL_DIR".into(), mail_dir.display().to_string()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_lookup(|k| vars.get(k).cloned())
        .unwrap_or_else(|errors| panic!("invalid test settings: {}", errors.join("; ")))
}

/// Starts the app on a fresh database of its own, with `extra` settings.
pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    let (test_db, url) = TestDb::fresh(db);
    spawn_app_on(test_db, &url, extra).await
}

/// Starts the app on a database made for the test (`url` is `test_db`'s), which other
/// processes of the test may share.
pub async fn spawn_app_on(test_db: TestDb, url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mail_dir = tempfile::tempdir().unwrap();
    let settings = settings(url, mail_dir.path(), extra);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = Application::build_with_clock(settings, false, clock.clone()).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        client: new_client(),
        state,
        clock,
        mail_dir,
        _db: test_db,
    }
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, &[]).await
}

/// A browser: its own cookie jar, never following redirects by itself.
pub fn new_client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The page at an absolute `url`, as `client` sees it.
pub async fn text_at(client: &Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// The value of `<input name="csrf_token" value="…">` in a page.
pub fn csrf_in(html: &str) -> String {
    hidden_value(html, "csrf_token").expect("the page has a CSRF token")
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// The whole link in an email's text whose path contains `path`.
pub fn link_in(text: &str, path: &str) -> String {
    let start = text
        .find(path)
        .unwrap_or_else(|| panic!("no {path} link in the email"));
    let begin = text[..start].rfind("http").unwrap();
    text[begin..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .next()
        .unwrap()
        .to_string()
}

/// A form refused (422), saying `message` on the page it shows again.
pub async fn assert_refused_saying(response: Response, message: &str) {
    assert_eq!(response.status().as_u16(), 422, "not refused: {message}");
    let page = response.text().await.unwrap();
    assert!(page.contains(message), "the page does not say {message:?}");
}

pub fn assert_redirect_to(response: &Response, location: &str) {
    assert_eq!(
        response.status().as_u16(),
        303,
        "expected a redirect to {location}"
    );
    assert_eq!(response.headers()["location"], location);
}

/// Runs blocking store work against the app's database.
pub async fn with_conn<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&mut store::DbConn) -> T + Send + 'static,
) -> T {
    let pool = app.state.pool.clone();
    tokio::task::spawn_blocking(move || f(&mut pool.get().unwrap()))
        .await
        .unwrap()
}

/// A number the database answers to `sql` (a scalar `SELECT`), on either backend.
pub async fn scalar(app: &TestApp, sql: &str) -> i64 {
    use diesel::dsl::sql as raw;
    use diesel::sql_types::BigInt;
    let query = format!("({sql})");
    with_conn(app, move |conn| match conn {
        store::DbConn::Sqlite(c) => diesel::select(raw::<BigInt>(&query)).get_result::<i64>(c),
        store::DbConn::Pg(c) => diesel::select(raw::<BigInt>(&query)).get_result::<i64>(c),
    })
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many rows `table` holds.
pub async fn count_rows(app: &TestApp, table: &str) -> i64 {
    scalar(app, &format!("SELECT count(*) FROM {table}")).await
}

/// The id at the end of a redirect's `Location` (`/patients/7` → 7).
pub fn id_in_location(r: &Response) -> i64 {
    let location = r.headers()["location"].to_str().unwrap();
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// The clinic's wall-clock time (Europe/London, the default) `offset` from
/// now, as the treatment form takes it.
pub fn clinic_time(offset: chrono::Duration) -> String {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    (chrono::Utc::now().with_timezone(&tz) + offset)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Yesterday at 14:30 in the clinic's zone (Europe/London by default), as the
/// treatment form takes it, with that day.
pub fn yesterday_afternoon() -> (String, chrono::NaiveDate) {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let day = chrono::Utc::now().with_timezone(&tz).date_naive() - chrono::Duration::days(1);
    (format!("{day}T14:30"), day)
}

impl TestApp {
    /// Adds a patient who consents to emails, through the form; returns its id.
    pub async fn add_patient(&self, client: &Client, name: &str, email: &str) -> i64 {
        let r = self
            .post_form_with(
                client,
                "/patients/new",
                &[("name", name), ("email", email), ("email_consent", "yes")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "patient added");
        id_in_location(&r)
    }

    /// Adds a patient and records one treatment for them; returns (patient, treatment).
    pub async fn patient_with_treatment(
        &self,
        client: &Client,
        name: &str,
        email: &str,
        fields: &[(&str, &str)],
    ) -> (i64, i64) {
        let patient = self.add_patient(client, name, email).await;
        let r = self.record_treatment(client, patient, fields).await;
        assert_eq!(r.status().as_u16(), 303, "treatment recorded");
        (patient, id_in_location(&r))
    }

    /// A new practitioner records Ada Brook's forehead treatment (0.5 mm) of an hour ago, with
    /// any `extra` form fields; returns (patient, treatment).
    pub async fn ada_treated_an_hour_ago(&self, extra: &[(&str, &str)]) -> (i64, i64) {
        let practitioner = self.signed_in("practitioner").await;
        let when = clinic_time(-chrono::Duration::hours(1));
        let mut fields = vec![
            ("treated_at", when.as_str()),
            ("area_0", "forehead"),
            ("depth_0", "0.5"),
        ];
        fields.extend_from_slice(extra);
        self.patient_with_treatment(&practitioner, "Ada Brook", "ada@example.com", &fields)
            .await
    }

    /// GET `/metrics` on its own address (`AFTERCARE_METRICS_BIND` must be set).
    pub async fn get_metrics(&self) -> Response {
        let address = self.metrics_address.as_deref().expect("metrics are on");
        self.client
            .get(format!("{address}/metrics"))
            .send()
            .await
            .unwrap()
    }

    /// POSTs a multipart form (a check-in, as the browser sends it) to `path` as `client`.
    pub async fn post_multipart(
        &self,
        client: &Client,
        path: &str,
        (content_type, body): (String, Vec<u8>),
    ) -> Response {
        client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Records a treatment for `patient` through the form; returns the response.
    pub async fn record_treatment(
        &self,
        client: &Client,
        patient: i64,
        fields: &[(&str, &str)],
    ) -> Response {
        let patient = patient.to_string();
        let mut body = vec![("patient_id", patient.as_str())];
        body.extend_from_slice(fields);
        self.post_form_with(client, "/treatments", &body).await
    }

    /// Edits treatment `id` through its form; returns the response.
    pub async fn edit_treatment(
        &self,
        client: &Client,
        id: i64,
        fields: &[(&str, &str)],
    ) -> Response {
        self.post_form_with(client, &format!("/treatments/{id}/edit"), fields)
            .await
    }

    /// GET `path` as `client`, with `If-None-Match: tag`.
    pub async fn get_if_none_match(&self, client: &Client, path: &str, tag: &str) -> Response {
        client
            .get(self.url(path))
            .header("If-None-Match", tag)
            .send()
            .await
            .unwrap()
    }

    /// The app's "now", as the database stores it.
    pub fn now(&self) -> chrono::NaiveDateTime {
        use aftercare::clock::Clock;
        self.clock.now_naive()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get_with(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(&self.client, path).await
    }

    /// The new-treatment form for `patient`, as `client` sees it.
    pub async fn treatment_form(&self, client: &Client, patient: i64) -> String {
        self.get_text_with(client, &format!("/patients/{patient}/treatments/new"))
            .await
    }

    pub async fn get_text_with(&self, client: &Client, path: &str) -> String {
        self.get_with(client, path).await.text().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// A CSRF token for this client, read from a page with a form, as a
    /// browser would have it.
    pub async fn csrf_for(&self, client: &Client) -> String {
        let page = self.get_with(client, "/login").await;
        let html = page.text().await.unwrap();
        if let Some(token) = hidden_value(&html, "csrf_token") {
            return token;
        }
        // Signed in: /login redirects; the home page has the sign-out form.
        csrf_in(&self.get_with(client, "/").await.text().await.unwrap())
    }

    /// Posts a form with a valid CSRF token for `client`.
    pub async fn post_form_with(
        &self,
        client: &Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = self.csrf_for(client).await;
        let mut body: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        body.extend_from_slice(fields);
        self.post_raw_with(client, path, &body).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_with(&self.client, path, fields).await
    }

    /// Posts exactly these fields: no token is added.
    pub async fn post_raw_with(
        &self,
        client: &Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Adds a user straight through the use case (as `aftercare user add` does).
    pub async fn add_user(&self, email: &str, role: &str) -> i64 {
        let input = NewUserInput {
            name: format!("Test {role}"),
            email: email.into(),
            role: role.into(),
            password: PASSWORD.into(),
            password_confirm: PASSWORD.into(),
            password_mode: "password".into(),
        };
        let now = self.now();
        with_conn(self, move |conn| {
            accounts::add_user_from_cli(conn, &input, now)
        })
        .await
        .expect("user added")
    }

    /// Signs in through the form, asking to go on to `next` afterwards.
    pub async fn log_in_then(&self, client: &Client, email: &str, next: &str) -> Response {
        self.post_form_with(
            client,
            "/login",
            &[("email", email), ("password", PASSWORD), ("next", next)],
        )
        .await
    }

    pub async fn log_in_with(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_form_with(
            client,
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// A new browser signed in as a new user with this role.
    pub async fn signed_in(&self, role: &str) -> Client {
        let email = format!(
            "{role}-{}@clinic.example",
            &aftercare::auth::tokens::random_token()[..6].to_lowercase()
        );
        self.add_user(&email, role).await;
        let client = new_client();
        let response = self.log_in_with(&client, &email, PASSWORD).await;
        assert_eq!(response.status().as_u16(), 303, "log-in as {role} failed");
        client
    }

    /// An admin fills in Clinic settings: London, a phone, opening hours, an
    /// out-of-hours line and the clinic's own address `email`.
    pub async fn configure_clinic(&self, name: &str, email: &str) {
        self.configure_clinic_in(name, email, "Europe/London", "NHS 111")
            .await;
    }

    /// As [`configure_clinic`](Self::configure_clinic), in the time zone `zone`, with
    /// `out_of_hours` advice that fits it (a UK number is refused beside a US zone).
    pub async fn configure_clinic_in(
        &self,
        name: &str,
        email: &str,
        zone: &str,
        out_of_hours: &str,
    ) {
        let admin = self.signed_in("admin").await;
        let r = self
            .post_form_with(
                &admin,
                "/admin/clinic",
                &[
                    ("name", name),
                    ("phone", "020 7946 0000"),
                    ("email", email),
                    ("address", "1 High Street, London"),
                    ("opening_hours", "Mon to Fri, 9:00 to 17:00"),
                    ("out_of_hours", out_of_hours),
                    ("time_zone", zone),
                    ("send_hour", "9"),
                    ("sender_email", "aftercare@glow.example"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "clinic settings saved");
    }

    /// The app's worker as `serve` builds it, but sending with `mailer` on `clock`.
    pub fn worker_with(&self, mailer: Mailer, clock: Arc<ManualClock>) -> Worker {
        let worker = aftercare::startup::worker_for(&self.state).expect("the app's worker");
        Worker {
            config: aftercare::jobs::WorkerConfig {
                // As `worker_for` derives it, for this mailer.
                lease: aftercare::jobs::lease::lease_for(mailer.longest_send()),
                ..worker.config
            },
            mailer: Arc::new(mailer),
            clock,
            ..worker
        }
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        with_conn(self, |conn| {
            aftercare::usecases::store::audit::page(conn, 0, 1000)
                .unwrap()
                .into_iter()
                .map(|r| r.action)
                .collect()
        })
        .await
    }
}

/// Declares async tests `fn(TestApp)` and runs each on SQLite and on PostgreSQL; with
/// `settings EXTRA;` first, each app starts with those settings too (as [`spawn_app_with`]).
///
/// The PostgreSQL variants are ignored, with the reason in the summary, unless the tests were
/// built with `AFTERCARE_TEST_DATABASE_URL` set or with `CI=true` (the `aftercare_pg` cfg, set
/// by build.rs); then a missing or unreachable server fails them.
#[macro_export]
macro_rules! on_both_databases {
    (settings $extra:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::spawn_app_with($crate::support::Db::Sqlite, $extra).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(aftercare_pg),
                    ignore = "needs PostgreSQL: build and run with AFTERCARE_TEST_DATABASE_URL set"
                )]
                async fn $name() {
                    super::$name($crate::support::spawn_app_with($crate::support::Db::Postgres, $extra).await).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_databases!(settings &[]; $($name),*);
    };
}
