use super::*;
use crate::care::{compute_plan, sample_input, Protocol, TreatmentInput};
use crate::documents::sheet::fixture;

fn compose_for(plan: &Plan, key: &str, send_at: DateTime<Utc>) -> ReminderEmail {
    compose(
        plan,
        key,
        false,
        "x",
        send_at,
        &fixture::clinic(),
        fixture::PATIENT,
        fixture::SHEET_URL.into(),
        fixture::UNSUBSCRIBE_URL.into(),
    )
}

#[test]
fn every_reminder_of_a_plan_composes_with_its_phase_and_links() {
    let plan = compute_plan(&Protocol::default_protocol(), &sample_input()).unwrap();
    let first_flag = &plan.red_flags.groups[0].items[0];
    for r in &plan.reminders {
        let email = compose_for(&plan, &r.key, r.send_at);
        assert_eq!(email.subject, r.subject);
        assert_eq!(email.greeting, "Hello Maya,");
        let text = email.text().unwrap();
        let html = email.html().unwrap();
        for part in [&text, &html] {
            assert!(
                part.contains(fixture::SHEET_URL) && part.contains(fixture::UNSUBSCRIBE_URL),
                "{}",
                r.key
            );
            assert!(part.contains("020 7946 0000"), "{}", r.key);
            assert!(part.contains(first_flag), "{}", r.key);
            assert!(part.contains("Call 999 straight away"), "{}", r.key);
            assert!(part.contains("It does not replace it."), "{}", r.key);
        }
        assert!(text.contains("Do:") && text.contains("Avoid:"), "{}", r.key);
        assert_eq!(
            email.milestones.len(),
            r.milestones.len(),
            "{} milestones all have text",
            r.key
        );
    }
}

#[test]
fn the_evening_email_talks_about_tonight() {
    let plan = compute_plan(&Protocol::default_protocol(), &sample_input()).unwrap();
    let evening = &plan.reminders[0];
    let email = compose_for(&plan, &evening.key, evening.send_at);
    assert!(email.intro.contains("tonight"));
    assert_eq!(email.phase_name, plan.phases[0].name);
}

#[test]
fn a_morning_treatments_evening_email_has_the_tonight_list_and_the_phase_in_force() {
    let input = TreatmentInput {
        tailoring: Default::default(),
        treated_at: "2026-06-01T10:00:00".parse().unwrap(),
        ..sample_input()
    };
    let plan = compute_plan(&Protocol::default_protocol(), &input).unwrap();
    let evening = &plan.reminders[0];
    let email = compose_for(&plan, &evening.key, evening.send_at);
    assert_eq!(email.phase_name, "Healing starts");
    let text = email.text().unwrap();
    assert!(
        text.contains("TONIGHT\n  - Sleep on a clean pillowcase.\n"),
        "{text}"
    );
    assert!(email
        .html()
        .unwrap()
        .contains("<li>Sleep on a clean pillowcase.</li>"));
    let next = &plan.reminders[1];
    assert!(!compose_for(&plan, &next.key, next.send_at)
        .text()
        .unwrap()
        .contains("TONIGHT"));
}

fn part<'a>(plan: &'a Plan, key: &'a str, sheet: &str) -> Part<'a> {
    Part {
        plan,
        key,
        sheet_only: false,
        fallback_subject: "x",
        sheet_url: sheet.into(),
    }
}

#[test]
fn one_email_covers_two_treatments_and_the_stricter_rule_wins() {
    let protocol = Protocol::default_protocol();
    let older = compute_plan(&protocol, &sample_input()).unwrap();
    let newer_input = TreatmentInput {
        treated_at: sample_input().treated_at + chrono::Duration::days(3),
        ..sample_input()
    };
    let newer = compute_plan(&protocol, &newer_input).unwrap();
    // An email of the older plan that brings an active back, at a time the newer one
    // also sends (both send at the same morning hour).
    let (back, same_time) = older
        .reminders
        .iter()
        .filter(|r| r.milestones.iter().any(|m| m.starts_with("active-")))
        .find_map(|r| {
            let other = newer.reminders.iter().find(|n| n.send_at == r.send_at)?;
            Some((r, other))
        })
        .expect("an active comes back on a morning both treatments send");
    let active = older
        .actives
        .iter()
        .find(|a| back.milestones.contains(&a.key))
        .unwrap();
    let parts = [
        part(&newer, &same_time.key, "https://x/s/newer"),
        part(&older, &back.key, "https://x/s/older"),
    ];
    let email = compose_combined(
        &parts,
        back.send_at,
        &fixture::clinic(),
        fixture::PATIENT,
        fixture::UNSUBSCRIBE_URL.into(),
    )
    .unwrap();
    let alone = compose_for(&older, &back.key, back.send_at);
    assert!(alone
        .milestones
        .iter()
        .any(|m| m.title == format!("From today: {}", active.name)));
    let text = email.text().unwrap();
    let html = email.html().unwrap();
    for part in [&text, &html] {
        assert!(part.contains("https://x/s/newer") && part.contains("https://x/s/older"));
        assert!(
            part.contains(&format!("Not yet: {}", active.name)),
            "{part}"
        );
        assert!(
            !part.contains(&format!("From today: {}", active.name)),
            "{part}"
        );
    }
    let newer_alone = compose_for(&newer, &same_time.key, same_time.send_at);
    for item in alone.avoid_items.iter().chain(&newer_alone.avoid_items) {
        assert!(email.avoid_items.contains(item), "{item} is still avoided");
    }
    assert_eq!(email.subject, "Your aftercare for today");
    assert_eq!(email.also.len(), 1);
    assert!(text.contains(&format!("Today is day {}", back.day)));
    assert!(text.contains(&format!("Today is day {}", same_time.day)));
}

#[test]
fn a_combined_email_of_one_treatment_is_that_treatments_email() {
    let plan = compute_plan(&Protocol::default_protocol(), &sample_input()).unwrap();
    for r in &plan.reminders {
        let one = compose_combined(
            &[part(&plan, &r.key, fixture::SHEET_URL)],
            r.send_at,
            &fixture::clinic(),
            fixture::PATIENT,
            fixture::UNSUBSCRIBE_URL.into(),
        )
        .unwrap();
        let alone = compose_for(&plan, &r.key, r.send_at);
        assert_eq!(
            (one.text().unwrap(), one.html().unwrap()),
            (alone.text().unwrap(), alone.html().unwrap())
        );
    }
    assert!(compose_combined(
        &[],
        Utc::now(),
        &fixture::clinic(),
        fixture::PATIENT,
        String::new()
    )
    .is_none());
}

/// Every email of a plan, as the patient reads it (plain text).
fn all_emails(plan: &Plan) -> Vec<String> {
    plan.reminders
        .iter()
        .map(|r| compose_for(plan, &r.key, r.send_at).text().unwrap())
        .collect()
}

/// Review M7: a superficial patient is emailed the day-2 routine (how to wash, which
/// sunscreen, no products with alcohol) whatever the hour of the treatment.
#[test]
fn a_superficial_patient_is_emailed_the_day_2_routine_at_any_treatment_hour() {
    let protocol = Protocol::default_protocol();
    // A June day, and the Fridays before the London clocks go forward and back.
    let days = ["2026-06-10", "2026-03-27", "2026-10-23"];
    for (day, hour) in days.iter().flat_map(|d| (0..24).map(move |h| (d, h))) {
        let input = TreatmentInput {
            areas: vec![crate::care::TreatedArea {
                area_id: "periorbital".into(),
                depth_mm: 0.25,
            }],
            treated_at: format!("{day}T{hour:02}:30:00").parse().unwrap(),
            ..sample_input()
        };
        let plan = compute_plan(&protocol, &input).unwrap();
        assert_eq!(plan.band.id, "superficial");
        let emails = all_emails(&plan).join("\n");
        for line in [
            "Wash with a mild cream cleanser and lukewarm water. Pat dry.",
            "Start a mineral sunscreen, with zinc oxide or titanium dioxide on the label.",
            "Products with alcohol in them.",
        ] {
            assert!(
                emails.contains(line),
                "treated {day} {hour:02}:30: no {line:?}"
            );
        }
    }
}

/// Review L9: across the clocks going forward (Europe/London, Sunday 29 March 2026), the
/// sheet says why its later times read an hour later, and so does the first email after.
#[test]
fn a_clock_change_is_explained_on_the_sheet_and_in_the_first_email_after_it() {
    let protocol = Protocol::default_protocol();
    let note = "Sun 29 Mar: the clocks go forward an hour, so the times after that read an \
                hour later. Each stage still lasts just as long.";
    let plan = compute_plan(&protocol, &sample_input()).unwrap();
    let sheet = crate::documents::sheet::build(
        &plan,
        &fixture::clinic(),
        fixture::PATIENT,
        fixture::SHEET_URL.into(),
    );
    assert_eq!(sheet.clock_notes, [note]);
    let html = crate::documents::sheet::SheetBody { sheet: &sheet }
        .render()
        .unwrap();
    assert!(html.contains(note));
    // 15:30 after the change, 14:30 before it: the note is what explains the hour.
    assert!(html.contains("Sat 28 Mar, 14:30 – Sun 29 Mar, 15:30"));
    let with_note: Vec<&str> = plan
        .reminders
        .iter()
        .filter(|r| {
            let email = compose_for(&plan, &r.key, r.send_at);
            email.text().unwrap().contains(note) && email.html().unwrap().contains(note)
        })
        .map(|r| r.key.as_str())
        .collect();
    // The change is at 01:00 UTC on the 29th; the day-2 email goes out at 08:00 UTC.
    assert_eq!(with_note, ["day-2"]);
    // No change, no note.
    let june = TreatmentInput {
        treated_at: "2026-06-10T14:30:00".parse().unwrap(),
        ..sample_input()
    };
    let plan = compute_plan(&protocol, &june).unwrap();
    assert!(plan.clock_changes.is_empty());
    assert!(all_emails(&plan)
        .iter()
        .all(|e| !e.contains("the clocks go")));
}

#[test]
fn emails_of_a_version_1_plan_are_unchanged() {
    for name in ["standard", "abdomen"] {
        let (plan, _) = fixture::v1(name);
        let path = format!(
            "{}/tests/fixtures/v1/plan-v1-{name}.emails.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let expected = std::fs::read_to_string(path).unwrap();
        let mut actual = String::new();
        for r in &plan.reminders {
            let e = compose_for(&plan, &r.key, r.send_at);
            actual.push_str(&format!(
                "===== {} | {}\n{}\n----- html\n{}\n",
                r.key,
                e.subject,
                e.text().unwrap(),
                e.html().unwrap()
            ));
        }
        assert!(actual == expected, "{name}: the version 1 emails changed");
    }
}
