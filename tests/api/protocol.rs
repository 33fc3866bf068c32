//! Snapshots of the clinical text as patients get it: the whole printed sheet and every email of
//! the three worked examples, and of a morning (10:00) and an evening (19:30) treatment.
//!
//! Any change to the protocol's text, or to how a sheet or email lays it out, changes a `.snap`
//! file under `tests/api/snapshots/`, so it is reviewed in the pull request like code. To accept
//! a reviewed change: `INSTA_UPDATE=always cargo test --test api protocol` (or `cargo insta
//! review`), then commit the `.snap` files.

use aftercare::care::{compute_plan, Protocol, TreatedArea, TreatmentInput};
use aftercare::documents::sheet::{self, SheetBody};
use aftercare::mail::reminder::compose;
use aftercare::usecases::clinic::Clinic;
use askama::Template;

use crate::helpers::{assert_redirect_to, id_in_location, TestApp};

struct Case {
    name: &'static str,
    areas: &'static [(&'static str, f64)],
    treated_at: &'static str,
    time_zone: &'static str,
    send_hour: u32,
}

const CASES: &[Case] = &[
    Case {
        name: "superficial_periorbital_0_25mm",
        areas: &[("periorbital", 0.25)],
        treated_at: "2026-10-30T16:00:00",
        time_zone: "America/New_York",
        send_hour: 8,
    },
    Case {
        name: "standard_cheeks_forehead_1_0mm",
        areas: &[("cheeks", 1.0), ("forehead", 1.0)],
        treated_at: "2026-03-27T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "deep_abdomen_2_0mm",
        areas: &[("abdomen", 2.0)],
        treated_at: "2026-12-18T11:00:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "morning_10_00",
        areas: &[("cheeks", 1.0)],
        treated_at: "2026-06-01T10:00:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "evening_19_30",
        areas: &[("cheeks", 1.0)],
        treated_at: "2026-06-01T19:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "hands_0_5mm",
        areas: &[("hands", 0.5)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "scalp_1_0mm",
        areas: &[("scalp", 1.0)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "neck_1_0mm",
        areas: &[("neck", 1.0)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "back_2_0mm",
        areas: &[("back", 2.0)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "upper_lip_0_5mm",
        areas: &[("upper-lip", 0.5)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
    Case {
        name: "around_the_eyes_0_5mm",
        areas: &[("periorbital", 0.5)],
        treated_at: "2026-06-01T14:30:00",
        time_zone: "Europe/London",
        send_hour: 9,
    },
];

/// The clinic is in the case's zone, so its default emergency number differs (911 vs 999), and
/// so does its out-of-hours line: the UK's 111 does not work in the US (review L13).
pub(crate) fn clinic(time_zone: &str) -> Clinic {
    let out_of_hours = if time_zone.starts_with("America/") {
        "Call our answering service on 020 7946 0000."
    } else {
        "Call 111."
    };
    Clinic {
        name: "Glow Clinic".into(),
        location: String::new(),
        location_id: 1,
        phone: "020 7946 0000".into(),
        email: "hello@glow.example".into(),
        address: "1 High Street".into(),
        opening_hours: "Mon–Fri 9–6".into(),
        out_of_hours: out_of_hours.into(),
        time_zone: aftercare::usecases::clinic::Zone::try_from(time_zone.to_string()).unwrap(),
        send_hour: 9,
        sender_email: "aftercare@glow.example".into(),
        reply_to: String::new(),
        reply_days: 1,
        configured: true,
        emergency_number: String::new(),
        locale: Default::default(),
    }
}

fn plan(case: &Case) -> aftercare::care::Plan {
    let input = TreatmentInput {
        tailoring: Default::default(),
        areas: case
            .areas
            .iter()
            .map(|(id, depth)| TreatedArea {
                area_id: id.to_string(),
                depth_mm: *depth,
            })
            .collect(),
        treated_at: case.treated_at.parse().unwrap(),
        time_zone: case.time_zone.into(),
        send_hour: case.send_hour,
    };
    compute_plan(&Protocol::default_protocol(), &input).unwrap()
}

/// A page's HTML as a reader sees it: one line per block (a check-in box's label too), list
/// items as "- ", no markup.
pub(crate) fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |i| open + i + 1);
        let tag = &rest[open + 1..close - 1];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/').split(' ').next().unwrap_or("");
        match (name.to_ascii_lowercase().as_str(), closing) {
            ("li", false) => text.push_str("\n- "),
            ("td" | "th", false) => text.push_str(" | "),
            ("p" | "div" | "h1" | "h2" | "h3" | "h4" | "tr" | "br" | "section" | "header", _)
            | ("footer" | "ul" | "table" | "label" | "legend" | "fieldset" | "aside", _) => {
                text.push('\n')
            }
            _ => {}
        }
        rest = &rest[close..];
    }
    text.push_str(rest);
    let text = text
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_visible_text_keeps_blocks_and_list_items_apart() {
    let html =
        "<section><h2>Tonight</h2>\n  <ul><li>Sleep &amp; rest.</li><li>It&#39;s fine.</li></ul>\
                <table><tr><th>Product</th><th>From</th></tr></table></section>";
    assert_eq!(
        visible_text(html),
        "Tonight\n- Sleep & rest.\n- It's fine.\n| Product | From"
    );
}

#[test]
fn snapshots_of_every_sheet() {
    for case in CASES {
        let plan = plan(case);
        let sheet = sheet::build(
            &plan,
            &clinic(case.time_zone),
            "Maya Patel",
            "https://clinic.example/s/TOKEN".into(),
        );
        let html = SheetBody { sheet: &sheet }.render().unwrap();
        insta::assert_snapshot!(format!("sheet_{}", case.name), visible_text(&html));
    }
}

/// Every email of a plan, one after the other, as the patient reads them.
fn every_email(plan: &aftercare::care::Plan, clinic: &Clinic) -> String {
    let mut all = String::new();
    for reminder in &plan.reminders {
        let email = compose(
            plan,
            &reminder.key,
            false,
            &reminder.subject,
            reminder.send_at,
            clinic,
            "Maya Patel",
            "https://clinic.example/s/TOKEN".into(),
            "https://clinic.example/u/TOKEN".into(),
        );
        all.push_str(&format!(
            "========== {} · {} UTC\nSubject: {}\n\n{}\n\n",
            reminder.key,
            reminder.send_at.format("%Y-%m-%d %H:%M"),
            email.subject,
            email.text().unwrap()
        ));
    }
    all
}

type Areas = &'static [(&'static str, f64)];

/// M1, M2, M3 over the real renderers: a hands patient's sheet and emails carry the hands rules
/// and never say "avoid washing"; a back patient is never told to sleep on the back.
#[test]
fn area_rules_reach_the_sheet_and_every_email() {
    let cases: [(&str, Areas, &str, &str); 2] = [
        (
            "hands",
            &[("hands", 0.5)],
            "mild soap",
            "Washing or touching the treated skin.",
        ),
        (
            "back",
            &[("back", 2.0)],
            "Sleep on your side or front",
            "Sleep on your back",
        ),
    ];
    for (name, areas, must, never) in cases {
        let plan = plan(&Case {
            name: "area",
            areas,
            treated_at: "2026-06-01T14:30:00",
            time_zone: "Europe/London",
            send_hour: 9,
        });
        let clinic = clinic("Europe/London");
        let sheet = sheet::build(&plan, &clinic, "Maya Patel", "https://x/s/T".into());
        let html = SheetBody { sheet: &sheet }.render().unwrap();
        assert!(html.contains(must) && !html.contains(never), "{name} sheet");
        let emails = every_email(&plan, &clinic);
        assert!(!emails.contains(never), "{name} emails");
        for reminder in plan.reminders.iter().filter(|r| r.day <= 3) {
            let one = compose(
                &plan,
                &reminder.key,
                false,
                "x",
                reminder.send_at,
                &clinic,
                "Maya Patel",
                "https://x/s/T".into(),
                "https://x/u/T".into(),
            );
            let text = one.text().unwrap();
            if name == "hands" {
                assert!(
                    text.contains("FOR YOUR TREATED AREAS") && text.contains("mild soap"),
                    "{}",
                    reminder.key
                );
            }
        }
    }
}

/// On every band's sheet, peels and laser come back no earlier than exfoliating acids.
#[test]
fn peels_and_laser_never_come_back_before_acids() {
    for case in CASES {
        let plan = plan(case);
        let acids = plan
            .actives
            .iter()
            .find(|a| a.key == "active-aha-bha")
            .unwrap();
        let peels = plan
            .avoid_until
            .iter()
            .find(|a| a.items.iter().any(|i| i.contains("peels")))
            .unwrap();
        assert!(peels.until.local.date() >= acids.from, "{}", case.name);
    }
}

#[test]
fn snapshots_of_every_email() {
    for case in CASES {
        let all = every_email(&plan(case), &clinic(case.time_zone));
        insta::assert_snapshot!(format!("emails_{}", case.name), all);
    }
}

/// A tailored plan: heat and sweat to 96 h, a note for the patient, PRP and darker skin.
fn tailored_plan(treated_at: &str) -> aftercare::care::Plan {
    let input = TreatmentInput {
        tailoring: aftercare::care::Tailoring {
            adjustments: [("heat-sweat-water".to_string(), 96)].into(),
            add_ons: vec!["prp".into()],
            considerations: vec!["darker-skin".into()],
            patient_note: "Use the balm we gave you twice a day.".into(),
        },
        areas: vec![TreatedArea {
            area_id: "cheeks".into(),
            depth_mm: 1.0,
        }],
        treated_at: treated_at.parse().unwrap(),
        time_zone: "Europe/London".into(),
        send_hour: 9,
    };
    compute_plan(&Protocol::default_protocol(), &input).unwrap()
}

#[test]
fn snapshots_of_a_tailored_sheet_and_its_emails() {
    let plan = tailored_plan("2026-06-01T14:30:00");
    let clinic = clinic("Europe/London");
    let sheet = sheet::build(
        &plan,
        &clinic,
        "Maya Patel",
        "https://clinic.example/s/TOKEN".into(),
    );
    let html = SheetBody { sheet: &sheet }.render().unwrap();
    insta::assert_snapshot!("sheet_tailored", visible_text(&html));
    insta::assert_snapshot!("emails_tailored", every_email(&plan, &clinic));
}

/// The one email of a morning two treatments share: a tailored face treatment four days
/// ago and a plain one (abdomen) yesterday.
#[test]
fn snapshot_of_one_email_for_two_treatments() {
    use aftercare::mail::reminder::{compose_combined, Part};
    let face = tailored_plan("2026-06-01T14:30:00");
    let body = plan(&Case {
        name: "body",
        areas: &[("abdomen", 1.5)],
        treated_at: "2026-06-04T11:00:00",
        time_zone: "Europe/London",
        send_hour: 9,
    });
    let mut all = String::new();
    for b in &body.reminders {
        let Some(f) = face.reminders.iter().find(|f| f.send_at == b.send_at) else {
            continue;
        };
        let parts = [
            Part {
                plan: &body,
                key: &b.key,
                sheet_only: false,
                fallback_subject: &b.subject,
                sheet_url: "https://clinic.example/s/BODY".into(),
            },
            Part {
                plan: &face,
                key: &f.key,
                sheet_only: false,
                fallback_subject: &f.subject,
                sheet_url: "https://clinic.example/s/FACE".into(),
            },
        ];
        let email = compose_combined(
            &parts,
            b.send_at,
            &clinic("Europe/London"),
            "Maya Patel",
            "https://clinic.example/u/TOKEN".into(),
        )
        .unwrap();
        // The face's adjustments and note are in the face's own section, not the body's.
        assert!(email.adjusted.is_empty() && email.patient_note.is_empty());
        assert!(!email.also[0].adjusted.is_empty() && !email.also[0].patient_note.is_empty());
        all.push_str(&format!(
            "========== {} + {} · {} UTC\nSubject: {}\n\n{}\n\n",
            b.key,
            f.key,
            b.send_at.format("%Y-%m-%d %H:%M"),
            email.subject,
            email.text().unwrap()
        ));
        if all.matches("==========").count() == 2 {
            break;
        }
    }
    assert_eq!(all.matches("==========").count(), 2, "two shared mornings");
    insta::assert_snapshot!("emails_two_treatments", all);
}

// --- the clinic's emergency number, end to end ----------------------------------------------

/// The clinic settings form of a New York clinic with this out-of-hours line and emergency
/// number (empty: the zone's, 911).
fn new_york_settings(
    out_of_hours: &'static str,
    number: &'static str,
) -> [(&'static str, &'static str); 6] {
    [
        ("name", "Glow Skin Clinic"),
        ("time_zone", "America/New_York"),
        ("send_hour", "8"),
        ("sender_email", "aftercare@glow.example"),
        ("out_of_hours", out_of_hours),
        ("emergency_number", number),
    ]
}

async fn the_emergency_number_comes_from_the_clinic_settings_or_its_time_zone(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let settings = |number: &'static str| new_york_settings("", number);
    let bad = app
        .post_form_with(&admin, "/admin/clinic", &settings("nine one one"))
        .await;
    assert_eq!(bad.status().as_u16(), 422);
    assert!(bad.text().await.unwrap().contains("Use digits only"));

    // Left empty: the usual number for the clinic's zone, which the form names.
    let ok = app
        .post_form_with(&admin, "/admin/clinic", &settings(""))
        .await;
    assert_redirect_to(&ok, "/admin/clinic");
    let form = app
        .get_with(&admin, "/admin/clinic")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("Leave it empty to use 911, the usual number for America/New_York."));
    let patient = app
        .add_patient(&admin, "Eve Stone", "eve@example.com")
        .await;
    let id = id_in_location(
        &app.record_treatment(
            &admin,
            patient,
            &[
                ("treated_at", "2026-06-01T10:00"),
                ("area_0", "cheeks"),
                ("depth_0", "1"),
            ],
        )
        .await,
    );
    let sheet_path = format!("/treatments/{id}/sheet");
    let sheet = app.get_text_with(&admin, &sheet_path).await;
    assert!(sheet.contains("Call 911 straight away if you have:"));
    assert!(sheet.contains("Tonight") && sheet.contains("protocol v4."));

    // Set: every sheet shows the clinic's own number from then on.
    let ok = app
        .post_form_with(&admin, "/admin/clinic", &settings("112"))
        .await;
    assert_redirect_to(&ok, "/admin/clinic");
    let sheet = app.get_text_with(&admin, &sheet_path).await;
    assert!(sheet.contains("Call 112 straight away if you have:"));
}

/// Review L13: an out-of-hours line naming another country's number (111 is the UK's) beside
/// the emergency number 911 is refused beside its field, and nothing is saved.
async fn an_out_of_hours_line_for_another_country_is_refused_beside_its_field(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let settings = new_york_settings;
    let saved = app
        .post_form_with(&admin, "/admin/clinic", &settings("Call 988.", "911"))
        .await;
    assert_redirect_to(&saved, "/admin/clinic");

    let refused = app
        .post_form_with(&admin, "/admin/clinic", &settings("Call 111.", "911"))
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains(
        "<p class=\"error\" id=\"out_of_hours-error\">This advice names 111, a number for the UK \
         or New Zealand, but the emergency number 911 is for the US and Canada. Change one of \
         them so both work where your patients are.</p>"
    ), "{page}");
    assert!(page.contains("Call 111."), "the form keeps what was typed");
    // Left empty, the zone's 911 is the emergency number: refused the same way.
    let by_zone = app
        .post_form_with(&admin, "/admin/clinic", &settings("Call 111.", ""))
        .await;
    assert_eq!(by_zone.status().as_u16(), 422);
    let form = app.get_text_with(&admin, "/admin/clinic").await;
    assert!(
        form.contains("Call 988.") && !form.contains("Call 111."),
        "nothing saved"
    );
}

crate::on_both_databases!(
    the_emergency_number_comes_from_the_clinic_settings_or_its_time_zone,
    an_out_of_hours_line_for_another_country_is_refused_beside_its_field,
);
