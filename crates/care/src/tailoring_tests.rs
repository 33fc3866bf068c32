//! Tailoring: practitioner adjustments, session add-ons and skin considerations, worked by hand
//! from protocol/default.toml.

use chrono::{DateTime, Utc};

use super::*;

/// Cheeks at 1.0 mm (standard band, face) on Tue 24 Nov 2026 at 10:00 in London (UTC+0).
pub(super) fn cheeks(tailoring: Tailoring) -> TreatmentInput {
    TreatmentInput {
        areas: vec![TreatedArea {
            area_id: "cheeks".into(),
            depth_mm: 1.0,
        }],
        treated_at: "2026-11-24T10:00:00".parse().unwrap(),
        time_zone: "Europe/London".into(),
        send_hour: 9,
        tailoring,
    }
}

fn plan(tailoring: Tailoring) -> Plan {
    compute_plan(&Protocol::default_protocol(), &cheeks(tailoring))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn adjust(key: &str, value: u32) -> Tailoring {
    Tailoring {
        adjustments: [(key.to_string(), value)].into(),
        ..Tailoring::default()
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn heat_to_96_hours_moves_its_end_and_nothing_else() {
    let base = plan(Tailoring::default());
    let tailored = plan(adjust("heat-sweat-water", 96));
    // Default 72 h: Fri 27 Nov 10:00; 96 h: Sat 28 Nov 10:00.
    assert_eq!(base.avoid_until[0].until.utc, utc("2026-11-27T10:00:00Z"));
    assert_eq!(
        tailored.avoid_until[0].until.utc,
        utc("2026-11-28T10:00:00Z")
    );
    assert_eq!(tailored.avoid_until[1], base.avoid_until[1]);
    assert_eq!(tailored.phases.len(), base.phases.len());
    for (t, b) in tailored.phases.iter().zip(&base.phases) {
        assert_eq!((t.starts_at, t.ends_at), (b.starts_at, b.ends_at));
    }
    assert_eq!(tailored.actives, base.actives);
    assert_eq!(tailored.reminders, base.reminders);
    // "Settling down" (72–168 h) now starts before the end, so it carries the heat rules.
    let heat = &tailored.avoid_until[0].items[0];
    assert!(!base.phases[4].avoid_items.contains(heat));
    assert!(tailored.phases[4].avoid_items.contains(heat));
    assert_eq!(tailored.adjusted.len(), 1);
    assert_eq!(
        (tailored.adjusted[0].default, tailored.adjusted[0].value),
        (72, 96)
    );
    assert_eq!(tailored.adjusted[0].by, crate::SetBy::Practitioner);
}

/// A stored plan keeps each adjusted length's unit by name, and reads only those names back.
#[test]
fn an_adjusted_length_is_stored_with_its_unit_by_name() {
    let hours = serde_json::to_value(plan(adjust("heat-sweat-water", 96))).unwrap();
    let days = serde_json::to_value(plan(adjust("active-retinol", 21))).unwrap();
    assert_eq!(hours["adjusted"][0]["unit"], "hours");
    assert_eq!(days["adjusted"][0]["unit"], "days");
    let mut unknown = hours.clone();
    unknown["adjusted"][0]["unit"] = "weeks".into();
    assert!(serde_json::from_value::<Plan>(unknown).is_err());
    assert_eq!(
        serde_json::from_value::<Plan>(hours).unwrap().adjusted[0].unit,
        Unit::Hours
    );
}

#[test]
fn an_email_after_an_adjusted_end_no_longer_lists_it() {
    let tailored = plan(adjust("heat-sweat-water", 96));
    let heat = tailored.avoid_until[0].items[0].clone();
    // Day 4 at 09:00 is before Sat 10:00; day 5 at 09:00 is after it, in the same phase.
    let day4 = tailored.email_content("day-4", utc("2026-11-28T09:00:00Z"));
    let day5 = tailored.email_content("day-5", utc("2026-11-29T09:00:00Z"));
    assert!(day4.avoid_items.contains(&heat));
    assert!(!day5.avoid_items.contains(&heat));
}

#[test]
fn an_active_adjustment_moves_its_date_and_its_email() {
    let tailored = plan(adjust("active-retinol", 21));
    let retinol = tailored
        .actives
        .iter()
        .find(|a| a.key == "active-retinol")
        .unwrap();
    assert_eq!(retinol.from.to_string(), "2026-12-15");
    let email = tailored
        .reminders
        .iter()
        .find(|r| r.milestones.contains(&"active-retinol".to_string()))
        .unwrap();
    assert_eq!(email.day, 21);
}

#[test]
fn outside_the_range_is_an_error_naming_the_field() {
    let protocol = Protocol::default_protocol();
    let err = compute_plan(&protocol, &cheeks(adjust("heat-sweat-water", 400))).unwrap_err();
    assert_eq!(err.field(), "adjust_heat-sweat-water");
    assert_eq!(
        err.to_string(),
        "choose from 72 to 168 hours (the default is 72)"
    );
    let err = compute_plan(&protocol, &cheeks(adjust("heat-sweat-water", 71))).unwrap_err();
    assert_eq!(err.field(), "adjust_heat-sweat-water");
    let err = compute_plan(&protocol, &cheeks(adjust("active-aha-bha", 30))).unwrap_err();
    assert_eq!(err.field(), "adjust_active-aha-bha");
    let unknown = Tailoring {
        add_ons: vec!["botox".into()],
        ..Tailoring::default()
    };
    assert_eq!(
        compute_plan(&protocol, &cheeks(unknown))
            .unwrap_err()
            .field(),
        "add_ons"
    );
}

#[test]
fn an_add_ons_texts_appear_once_however_many_areas() {
    let mut input = cheeks(Tailoring {
        add_ons: vec!["prp".into()],
        ..Tailoring::default()
    });
    for id in ["forehead", "nose", "chin-jaw"] {
        input.areas.push(TreatedArea {
            area_id: id.into(),
            depth_mm: 1.0,
        });
    }
    let plan = compute_plan(&Protocol::default_protocol(), &input).unwrap();
    let protocol = Protocol::default_protocol();
    let prp = &protocol.add_ons()[0];
    let notes: Vec<_> = plan
        .session_notes
        .iter()
        .filter(|n| Some(&n.label) == prp.patient_label.as_ref())
        .collect();
    assert_eq!(notes.len(), 1);
    let doing: usize = plan
        .phases
        .iter()
        .map(|p| p.do_items.iter().filter(|i| **i == prp.do_items[0]).count())
        .sum();
    assert_eq!(doing, 1);
    // PRP keeps heat and sweat to at least 72 h: already the standard default, so no change.
    assert!(plan.adjusted.is_empty());
}

#[test]
fn a_consideration_lengthens_and_the_practitioner_cannot_undercut_it() {
    let tailoring = Tailoring {
        considerations: vec!["darker-skin".into()],
        adjustments: [("other-treatments".to_string(), 672)].into(),
        ..Tailoring::default()
    };
    let plan = plan(tailoring);
    // 1008 h after Tue 24 Nov 10:00 is Tue 5 Jan 10:00.
    assert_eq!(plan.avoid_until[1].until.utc, utc("2027-01-05T10:00:00Z"));
    assert_eq!(
        plan.adjusted[0].by,
        crate::SetBy::Consideration("darker-skin".into())
    );
}

#[test]
fn a_consideration_for_the_lips_does_nothing_for_the_thighs() {
    let mut input = cheeks(Tailoring {
        considerations: vec!["cold-sores".into()],
        ..Tailoring::default()
    });
    input.areas = vec![TreatedArea {
        area_id: "thighs".into(),
        depth_mm: 2.0,
    }];
    let plan = compute_plan(&Protocol::default_protocol(), &input).unwrap();
    assert!(plan.session_notes.is_empty());
    // It is still recorded, so a reprint shows what was ticked.
    assert_eq!(
        plan.tailoring.considerations,
        vec!["cold-sores".to_string()]
    );
}

#[test]
fn an_untailored_plan_serialises_as_before() {
    let json = serde_json::to_string(&plan(Tailoring::default())).unwrap();
    for field in ["tailoring", "adjusted", "added_items", "session_notes"] {
        assert!(!json.contains(field), "{field} in {json}");
    }
}

#[test]
fn patients_see_their_own_words_for_add_ons_and_considerations() {
    let protocol = Protocol::default_protocol();
    for t in protocol.add_ons().iter().chain(protocol.considerations()) {
        let heading = t.patient_label.as_deref().unwrap_or_default();
        assert!(!heading.is_empty(), "{} has no heading for patients", t.id);
        assert_ne!(
            heading, t.label,
            "{}: the staff label is not for patients",
            t.id
        );
    }
}

/// Vitamin C on day 28 and retinol on day 35 are each in range for cheeks (standard), but
/// actives come back a week apart and prescription retinoids after shop retinol: they move to
/// day 42, the day the plan's last phase ends. Their email would then go out after the plan
/// ends (here: day 42 at 09:00, the plan ending at 08:00), so the engine refuses, naming
/// retinol, the practitioner's latest choice.
#[test]
fn spacing_actives_never_pushes_an_email_past_the_end_of_the_plan() {
    let protocol = Protocol::default_protocol();
    let tailoring = Tailoring {
        adjustments: [
            ("active-vitamin-c".to_string(), 28),
            ("active-retinol".to_string(), 35),
        ]
        .into(),
        ..Tailoring::default()
    };
    let input = TreatmentInput {
        treated_at: "2026-11-24T08:00:00".parse().unwrap(),
        ..cheeks(tailoring)
    };
    let err = compute_plan(&protocol, &input).unwrap_err();
    assert_eq!(err.field(), "adjust_active-retinol");
    assert!(err.to_string().contains("day 42"), "{err}");
    // Vitamin C on day 14 and retinol on day 30 leave room: acids 21, retinol 30, and
    // prescription retinoids a week after retinol, on day 37.
    let fits = TreatmentInput {
        tailoring: Tailoring {
            adjustments: [
                ("active-vitamin-c".to_string(), 14),
                ("active-retinol".to_string(), 30),
            ]
            .into(),
            ..Tailoring::default()
        },
        ..input
    };
    let plan = compute_plan(&protocol, &fits).unwrap_or_else(|e| panic!("{e}"));
    let days: Vec<u32> = plan.actives.iter().map(|a| a.day).collect();
    assert_eq!(days, [14, 30, 21, 37]);
    let end = plan.phases.last().unwrap().ends_at.utc;
    assert!(plan.reminders.iter().all(|r| r.send_at < end));
}

/// Review L2: prescription retinoids are stronger than shop retinol, so they never come back
/// before it, even when a practitioner moves shop retinol past their day (28 standard, 35
/// deep): they come a week after it, marked adjusted; where that runs past the plan, the
/// practitioner's retinol day is refused.
#[test]
fn prescription_retinoids_never_come_back_before_shop_retinol() {
    let day = |plan: &Plan, key: &str| plan.actives.iter().find(|a| a.key == key).unwrap().day;
    let (retinol, prescription) = ("active-retinol", "active-prescription-retinoids");
    // Standard: retinol on day 30 (in range 14-35) puts prescription retinoids on day 37.
    let later = plan(adjust(retinol, 30));
    assert_eq!((day(&later, retinol), day(&later, prescription)), (30, 37));
    let moved = later
        .adjusted
        .iter()
        .find(|a| a.key == prescription)
        .unwrap();
    assert_eq!((moved.default, moved.value), (28, 37));
    // Deep (the whole range): retinol on day 35 puts them on day 42, inside the deep plan.
    for chosen in 21..=35 {
        let input = TreatmentInput {
            areas: vec![TreatedArea {
                area_id: "cheeks".into(),
                depth_mm: 2.0,
            }],
            ..cheeks(adjust(retinol, chosen))
        };
        let deep = compute_plan(&Protocol::default_protocol(), &input).unwrap();
        assert!(
            day(&deep, prescription) >= day(&deep, retinol) + 7,
            "retinol day {chosen}"
        );
    }
    // Standard, retinol on day 35: day 42 is past the plan's last product day (40).
    let err =
        compute_plan(&Protocol::default_protocol(), &cheeks(adjust(retinol, 35))).unwrap_err();
    assert_eq!(err.field(), "adjust_active-retinol");
    assert!(err.to_string().contains("Prescription retinoids"), "{err}");
}

/// Plans are stored: who set a length reads back as it was written, and a plan naming a
/// setter the app does not know does not load.
#[test]
fn who_set_a_length_is_stored_as_its_text() {
    use crate::SetBy;
    for by in [
        SetBy::Practitioner,
        SetBy::AddOn("peel".into()),
        SetBy::Consideration("darker-skin".into()),
        SetBy::OneActiveAWeek,
        SetBy::NotBeforeTheAcids,
    ] {
        let text = serde_json::to_string(&by).unwrap();
        assert_eq!(text, format!("\"{by}\""));
        assert_eq!(serde_json::from_str::<SetBy>(&text).unwrap(), by);
    }
    assert_eq!(
        serde_json::to_string(&SetBy::AddOn("peel".into())).unwrap(),
        "\"add-on peel\""
    );
    assert!(serde_json::from_str::<SetBy>("\"the moon\"").is_err());
}
