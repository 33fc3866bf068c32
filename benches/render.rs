//! The CPU work behind one page or one email, without the database or the network:
//!
//! - the patient sheet (`GET /treatments/{id}/sheet` and `GET /s/{token}`): read the stored plan
//!   (JSON), build the sheet, render the askama page;
//! - one reminder email (the worker, per email): read the stored plan, compose, render the text
//!   and HTML parts, build the MIME message and format it as it goes over SMTP.
//!
//! `cargo bench --bench render`. See BENCHMARKS.md for the figures.

use std::hint::black_box;

use aftercare::care::{compute_plan, sample_input, Plan, Protocol};
use aftercare::mail::{self, reminder, Envelope};
use aftercare::usecases::clinic::Clinic;
use aftercare::web::treatments::PatientSheetPage;
use askama::Template;
use criterion::{criterion_group, criterion_main, Criterion};

fn clinic() -> Clinic {
    Clinic {
        name: "Demo Skin Clinic".into(),
        location: String::new(),
        location_id: 1,
        phone: "020 7946 0000".into(),
        email: "hello@demo.example".into(),
        address: "1 Example Street, London".into(),
        opening_hours: "Mon–Fri 9:00–18:00".into(),
        out_of_hours: "If it cannot wait, call NHS 111 or go to urgent care.".into(),
        time_zone: aftercare::usecases::clinic::Zone(chrono_tz::Europe::London),
        send_hour: 9,
        sender_email: "aftercare@demo.example".into(),
        reply_to: String::new(),
        reply_days: 1,
        configured: true,
        emergency_number: String::new(),
        locale: Default::default(),
    }
}

const SHEET_URL: &str = "http://127.0.0.1:8080/s/dDEyMzQ1.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl";
const UNSUBSCRIBE_URL: &str =
    "http://127.0.0.1:8080/unsubscribe/cDEyMzQ1.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl";

fn render_sheet(plan: &Plan, clinic: &Clinic) -> String {
    let sheet =
        aftercare::documents::sheet::build(plan, clinic, "Maya Patel", SHEET_URL.to_string());
    PatientSheetPage {
        sheet,
        checkin: "https://clinic.example/checkin/TOKEN".into(),
    }
    .render()
    .expect("the sheet renders")
}

fn compose(plan: &Plan, clinic: &Clinic, key: &str) -> reminder::ReminderEmail {
    let r = plan
        .reminders
        .iter()
        .find(|r| r.key == key)
        .expect("the key is in the plan");
    reminder::compose(
        plan,
        key,
        false,
        "Your aftercare",
        r.send_at,
        clinic,
        "Maya Patel",
        SHEET_URL.to_string(),
        UNSUBSCRIBE_URL.to_string(),
    )
}

fn message(email: &reminder::ReminderEmail, clinic: &Clinic) -> lettre::Message {
    let envelope = Envelope {
        from_name: &clinic.name,
        from_email: &clinic.sender_email,
        reply_to: Some(&clinic.email),
        to_name: "Maya Patel",
        to_email: "patient1@demo.example",
        subject: &email.subject,
        message_id: "<aftercare.r1.d3@demo.example>",
        unsubscribe_url: Some(UNSUBSCRIBE_URL),
    };
    mail::build_message(&envelope, email.text().unwrap(), email.html().unwrap())
        .expect("the message builds")
}

fn bench_render(c: &mut Criterion) {
    let protocol = Protocol::default_protocol();
    let plan = compute_plan(&protocol, &sample_input()).expect("the sample plan");
    let plan_json = serde_json::to_string(&plan).expect("the plan serialises");
    let clinic = clinic();
    // The reminder with the most milestones is the biggest email.
    let key = plan
        .reminders
        .iter()
        .max_by_key(|r| r.milestones.len())
        .map(|r| r.key.clone())
        .expect("the plan has reminders");

    let page = render_sheet(&plan, &clinic);
    let email = compose(&plan, &clinic, &key);
    let wire = message(&email, &clinic).formatted();
    eprintln!(
        "sizes: stored plan {} B, patient sheet page {} B, email text {} B, html {} B, on the wire {} B",
        plan_json.len(),
        page.len(),
        email.text().unwrap().len(),
        email.html().unwrap().len(),
        wire.len()
    );

    c.bench_function("plan/parse stored json", |b| {
        b.iter(|| serde_json::from_str::<Plan>(black_box(&plan_json)).unwrap())
    });
    c.bench_function("sheet/build", |b| {
        b.iter(|| {
            aftercare::documents::sheet::build(
                black_box(&plan),
                &clinic,
                "Maya Patel",
                SHEET_URL.to_string(),
            )
        })
    });
    c.bench_function("sheet/build + render page", |b| {
        b.iter(|| render_sheet(black_box(&plan), &clinic))
    });
    c.bench_function("sheet/parse json + build + render (per request)", |b| {
        b.iter(|| {
            let plan: Plan = serde_json::from_str(black_box(&plan_json)).unwrap();
            render_sheet(&plan, &clinic)
        })
    });

    c.bench_function("email/compose", |b| {
        b.iter(|| compose(black_box(&plan), &clinic, &key))
    });
    c.bench_function("email/compose + text + html", |b| {
        b.iter(|| {
            let email = compose(black_box(&plan), &clinic, &key);
            (email.text().unwrap(), email.html().unwrap())
        })
    });
    c.bench_function("email/build_message + formatted", |b| {
        b.iter(|| message(black_box(&email), &clinic).formatted())
    });
    c.bench_function(
        "email/parse json + compose + message + formatted (per email)",
        |b| {
            b.iter(|| {
                let plan: Plan = serde_json::from_str(black_box(&plan_json)).unwrap();
                let email = compose(&plan, &clinic, &key);
                message(&email, &clinic).formatted()
            })
        },
    );
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
