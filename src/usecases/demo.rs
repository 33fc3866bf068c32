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
    /// Check-ins made (mixed triage results), and how many of them staff acknowledged.
    pub checkins: usize,
    pub acknowledged: usize,
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
        // Every seventh with PRP, so the Outcomes page has an add-on to break down by.
        add_ons: if n.is_multiple_of(7) {
            vec!["prp".into()]
        } else {
            vec![]
        },
        products: "Hyaluronic acid serum".into(),
        internal_notes: String::new(),
        ..TreatmentForm::default()
    }
}

#[derive(Default)]
struct Made {
    checkins: usize,
    acknowledged: usize,
}

/// What the `i`th patient answers a day or two after their treatment, so the Outcomes page has
/// shape: most "as expected", some worried (to review), a few red flags (call now, tell us, and
/// rarely an emergency); two of three answers that need one are acknowledged within hours.
/// About three treatments in five get a check-in; none before a day has passed.
fn demo_checkin(
    conn: &mut DbConn,
    practitioner: &User,
    treatment: i64,
    i: usize,
    now: DateTime<Utc>,
    made: &mut Made,
) -> AppResult<()> {
    use crate::usecases::checkins::{self, CheckinInput, Submitted};
    // A cheap mix that does not follow the treatment's areas (`i / 10` picks those).
    let roll = (i.wrapping_mul(7919) / 10) % 100;
    if roll >= 60 {
        return Ok(());
    }
    let Some(treated) = crate::usecases::treatments::get(conn, treatment)
        .ok()
        .map(|t| t.treated_at.and_utc())
    else {
        return Ok(());
    };
    let at = treated + Duration::hours(20 + (roll as i64 % 30));
    if at > now - Duration::minutes(5) {
        return Ok(());
    }
    let (answer, item) = match roll {
        0 => ("worried", Some("emergency-0")),
        1..=3 => ("worried", Some("call-now-0")),
        4..=8 => ("unsure", Some("tell-us-0")),
        9..=17 => ("worried", None),
        _ => ("fine", None),
    };
    let input = |item: Option<&str>| CheckinInput {
        answer: answer.into(),
        items: item.map(|i| vec![i.to_string()]).unwrap_or_default(),
        note: String::new(),
        photo: None,
    };
    // A plan without that red flag refuses the box: then the answer alone.
    let submitted = match checkins::submit(conn, treatment, input(item), None, "-", at) {
        Err(crate::error::AppError::Invalid(_)) => {
            checkins::submit(conn, treatment, input(None), None, "-", at)?
        }
        other => other?,
    };
    let Submitted::Recorded { triage, .. } = submitted else {
        return Ok(());
    };
    made.checkins += 1;
    if triage.needs_attention() && roll % 3 != 2 {
        let acked = (at + Duration::minutes(15 + 37 * (roll as i64 % 11))).min(now);
        if let Some(id) = checkins::latest_id(conn, treatment)? {
            let actor = practitioner.actor("-");
            checkins::acknowledge(
                conn,
                &actor,
                practitioner,
                id,
                "Called the patient",
                acked.naive_utc(),
            )?;
            made.acknowledged += 1;
        }
    }
    Ok(())
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
    crate::usecases::locations::save_clinic(
        conn,
        protocol,
        &actor,
        &ClinicInput {
            name: "Demo Skin Clinic".into(),
            locale: String::new(),
            site: crate::usecases::clinic::SiteInput {
                phone: "020 7946 0000".into(),
                email: "hello@demo.example".into(),
                address: "1 Example Street, London".into(),
                opening_hours: "Mon–Fri 9:00–18:00".into(),
                out_of_hours: "If it cannot wait, call NHS 111 or go to urgent care.".into(),
                time_zone: "Europe/London".into(),
                send_hour: "9".into(),
                sender_email: "aftercare@demo.example".into(),
                ..Default::default()
            },
            moves: String::new(),
        },
        timing,
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
    let mut made = Made::default();
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
                    let treatment = crate::usecases::treatments::record(
                        conn,
                        protocol,
                        &practitioner,
                        "-",
                        id,
                        &form,
                        timing,
                    )?;
                    demo_checkin(conn, &practitioner, treatment, i, now, &mut made)?;
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
        checkins: made.checkins,
        acknowledged: made.acknowledged,
        users,
    })
}
