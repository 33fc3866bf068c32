//! Demo data: a configured clinic, one user per role, and many patients with
//! treatments, so the app can be tried (and measured) with realistic volume.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use crate::auth::Role;
use crate::care::Protocol;
use crate::error::AppResult;
use crate::usecases::accounts::{self, NewUserInput, User};
use crate::usecases::clinic::ClinicInput;
use crate::usecases::store::{self, patients::PatientFields, write_tx, DbConn};
use crate::usecases::treatments::{AreaRowInput, TreatmentForm};

pub const DEMO_PASSWORD: &str = "demo password 2026";

const FIRST: [&str; 24] = [
    "Maya", "Liam", "Ava", "Noah", "Zoë", "Omar", "Isla", "Ravi", "Chloé", "Mateo", "Amara",
    "Jonas", "Priya", "Leo", "Sofia", "Kenji", "Nadia", "Ethan", "Aisha", "Lucas", "Freya",
    "Tariq", "Elena", "Sam",
];
const LAST: [&str; 20] = [
    "Patel", "Smith", "García", "Okafor", "Nguyen", "Müller", "Rossi", "Kowalski", "Haddad",
    "Silva", "Brown", "Tanaka", "O'Neill", "Ivanova", "Khan", "Dubois", "Jensen", "Lopez",
    "Mensah", "Wright",
];
/// Treatments are varied but typical: (area, depth) sets.
const TREATMENTS: [&[(&str, &str)]; 5] = [
    &[("cheeks", "1.0"), ("forehead", "0.5")],
    &[("periorbital", "0.25")],
    &[("abdomen", "2.0")],
    &[("neck", "0.75"), ("decollete", "0.75")],
    &[("cheeks", "1.5"), ("chin-jaw", "1.0"), ("nose", "0.5")],
];

pub struct SeedReport {
    pub patients: usize,
    pub treatments: usize,
    pub users: Vec<(String, Role)>,
}

fn demo_patient(i: usize, practitioner: i64, at: NaiveDateTime) -> PatientFields {
    let name = format!(
        "{} {}",
        FIRST[i % FIRST.len()],
        LAST[(i / FIRST.len()) % LAST.len()]
    );
    let phone = format!("07700 900{:03}", i % 1000);
    PatientFields {
        name_search: name.to_lowercase(),
        name,
        email: Some(format!("patient{i}@demo.example")),
        // Ofcom's numbers for drama (07700 900000 to 900999): never anyone's phone.
        phone_search: crate::usecases::store::patients::phone_key(&phone),
        phone: Some(phone),
        date_of_birth: None,
        email_consent: true,
        consent_by: Some(practitioner),
        consent_at: Some(at),
        updated_at: at,
    }
}

/// The `n`th treatment of a chunk: areas cycle through [`TREATMENTS`], times
/// through the last 300 hours.
fn demo_treatment(n: usize, now: DateTime<Utc>, tz: chrono_tz::Tz) -> TreatmentForm {
    let areas = TREATMENTS[(n / 10) % TREATMENTS.len()];
    let when = (now - Duration::hours(2 + (n as i64 % 300)))
        .with_timezone(&tz)
        .naive_local();
    TreatmentForm {
        treated_at: crate::usecases::treatments::form_datetime(when),
        rows: areas
            .iter()
            .map(|(a, d)| AreaRowInput {
                area: a.to_string(),
                depth: d.to_string(),
            })
            .collect(),
        device: "Demo pen".into(),
        products: "Hyaluronic acid serum".into(),
        internal_notes: String::new(),
        ..TreatmentForm::default()
    }
}

fn demo_user(conn: &mut DbConn, role: Role, now: DateTime<Utc>) -> AppResult<User> {
    let email = format!("{}@demo.example", role.as_str());
    if let Some(row) = store::users::find_by_email(conn, &email)? {
        return accounts::get_user(conn, row.id);
    }
    let input = NewUserInput {
        name: format!("Demo {}", role.label()),
        email: email.clone(),
        role: role.as_str().into(),
        password: DEMO_PASSWORD.into(),
        password_confirm: DEMO_PASSWORD.into(),
        password_mode: "password".into(),
    };
    let id = accounts::add_user_from_cli(conn, &input, now.naive_utc())?;
    accounts::get_user(conn, id)
}

/// Adds `patients` patients (every tenth with a treatment in the last two weeks), as of
/// `timing.now`.
pub fn seed(
    conn: &mut DbConn,
    protocol: &Protocol,
    patients: usize,
    timing: crate::usecases::reminders::Timing,
) -> AppResult<SeedReport> {
    let now: DateTime<Utc> = timing.now.and_utc();
    let actor = crate::usecases::audit::Actor::anonymous("demo seed", "-");
    crate::usecases::clinic::save(
        conn,
        &actor,
        &ClinicInput {
            name: "Demo Skin Clinic".into(),
            phone: "020 7946 0000".into(),
            email: "hello@demo.example".into(),
            address: "1 Example Street, London".into(),
            opening_hours: "Mon–Fri 9:00–18:00".into(),
            out_of_hours: "If it cannot wait, call NHS 111 or go to urgent care.".into(),
            time_zone: "Europe/London".into(),
            send_hour: "9".into(),
            sender_email: "aftercare@demo.example".into(),
            emergency_number: String::new(),
            reply_days: String::new(),
            locale: String::new(),
        },
        now.naive_utc(),
    )?;
    let mut users = Vec::new();
    let mut practitioner = None;
    for role in Role::ALL {
        let user = demo_user(conn, role, now)?;
        users.push((user.email.clone(), role));
        if role == Role::Practitioner {
            practitioner = Some(user);
        }
    }
    let practitioner = practitioner.expect("a practitioner was added");
    let tz: chrono_tz::Tz = "Europe/London".parse().expect("valid zone");
    let at = now.naive_utc();
    let mut treated = 0;
    // One transaction per 1,000 patients and their treatments: a commit per
    // treatment made seeding PostgreSQL wait on WAL flushes (BENCHMARKS.md, F8).
    for chunk_start in (0..patients).step_by(1000) {
        treated += write_tx(conn, |conn| {
            let mut in_chunk = 0;
            for i in chunk_start..(chunk_start + 1000).min(patients) {
                let id = store::patients::insert(conn, &demo_patient(i, practitioner.id, at), at)?;
                // Every tenth patient has had a treatment.
                let n = i - chunk_start;
                if n % 10 == 0 {
                    let form = demo_treatment(n, now, tz);
                    crate::usecases::treatments::record(
                        conn,
                        protocol,
                        &practitioner,
                        "-",
                        id,
                        &form,
                        timing,
                    )?;
                    in_chunk += 1;
                }
            }
            Ok::<_, crate::error::AppError>(in_chunk)
        })?;
    }
    store::refresh_planner_statistics(conn)?;
    Ok(SeedReport {
        patients,
        treatments: treated,
        users,
    })
}
