//! Who may use which route, for every route the app serves. The routes come
//! from the app's own table (`aftercare::web::routes::table`, from which its
//! routing is built), so a new route is checked here without being listed:
//! each role it is not for gets 403, a signed-out visitor the sign-in page,
//! and those it is for get past the door.

use aftercare::auth::Role;
use aftercare::web::routes::{table, Route, Who};
use reqwest::{Client, Response};

use crate::helpers::*;

/// The records a route's `{…}` parts name: a patient, a treatment the
/// practitioner recorded, one of its reminders, and user 1 (an admin).
struct Sample {
    patient: i64,
    treatment: i64,
    reminder: i64,
    user: i64,
}

impl Sample {
    /// `route`'s path with each `{name}` or `{name:regex}` part filled in: an id
    /// from the segment before it, the first choice of a regex, a made-up token.
    fn path(&self, route: &Route) -> String {
        let mut filled = Vec::new();
        for segment in route.path.split('/') {
            let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                filled.push(segment.to_string());
                continue;
            };
            let value = match param.split_once(':') {
                Some((_, choices)) => choices
                    .trim_matches(|c| c == '(' || c == ')')
                    .split('|')
                    .next()
                    .unwrap()
                    .to_string(),
                None => self.value(param, filled.last().map(String::as_str), route),
            };
            filled.push(value);
        }
        filled.join("/")
    }

    fn value(&self, param: &str, after: Option<&str>, route: &Route) -> String {
        let id = match (param, after) {
            ("id", Some("patients")) => self.patient,
            ("id", Some("treatments")) => self.treatment,
            ("id", Some("outbox")) | ("reminder", _) => self.reminder,
            ("id", Some("users")) => self.user,
            ("id", Some("locations")) => 1,
            // No check-in exists: the door is checked before the record is looked for.
            ("id", Some("attention" | "checkins")) => 1,
            ("token", _) => return "not-a-real-token".into(),
            ("file", _) => return "next-session.ics".into(),
            ("name", Some("static")) => return "app.css".into(),
            _ => panic!(
                "{} {}: no sample value for {{{param}}}; add one to Sample::value",
                route.method, route.path
            ),
        };
        id.to_string()
    }
}

/// `method path` as `client`, with a valid CSRF token and harmless (mostly
/// invalid) fields for a POST, so that only who asks decides a refusal.
async fn ask(app: &TestApp, client: &Client, route: &Route, path: &str) -> Response {
    match route.method.as_str() {
        "GET" => app.get_with(client, path).await,
        "POST" => app.post_form_with(client, path, &[("role", "admin")]).await,
        other => panic!("{other} {path}: the test knows GET and POST only"),
    }
}

/// A new browser, signed in as `email`.
async fn sign_in(app: &TestApp, email: &str) -> Client {
    let client = new_client();
    let r = app.log_in_with(&client, email, PASSWORD).await;
    assert_eq!(r.status().as_u16(), 303, "{email} signs in");
    client
}

fn to_sign_in(r: &Response) -> bool {
    r.status().as_u16() == 303
        && r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
}

/// What the database holds that a refused request could have changed.
async fn counts(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["users", "patients", "treatments", "reminders"] {
        counts.push(count_rows(app, table).await);
    }
    counts.push(
        scalar(
            app,
            "SELECT count(*) FROM users WHERE active AND role = 'admin'",
        )
        .await,
    );
    counts.push(
        scalar(
            app,
            "SELECT count(*) FROM reminders WHERE status = 'pending'",
        )
        .await,
    );
    counts
}

async fn each_role_gets_403_exactly_on_the_routes_it_may_not_use(app: TestApp) {
    let user = app.add_user("owner@clinic.example", "admin").await;
    let mut clients = Vec::new();
    for role in Role::ALL {
        let email = format!("{}@clinic.example", role.as_str());
        app.add_user(&email, role.as_str()).await;
        clients.push((role, email.clone(), sign_in(&app, &email).await));
    }
    let practitioner = clients[1].2.clone();
    assert_eq!(clients[1].0, Role::Practitioner);
    let patient = app
        .add_patient(&practitioner, "Ana Lima", "ana@example.com")
        .await;
    let when = clinic_time(-chrono::Duration::hours(1));
    let r = app
        .record_treatment(
            &practitioner,
            patient,
            &[
                ("treated_at", &when),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await;
    let treatment = id_in_location(&r);
    let reminder = with_conn(&app, move |conn| {
        aftercare::usecases::store::reminders::for_treatment(conn, treatment).unwrap()[0].id
    })
    .await;
    let sample = Sample {
        patient,
        treatment,
        reminder,
        user,
    };
    let routes = table();
    assert!(routes.len() >= 55, "the whole table: {}", routes.len());
    let before = counts(&app).await;

    // Refusals first: they change nothing, so every route sees the same records.
    for route in &routes {
        let path = sample.path(route);
        let (method, pattern) = (&route.method, route.path);
        match route.who {
            Who::Roles(allowed) => {
                for (role, _, client) in &clients {
                    if allowed.contains(role) {
                        continue;
                    }
                    let r = ask(&app, client, route, &path).await;
                    assert_eq!(r.status().as_u16(), 403, "{role:?} {method} {path}");
                    assert!(
                        r.text().await.unwrap().contains("Not allowed"),
                        "{role:?} {method} {path}"
                    );
                }
                let r = ask(&app, &new_client(), route, &path).await;
                assert!(
                    to_sign_in(&r),
                    "signed out, {method} {path} ({pattern}): {r:?}"
                );
            }
            Who::Anyone => {
                for client in clients
                    .iter()
                    .map(|(.., c)| c.clone())
                    .chain([new_client()])
                {
                    let r = ask(&app, &client, route, &path).await;
                    let status = r.status().as_u16();
                    assert!(
                        status != 403 && status < 500 && !to_sign_in(&r),
                        "{method} {path} is open to anyone, but gave {status}"
                    );
                }
            }
        }
    }
    assert_eq!(
        counts(&app).await,
        before,
        "a refused request changed nothing"
    );

    // Those a route is for get past the door: pages first, then each form's
    // POST from a new sign-in of the same user, as some end the session (sign
    // out) or change the records (delete the treatment).
    let (pages, forms): (Vec<&Route>, Vec<&Route>) =
        routes.iter().partition(|r| r.method.as_str() == "GET");
    for route in pages.into_iter().chain(forms) {
        let Who::Roles(allowed) = route.who else {
            continue;
        };
        let path = sample.path(route);
        for (role, email, client) in clients.iter().filter(|(r, ..)| allowed.contains(r)) {
            let client = match route.method.as_str() {
                "GET" => client.clone(),
                _ => sign_in(&app, email).await,
            };
            let r = ask(&app, &client, route, &path).await;
            let status = r.status().as_u16();
            assert!(
                status != 403 && status < 500 && !to_sign_in(&r),
                "{role:?} must be allowed {} {path}, gave {status}",
                route.method
            );
        }
    }
}

crate::on_both_databases!(each_role_gets_403_exactly_on_the_routes_it_may_not_use);
