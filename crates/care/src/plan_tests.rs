//! Worked examples asserted exactly, and the input errors of `compute_plan`.
//!
//! The expected values were worked out by hand from protocol/default.toml (see the comments),
//! not copied from the program's output.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::protocol::Urgency;
use super::*;

fn treatment(
    areas: &[(&str, f64)],
    treated_at: &str,
    zone: &str,
    send_hour: u32,
) -> TreatmentInput {
    TreatmentInput {
        tailoring: Default::default(),
        areas: areas
            .iter()
            .map(|(id, depth)| TreatedArea {
                area_id: id.to_string(),
                depth_mm: *depth,
            })
            .collect(),
        treated_at: treated_at.parse().unwrap(),
        time_zone: zone.to_string(),
        send_hour,
    }
}

fn plan_for(input: &TreatmentInput) -> Plan {
    compute_plan(&Protocol::default_protocol(), input).unwrap_or_else(|e| panic!("{e}"))
}

fn local(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// (phase id, local start, local end) for every phase.
fn assert_phases(plan: &Plan, expected: &[(&str, &str, &str)]) {
    let actual: Vec<(&str, NaiveDateTime, NaiveDateTime)> = plan
        .phases
        .iter()
        .map(|p| (p.id.as_str(), p.starts_at.local, p.ends_at.local))
        .collect();
    let expected: Vec<(&str, NaiveDateTime, NaiveDateTime)> = expected
        .iter()
        .map(|(id, start, end)| (*id, local(start), local(end)))
        .collect();
    assert_eq!(actual, expected);
}

/// (active key, local date) for every active.
fn assert_actives(plan: &Plan, expected: &[(&str, &str)]) {
    let actual: Vec<(&str, NaiveDate)> = plan
        .actives
        .iter()
        .map(|a| (a.key.as_str(), a.from))
        .collect();
    let expected: Vec<(&str, NaiveDate)> = expected.iter().map(|(k, d)| (*k, date(d))).collect();
    assert_eq!(actual, expected);
}

/// (key, UTC send time, milestones) for every reminder, in order.
fn assert_reminders(plan: &Plan, expected: &[(&str, &str, &[&str])]) {
    let actual: Vec<(&str, DateTime<Utc>, Vec<&str>)> = plan
        .reminders
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.send_at,
                r.milestones.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let expected: Vec<(&str, DateTime<Utc>, Vec<&str>)> = expected
        .iter()
        .map(|(k, at, m)| (*k, utc(at), m.to_vec()))
        .collect();
    assert_eq!(actual, expected);
}

/// 0.25 mm around the eyes, New York, Friday 30 October 2026 16:00 EDT (UTC-4), emails at 08:00.
/// Superficial band, face (factor 1). The clocks go back on Sunday 1 November at 02:00 EDT
/// (06:00 UTC), so boundaries after it read an hour earlier on the clock (15:00 EST).
#[test]
fn worked_example_superficial_periorbital_in_new_york() {
    let plan = plan_for(&treatment(
        &[("periorbital", 0.25)],
        "2026-10-30T16:00:00",
        "America/New_York",
        8,
    ));
    assert_eq!(plan.band.id, "superficial");
    assert_eq!(plan.treated_at.utc, utc("2026-10-30T20:00:00Z"));
    assert_phases(
        &plan,
        &[
            ("first-hours", "2026-10-30T16:00:00", "2026-10-30T20:00:00"), // 0–4 h
            ("first-day", "2026-10-30T20:00:00", "2026-10-31T16:00:00"),   // 4–24 h
            // Whole days (M7): 48 h = 1 Nov 20:00 UTC = 15:00 EST.
            ("day-2", "2026-10-31T16:00:00", "2026-11-01T15:00:00"),
            ("day-3", "2026-11-01T15:00:00", "2026-11-02T15:00:00"), // 72 h = 2 Nov 20:00 UTC
            ("days-4-7", "2026-11-02T15:00:00", "2026-11-04T15:00:00"), // 120 h
            ("weeks-2-4", "2026-11-04T15:00:00", "2026-11-27T15:00:00"), // 672 h = 28 days
            ("results", "2026-11-27T15:00:00", "2026-12-11T15:00:00"), // 1008 h = 42 days
        ],
    );
    assert_eq!(plan.phases[2].ends_at.utc, utc("2026-11-01T20:00:00Z"));
    // The clocks go back an hour at 06:00 UTC on 1 Nov (L9).
    assert_eq!(plan.clock_changes.len(), 1);
    assert_eq!(plan.clock_changes[0].minutes, -60);
    assert_eq!(plan.clock_changes[0].at.local.date(), date("2026-11-01"));
    assert_eq!(plan.healed_by.local, local("2026-11-27T15:00:00"));
    // Superficial: vitamin C day 4, retinol day 11, acids day 18, and prescription retinoids
    // not before the standard band's day 28.
    assert_actives(
        &plan,
        &[
            ("active-vitamin-c", "2026-11-03"),
            ("active-retinol", "2026-11-10"),
            ("active-aha-bha", "2026-11-17"),
            ("active-prescription-retinoids", "2026-11-27"),
        ],
    );
    assert_eq!(
        (plan.next_session.from, plan.next_session.to),
        (date("2026-11-27"), date("2026-12-11"))
    );
    assert_eq!(
        plan.area_notes,
        vec![AreaNotes {
            label: "Around the eyes".into(),
            notes: vec![
                "The skin around your eyes is thin, so swelling can show more here.".into()
            ],
            last_day: None,
        }]
    );
    // Evening: 16:00 + 2 h = 18:00 EDT, the same as the 18:00 floor. Mornings on days 1–3 at
    // 08:00: EDT (12:00 UTC) before the change, EST (13:00 UTC) after it.
    assert_reminders(
        &plan,
        &[
            ("evening", "2026-10-30T22:00:00Z", &[]),
            ("day-1", "2026-10-31T12:00:00Z", &[]),
            ("day-2", "2026-11-01T13:00:00Z", &[]),
            ("day-3", "2026-11-02T13:00:00Z", &[]),
            (
                "active-vitamin-c",
                "2026-11-03T13:00:00Z",
                &["active-vitamin-c"],
            ),
            (
                "active-retinol",
                "2026-11-10T13:00:00Z",
                &["active-retinol"],
            ),
            (
                "active-aha-bha",
                "2026-11-17T13:00:00Z",
                &["active-aha-bha"],
            ),
            // The results phase starts 27 Nov 15:00: day 28, as do the next-session window and
            // prescription retinoids.
            (
                "active-prescription-retinoids",
                "2026-11-27T13:00:00Z",
                &["active-prescription-retinoids", "results", "next-session"],
            ),
        ],
    );
    let subjects: Vec<&str> = plan.reminders.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Tonight: how to look after your skin",
            "Day 1 after your treatment: keep your skin clean and calm",
            // 08:00 EST on 1 Nov is 41 h in: the day-2 phase (24–48 h); 2 Nov is 65 h in.
            "Day 2 after your treatment: gentle cleansing and SPF",
            "Day 3 after your treatment: let the flakes come off by themselves",
            "Day 4 after your treatment: vitamin C can come back",
            "Day 11 after your treatment: retinol can come back",
            "Day 18 after your treatment: exfoliating acids can come back",
            // Three headlines: the first, and "and more" (L11).
            "Day 28 after your treatment: prescription retinoids can come back, and more",
        ]
    );
    let kinds: Vec<ReminderKind> = plan.reminders.iter().map(|r| r.kind).collect();
    use ReminderKind::*;
    assert_eq!(
        kinds,
        [Evening, Daily, Daily, Daily, Milestone, Milestone, Milestone, Milestone]
    );
}

/// 1.0 mm cheeks and forehead, London, Friday 27 March 2026 14:30 GMT, emails at 09:00: the CLI's
/// sample. Standard band, face. The clocks go forward on Sunday 29 March at 01:00 GMT, so later
/// boundaries read 15:30 BST and the 09:00 emails move from 09:00 to 08:00 UTC.
#[test]
fn worked_example_standard_cheeks_and_forehead_in_london() {
    let input = treatment(
        &[("cheeks", 1.0), ("forehead", 1.0)],
        "2026-03-27T14:30:00",
        "Europe/London",
        9,
    );
    assert_eq!(input, sample_input());
    let plan = plan_for(&input);
    assert_eq!(plan.band.id, "standard");
    assert_phases(
        &plan,
        &[
            ("first-hours", "2026-03-27T14:30:00", "2026-03-27T20:30:00"), // 0–6 h
            ("first-day", "2026-03-27T20:30:00", "2026-03-28T14:30:00"),   // 6–24 h
            ("day-2", "2026-03-28T14:30:00", "2026-03-29T15:30:00"),       // 48 h, now BST
            ("day-3", "2026-03-29T15:30:00", "2026-03-30T15:30:00"),       // 72 h
            ("days-4-7", "2026-03-30T15:30:00", "2026-04-03T15:30:00"),    // 168 h
            ("weeks-2-4", "2026-04-03T15:30:00", "2026-04-24T15:30:00"),   // 672 h
            ("results", "2026-04-24T15:30:00", "2026-05-08T15:30:00"),     // 1008 h
        ],
    );
    // Elapsed hours, not wall-clock hours: 48 h after 14:30 GMT on the 27th is 14:30 UTC on the 29th.
    assert_eq!(plan.phases[2].ends_at.utc, utc("2026-03-29T14:30:00Z"));
    // Standard: vitamin C day 5, retinol day 14, acids day 21, prescription retinoids day 28.
    assert_actives(
        &plan,
        &[
            ("active-vitamin-c", "2026-04-01"),
            ("active-retinol", "2026-04-10"),
            ("active-aha-bha", "2026-04-17"),
            ("active-prescription-retinoids", "2026-04-24"),
        ],
    );
    assert_eq!(
        (plan.next_session.from, plan.next_session.to),
        (date("2026-04-24"), date("2026-05-08"))
    );
    assert!(plan.area_notes.is_empty(), "face areas have no notes");
    assert_reminders(
        &plan,
        &[
            // 14:30 + 2 h = 16:30 is before the 18:00 floor.
            ("evening", "2026-03-27T18:00:00Z", &[]),
            ("day-1", "2026-03-28T09:00:00Z", &[]),
            ("day-2", "2026-03-29T08:00:00Z", &[]),
            ("day-3", "2026-03-30T08:00:00Z", &[]),
            ("day-4", "2026-03-31T08:00:00Z", &[]),
            ("day-5", "2026-04-01T08:00:00Z", &["active-vitamin-c"]),
            ("day-6", "2026-04-02T08:00:00Z", &[]),
            ("day-7", "2026-04-03T08:00:00Z", &[]),
            (
                "active-retinol",
                "2026-04-10T08:00:00Z",
                &["active-retinol"],
            ),
            (
                "active-aha-bha",
                "2026-04-17T08:00:00Z",
                &["active-aha-bha"],
            ),
            (
                "active-prescription-retinoids",
                "2026-04-24T08:00:00Z",
                &["active-prescription-retinoids", "results", "next-session"],
            ),
        ],
    );
    let phases: Vec<&str> = plan.reminders.iter().map(|r| r.phase_id.as_str()).collect();
    assert_eq!(
        phases,
        [
            "first-hours", // 18:00 is 3.5 h in
            "first-day",
            "day-2",
            "day-3",
            "days-4-7",
            "days-4-7",
            "days-4-7",
            "days-4-7", // 3 Apr 09:00 is before the 15:30 boundary
            "weeks-2-4",
            "weeks-2-4",
            "weeks-2-4", // 24 Apr 09:00 is before the results phase starts at 15:30
        ]
    );
    assert_eq!(
        plan.reminders[5].subject,
        "Day 5 after your treatment: vitamin C can come back, and more"
    );
    // The clocks go forward an hour at 01:00 UTC on 29 Mar (L9).
    assert_eq!(plan.clock_changes.len(), 1);
    assert_eq!(plan.clock_changes[0].minutes, 60);
    assert_eq!(plan.clock_changes[0].at.local.date(), date("2026-03-29"));
}

/// 2.0 mm on the tummy, London, Friday 18 December 2026 11:00 GMT, emails at 09:00. Deep band;
/// body: every offset × 1.5 (within the first 24 h, no further than 24 h), 3 extra morning
/// emails, and actives on the deep schedule. The plan
/// runs over the new year into March 2027 (before the clocks change on 28 March).
#[test]
fn worked_example_deep_abdomen_over_the_new_year() {
    let plan = plan_for(&treatment(
        &[("abdomen", 2.0)],
        "2026-12-18T11:00:00",
        "Europe/London",
        9,
    ));
    assert_eq!(plan.band.id, "deep");
    assert_phases(
        &plan,
        &[
            ("first-hours", "2026-12-18T11:00:00", "2026-12-18T23:00:00"), // 8 h × 1.5 = 12 h
            ("first-day", "2026-12-18T23:00:00", "2026-12-19T11:00:00"),   // 24 h, not 36 (L4)
            ("day-2", "2026-12-19T11:00:00", "2026-12-22T23:00:00"),       // 72 × 1.5 = 108 h
            ("day-3", "2026-12-22T23:00:00", "2026-12-25T23:00:00"),       // 120 × 1.5 = 180 h
            ("days-4-7", "2026-12-25T23:00:00", "2027-01-02T11:00:00"),    // 240 × 1.5 = 360 h
            ("weeks-2-4", "2027-01-02T11:00:00", "2027-02-19T11:00:00"),   // 1008 × 1.5 = 63 days
            ("results", "2027-02-19T11:00:00", "2027-03-12T11:00:00"),     // 1344 × 1.5 = 84 days
        ],
    );
    // Deep: vitamin C day 14, retinol 21, acids 28, prescription retinoids 35 (not stretched).
    assert_actives(
        &plan,
        &[
            ("active-vitamin-c", "2027-01-01"),
            ("active-retinol", "2027-01-08"),
            ("active-aha-bha", "2027-01-15"),
            ("active-prescription-retinoids", "2027-01-22"),
        ],
    );
    // Deep window days 42–56, × 1.5 = days 63–84.
    assert_eq!(
        (plan.next_session.from, plan.next_session.to),
        (date("2027-02-19"), date("2027-03-12"))
    );
    assert_eq!(plan.area_notes.len(), 1);
    assert_eq!(plan.area_notes[0].label, "Body");
    // Mornings on days 1 to 7 + 3 = 10.
    assert_reminders(
        &plan,
        &[
            ("evening", "2026-12-18T18:00:00Z", &[]),
            ("day-1", "2026-12-19T09:00:00Z", &[]),
            ("day-2", "2026-12-20T09:00:00Z", &[]),
            ("day-3", "2026-12-21T09:00:00Z", &[]),
            ("day-4", "2026-12-22T09:00:00Z", &[]),
            ("day-5", "2026-12-23T09:00:00Z", &[]),
            ("day-6", "2026-12-24T09:00:00Z", &[]),
            ("day-7", "2026-12-25T09:00:00Z", &[]),
            ("day-8", "2026-12-26T09:00:00Z", &[]),
            ("day-9", "2026-12-27T09:00:00Z", &[]),
            ("day-10", "2026-12-28T09:00:00Z", &[]),
            (
                "active-vitamin-c",
                "2027-01-01T09:00:00Z",
                &["active-vitamin-c"],
            ),
            (
                "active-retinol",
                "2027-01-08T09:00:00Z",
                &["active-retinol"],
            ),
            (
                "active-aha-bha",
                "2027-01-15T09:00:00Z",
                &["active-aha-bha"],
            ),
            (
                "active-prescription-retinoids",
                "2027-01-22T09:00:00Z",
                &["active-prescription-retinoids"],
            ),
            (
                "results",
                "2027-02-19T09:00:00Z",
                &["results", "next-session"],
            ),
        ],
    );
}

#[test]
fn a_body_area_puts_a_face_treatment_on_the_deep_active_schedule() {
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0), ("arms", 1.0)],
        "2026-06-01T10:00:00",
        "UTC",
        9,
    ));
    assert_eq!(plan.band.id, "standard");
    let days: Vec<u32> = plan.actives.iter().map(|a| a.day).collect();
    assert_eq!(days, [14, 21, 28, 35]);
    // Standard hours stretched by the body factor: the first hours, 6 h × 1.5.
    assert_eq!(plan.phases[0].ends_at.local, local("2026-06-01T19:00:00"));
}

#[test]
fn notes_come_once_per_class_and_once_per_area() {
    let plan = plan_for(&treatment(
        &[
            ("thighs", 2.0),
            ("periorbital", 0.25),
            ("abdomen", 2.0),
            ("neck", 0.5),
        ],
        "2026-06-01T10:00:00",
        "UTC",
        9,
    ));
    let labels: Vec<&str> = plan.area_notes.iter().map(|n| n.label.as_str()).collect();
    assert_eq!(labels, ["Body", "Around the eyes", "Neck"]);
}

#[test]
fn a_late_treatment_gets_its_evening_email_after_midnight_and_no_clashing_morning_email() {
    // 23:00 + 2 h = 01:00 on day 1; the day-1 email at 01:00 would clash and is dropped.
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0)],
        "2026-06-01T23:00:00",
        "UTC",
        1,
    ));
    assert_eq!(plan.reminders[0].key, "evening");
    assert_eq!(plan.reminders[0].day, 1);
    assert_eq!(plan.reminders[0].send_at, utc("2026-06-02T01:00:00Z"));
    assert_eq!(plan.reminders[1].key, "day-2");
}

#[test]
fn without_an_evening_floor_the_evening_email_waits_for_the_send_hour() {
    let text = DEFAULT_PROTOCOL_TOML.replacen("evening_not_before_hour = 18\n", "", 1);
    let protocol = Protocol::parse("clinic.toml", &text).unwrap();
    let early = treatment(&[("cheeks", 1.0)], "2026-06-01T06:00:00", "UTC", 9);
    let plan = compute_plan(&protocol, &early).unwrap();
    assert_eq!(plan.reminders[0].send_at, utc("2026-06-01T09:00:00Z"));
    let later = treatment(&[("cheeks", 1.0)], "2026-06-01T10:00:00", "UTC", 9);
    let plan = compute_plan(&protocol, &later).unwrap();
    assert_eq!(plan.reminders[0].send_at, utc("2026-06-01T12:00:00Z"));
}

#[test]
fn send_hour_in_a_skipped_or_repeated_hour_follows_the_dst_rule() {
    // New York, spring forward on Sunday 8 March 2026: 02:00 does not exist → 03:00 EDT.
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0)],
        "2026-03-06T10:00:00",
        "America/New_York",
        2,
    ));
    let day_2 = plan.reminders.iter().find(|r| r.key == "day-2").unwrap();
    assert_eq!(day_2.send_at, utc("2026-03-08T07:00:00Z"));
    // New York, fall back on Sunday 1 November 2026: 01:00 happens twice → the EDT one.
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0)],
        "2026-10-30T10:00:00",
        "America/New_York",
        1,
    ));
    let day_2 = plan.reminders.iter().find(|r| r.key == "day-2").unwrap();
    assert_eq!(day_2.send_at, utc("2026-11-01T05:00:00Z"));
}

#[test]
fn phase_at_finds_the_phase_in_progress() {
    let plan = plan_for(&sample_input());
    let at = |text: &str| plan.phase_at(utc(text)).map(|p| p.id.as_str());
    assert_eq!(at("2026-03-27T14:29:59Z"), None);
    assert_eq!(at("2026-03-27T14:30:00Z"), Some("first-hours"));
    assert_eq!(at("2026-03-27T20:30:00Z"), Some("first-day"));
    assert_eq!(at("2026-05-08T14:29:59Z"), Some("results"));
    assert_eq!(at("2026-05-08T14:30:00Z"), None);
}

#[test]
fn a_stored_plan_reads_back_identical() {
    // As the app stores it (treatments.plan_json) and reads it back for sheets and emails.
    let plan = plan_for(&treatment(
        &[("abdomen", 2.0), ("periorbital", 0.25)],
        "2026-12-18T11:00:00",
        "Europe/London",
        9,
    ));
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn invalid_input_names_the_field() {
    let ok = sample_input();
    let cases: Vec<(TreatmentInput, &str)> = vec![
        (
            TreatmentInput {
                tailoring: Default::default(),
                areas: vec![],
                ..ok.clone()
            },
            "areas",
        ),
        (
            treatment(
                &[("cheeks", 1.0), ("elbow", 1.0)],
                "2026-03-27T14:30:00",
                "UTC",
                9,
            ),
            "areas[1].area_id",
        ),
        (
            treatment(
                &[("cheeks", 1.0), ("cheeks", 2.0)],
                "2026-03-27T14:30:00",
                "UTC",
                9,
            ),
            "areas[1].area_id",
        ),
        (
            treatment(
                &[("cheeks", 1.0), ("nose", 3.5)],
                "2026-03-27T14:30:00",
                "UTC",
                9,
            ),
            "areas[1].depth_mm",
        ),
        (
            treatment(&[("cheeks", 0.05)], "2026-03-27T14:30:00", "UTC", 9),
            "areas[0].depth_mm",
        ),
        (
            treatment(&[("cheeks", f64::NAN)], "2026-03-27T14:30:00", "UTC", 9),
            "areas[0].depth_mm",
        ),
        (
            treatment(
                &[("cheeks", f64::INFINITY)],
                "2026-03-27T14:30:00",
                "UTC",
                9,
            ),
            "areas[0].depth_mm",
        ),
        (
            TreatmentInput {
                tailoring: Default::default(),
                time_zone: "Europe/Londres".into(),
                ..ok.clone()
            },
            "time_zone",
        ),
        (
            TreatmentInput {
                tailoring: Default::default(),
                time_zone: "".into(),
                ..ok.clone()
            },
            "time_zone",
        ),
        (
            TreatmentInput {
                tailoring: Default::default(),
                send_hour: 24,
                ..ok.clone()
            },
            "send_hour",
        ),
        // 01:30 on 29 March 2026 never happened in London.
        (
            TreatmentInput {
                tailoring: Default::default(),
                treated_at: local("2026-03-29T01:30:00"),
                ..ok.clone()
            },
            "treated_at",
        ),
        (
            TreatmentInput {
                tailoring: Default::default(),
                treated_at: local("9999-12-31T23:00:00"),
                ..ok.clone()
            },
            "treated_at",
        ),
        (
            TreatmentInput {
                tailoring: Default::default(),
                treated_at: NaiveDateTime::MIN,
                ..ok.clone()
            },
            "treated_at",
        ),
    ];
    for (input, field) in cases {
        match compute_plan(&Protocol::default_protocol(), &input) {
            Ok(_) => panic!("{input:?} should be refused"),
            Err(e) => assert_eq!(e.field(), field, "{e}"),
        }
    }
}

#[test]
fn error_messages_read_well() {
    let protocol = Protocol::default_protocol();
    let message = |input: TreatmentInput| compute_plan(&protocol, &input).unwrap_err().to_string();
    let ok = sample_input();
    assert_eq!(
        message(TreatmentInput { treated_at: local("2026-03-29T01:30:00"), ..ok.clone() }),
        "2026-03-29 01:30:00 does not exist in Europe/London: the clocks skip it for daylight saving"
    );
    assert_eq!(
        message(treatment(
            &[("cheeks", 3.5)],
            "2026-03-27T14:30:00",
            "UTC",
            9
        )),
        "needle depth 3.5 mm must be between 0.1 and 3.0 mm"
    );
    assert_eq!(
        message(treatment(
            &[("cheeks", 1.0), ("cheeks", 2.0)],
            "2026-03-27T14:30:00",
            "UTC",
            9
        )),
        "\"cheeks\" is listed twice; give each area once with its deepest depth"
    );
}

#[test]
fn a_repeated_treatment_time_is_taken_as_the_earlier_instant() {
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0)],
        "2026-10-25T01:30:00",
        "Europe/London",
        9,
    ));
    assert_eq!(plan.treated_at.utc, utc("2026-10-25T00:30:00Z"));
}

// --- protocol version 2: the clinical review's decisions, as the plan shows them -------------

/// The three worked examples and a body area on a standard face treatment.
fn review_inputs() -> Vec<TreatmentInput> {
    vec![
        treatment(
            &[("periorbital", 0.25)],
            "2026-10-30T16:00:00",
            "America/New_York",
            8,
        ),
        sample_input(),
        treatment(
            &[("abdomen", 2.0)],
            "2026-12-18T11:00:00",
            "Europe/London",
            9,
        ),
        treatment(
            &[("cheeks", 1.0), ("arms", 1.0)],
            "2026-06-01T10:00:00",
            "UTC",
            9,
        ),
    ]
}

#[test]
fn a_morning_treatment_still_gets_the_tonight_list_in_its_evening_email() {
    // 10:00: the first hours end at 16:00, so the 18:00 email falls in the first day's phase.
    let plan = plan_for(&treatment(
        &[("cheeks", 1.0)],
        "2026-06-01T10:00:00",
        "Europe/London",
        9,
    ));
    let evening = &plan.reminders[0];
    assert_eq!(evening.kind, ReminderKind::Evening);
    assert_eq!(evening.phase_id, "first-day");
    let content = plan.email_content(&evening.key, evening.send_at);
    assert_eq!(content.phase.map(|p| p.id.as_str()), Some("first-day"));
    assert_eq!(content.tonight, plan.tonight.as_slice());
    assert!(content
        .tonight
        .contains(&"Sleep on a clean pillowcase.".to_string()));
    // Only the evening email carries it.
    let day_1 = &plan.reminders[1];
    assert!(plan
        .email_content(&day_1.key, day_1.send_at)
        .tonight
        .is_empty());
}

#[test]
fn what_is_normal_shows_the_signs_in_their_window_on_each_emails_day_by_band() {
    let plans: Vec<Plan> = review_inputs().iter().map(plan_for).collect();
    for plan in &plans {
        assert!(!plan.normal_signs.is_empty() && plan.normal.is_empty());
        for r in &plan.reminders {
            let shown = plan.email_content(&r.key, r.send_at).normal;
            let (now, past) = plan.normal_on(r.day);
            assert_eq!(
                shown,
                now.iter().map(|s| s.text.clone()).collect::<Vec<_>>()
            );
            assert!(past.iter().all(|s| s.last_day < r.day), "{}", r.key);
        }
        // Not only the first emails: the flaking sign is still shown on its last day (L8).
        let dryness = plan
            .normal_signs
            .iter()
            .find(|s| s.id == "dryness")
            .unwrap();
        let on_its_last_day = plan.reminders.iter().find(|r| r.day == dryness.last_day);
        if let Some(r) = on_its_last_day {
            let shown = plan.email_content(&r.key, r.send_at).normal;
            assert!(shown.contains(&dryness.text), "day {}: {shown:?}", r.day);
        }
    }
    let redness = |p: &Plan| {
        p.normal_signs
            .iter()
            .find(|s| s.id == "redness")
            .unwrap()
            .last_day
    };
    assert_eq!(
        plans.iter().map(redness).collect::<Vec<_>>(),
        // superficial, standard, deep body (3 days x 1.5), standard face and arms (2 x 1.5)
        [1, 2, 5, 3]
    );
    assert_eq!(
        plans[1].normal_signs[0].text,
        "Redness and warmth, like a mild sunburn. It should fade by the end of day 2."
    );
    // Past its window, redness is a call-now red flag with the plan's own day.
    let call_now = &plans[1].red_flags.groups[1];
    assert!(
        call_now.items[6].contains("not faded by the end of day 2"),
        "{:?}",
        call_now.items
    );
}

#[test]
fn no_plan_brings_two_actives_back_within_a_week_of_each_other() {
    for input in review_inputs() {
        let plan = plan_for(&input);
        let mut dates: Vec<NaiveDate> = plan.actives.iter().map(|a| a.from).collect();
        dates.sort();
        for pair in dates.windows(2) {
            assert!(
                (pair[1] - pair[0]).num_days() >= 7,
                "{:?}: {dates:?}",
                input.areas
            );
        }
    }
}

#[test]
fn prescription_retinoids_never_come_back_before_the_standard_bands_date() {
    let day_of = |plan: &Plan, key: &str| {
        plan.actives
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.day)
            .unwrap()
    };
    let standard = plan_for(&sample_input());
    let standard_day = day_of(&standard, "active-prescription-retinoids");
    assert!(standard_day >= day_of(&standard, "active-retinol"));
    for input in review_inputs() {
        let plan = plan_for(&input);
        assert!(
            day_of(&plan, "active-prescription-retinoids") >= standard_day,
            "{:?}",
            input.areas
        );
    }
    let tretinoin = standard
        .actives
        .iter()
        .find(|a| a.name.contains("tretinoin"))
        .unwrap();
    assert!(tretinoin.how.contains("Ask the doctor who prescribed it"));
}

#[test]
fn the_next_session_note_matches_the_window_shown_for_every_band() {
    let notes: Vec<(String, i64, i64)> = review_inputs()
        .iter()
        .map(|input| {
            let plan = plan_for(input);
            let day = |d: NaiveDate| (d - input.treated_at.date()).num_days();
            (
                plan.next_session.note,
                day(plan.next_session.from),
                day(plan.next_session.to),
            )
        })
        .collect();
    let expected = [
        ("4 to 6 weeks", 28, 42),  // superficial face
        ("4 to 6 weeks", 28, 42),  // standard face
        ("9 to 12 weeks", 63, 84), // deep body: 6 to 8 weeks × 1.5
        ("6 to 9 weeks", 42, 63),  // standard with a body area: 4 to 6 weeks × 1.5
    ];
    for ((note, from, to), (gap, want_from, want_to)) in notes.iter().zip(expected) {
        assert_eq!((*from, *to), (want_from, want_to));
        assert_eq!(
            note,
            &format!(
                "A course is usually 3 to 6 sessions. For your skin, leave {gap} between them."
            )
        );
    }
    let deep_face = plan_for(&treatment(
        &[("cheeks", 2.0)],
        "2026-06-01T10:00:00",
        "UTC",
        9,
    ));
    assert!(deep_face.next_session.note.contains("leave 6 to 8 weeks"));
}

#[test]
fn heat_sweat_and_water_are_avoided_to_72_hours_or_48_for_superficial() {
    let sauna = "Hot showers, saunas and steam rooms.".to_string();
    for (input, hours) in review_inputs().into_iter().zip([48, 72, 72, 72]) {
        let plan = plan_for(&input);
        // Body areas stretch every offset, this one included.
        let factor = if plan
            .areas
            .iter()
            .any(|a| a.id == "abdomen" || a.id == "arms")
        {
            1.5
        } else {
            1.0
        };
        let until = plan.treated_at.utc + chrono::Duration::hours((hours as f64 * factor) as i64);
        for phase in &plan.phases {
            assert_eq!(
                phase.avoid_items.contains(&sauna),
                phase.starts_at.utc < until,
                "{} in {:?}",
                phase.id,
                input.areas
            );
        }
        let last_banned = plan
            .phases
            .iter()
            .rev()
            .find(|p| p.avoid_items.contains(&sauna));
        assert_eq!(last_banned.map(|p| p.ends_at.utc), Some(until));
    }
}

#[test]
fn red_flags_come_in_three_groups_and_the_emergency_one_names_the_number() {
    let plan = plan_for(&sample_input());
    let groups: Vec<Urgency> = plan.red_flags.groups.iter().map(|g| g.urgency).collect();
    assert_eq!(
        groups,
        [Urgency::Emergency, Urgency::CallNow, Urgency::TellUs]
    );
    assert!(plan.red_flags.groups[0]
        .title
        .contains("{emergency_number}"));
    assert!(plan.red_flags.groups[0].items[0].contains("trouble breathing"));
    assert!(plan.red_flags.items.is_empty() && plan.red_flags.intro.is_empty());
}

#[test]
fn a_plan_stored_under_version_1_still_reads_back() {
    let json = include_str!("../../../tests/fixtures/v1/plan-v1-standard.json");
    let plan: Plan = serde_json::from_str(json).unwrap();
    assert_eq!(plan.protocol_version, "2026.1");
    assert_eq!(plan.phases[0].id, "night-one");
    assert!(plan.tonight.is_empty() && plan.normal.is_empty() && plan.disclaimer.is_empty());
    assert_eq!(plan.red_flags.items.len(), 9);
    assert!(plan.red_flags.groups.is_empty());
    // No email of a version 1 plan gains a Tonight list or a "What is normal" box.
    for r in &plan.reminders {
        let content = plan.email_content(&r.key, r.send_at);
        assert!(content.tonight.is_empty() && content.normal.is_empty());
    }
}

/// The zone is read with the plan: a stored name that is not a zone is an error, never UTC.
#[test]
fn a_stored_plan_whose_zone_is_unknown_does_not_read() {
    let json = include_str!("../../../tests/fixtures/v1/plan-v1-standard.json");
    let plan: Plan = serde_json::from_str(json).unwrap();
    assert_eq!(plan.time_zone, chrono_tz::Europe::London);
    let unknown = json.replace(
        "\"time_zone\": \"Europe/London\"",
        "\"time_zone\": \"Mars/Olympus\"",
    );
    assert_ne!(unknown, json);
    let error = serde_json::from_str::<Plan>(&unknown).unwrap_err();
    assert!(error.to_string().contains("Mars/Olympus"), "{error}");
}

/// Review L4: the first day ("Healing starts") ends within 24 hours of the treatment for deep
/// face and body plans too, so the day-2 morning email is never in it, at any treatment hour.
#[test]
fn the_first_day_never_runs_into_day_2_for_deep_and_body_plans() {
    for areas in [
        &[("cheeks", 2.0)][..],
        &[("abdomen", 2.0)],
        &[("back", 2.5)],
    ] {
        for hour in ["08:00", "12:00", "20:00", "23:30"] {
            let plan = plan_for(&treatment(
                areas,
                &format!("2026-06-10T{hour}:00"),
                "Europe/London",
                9,
            ));
            let first_day = plan.phases.iter().find(|p| p.id == "first-day").unwrap();
            let hours = (first_day.ends_at.utc - plan.treated_at.utc).num_hours();
            assert!(hours <= 24, "{areas:?} at {hour}: ends {hours} h in");
            assert!(first_day.ends_at.local.date() <= date("2026-06-11"));
            let day_2 = plan.reminders.iter().find(|r| r.day == 2).unwrap();
            assert_ne!(day_2.phase_id, "first-day", "{areas:?} at {hour}");
        }
    }
}

/// Review L11: a subject names one headline, the news first, and "and more" when the email
/// says more, so no subject of any band, area or tailoring runs past 78 characters (the
/// line length RFC 5322 recommends).
#[test]
fn merged_subjects_name_one_headline_and_stay_short() {
    let protocol = Protocol::default_protocol();
    let mut merged = 0;
    for area in protocol.areas() {
        for depth in [0.25, 1.0, 2.0] {
            for (add_ons, considerations) in [
                (vec![], vec![]),
                (vec!["rf".to_string()], vec!["darker-skin".to_string()]),
                (vec!["prp".to_string()], vec!["cold-sores".to_string()]),
            ] {
                let mut input = treatment(&[(&area.id, depth)], "2026-06-10T14:30:00", "UTC", 9);
                input.tailoring = Tailoring {
                    add_ons,
                    considerations,
                    ..Tailoring::default()
                };
                let plan = plan_for(&input);
                for r in &plan.reminders {
                    let subject = &r.subject;
                    assert!(subject.chars().count() <= 78, "{subject}");
                    assert!(!subject.contains(';'), "{subject}");
                    let headlines = r.milestones.len() + usize::from(r.kind == ReminderKind::Daily);
                    assert_eq!(
                        subject.ends_with(super::plan::AND_MORE),
                        headlines > 1,
                        "{subject}"
                    );
                    merged += usize::from(headlines > 1);
                }
            }
        }
    }
    assert!(merged > 0, "some emails merge headlines");
}
