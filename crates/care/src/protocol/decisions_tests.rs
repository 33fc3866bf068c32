//! `[decisions]`: each value is read from there only, changing it changes the plan, and the
//! loader refuses a value that would make the plan unsafe or contradict itself.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::tailoring_tests::cheeks;
use crate::{compute_plan, NormalSign, Plan, Tailoring};

fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = DEFAULT_PROTOCOL_TOML.to_string();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "ambiguous edit {from:?}");
        text = text.replacen(from, to, 1);
    }
    text
}

fn refused(edits: &[(&str, &str)], parts: &[&str]) {
    let message = match Protocol::parse("clinic.toml", &edited(edits)) {
        Ok(_) => panic!("the edited protocol should be refused"),
        Err(e) => e.to_string(),
    };
    assert!(message.starts_with("clinic.toml: "), "{message}");
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

fn loaded(edits: &[(&str, &str)]) -> Protocol {
    Protocol::parse("clinic.toml", &edited(edits)).unwrap_or_else(|e| panic!("{e}"))
}

/// When [`cheeks`] is treated: 10:00 on Tue 24 Nov 2026 in London (UTC+0).
fn treated_utc() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// Cheeks at 1.0 mm (standard band, face) at `treated_utc`.
fn cheeks_plan(protocol: &Protocol, tailoring: Tailoring) -> Plan {
    compute_plan(protocol, &cheeks(tailoring)).unwrap_or_else(|e| panic!("{e}"))
}

fn redness(plan: &Plan) -> &NormalSign {
    let sign = plan.normal_signs.iter().find(|s| s.id == "redness");
    sign.expect("the plan lists redness")
}

/// When the plan lets laser and peels back.
fn peels_end(plan: &Plan) -> DateTime<Utc> {
    let list = plan
        .avoid_until
        .iter()
        .find(|a| a.items.iter().any(|i| i.contains("Laser or skin peels")))
        .expect("the plan lists laser and peels");
    list.until.utc
}

fn acids_day(plan: &Plan) -> u32 {
    let acids = plan
        .actives
        .iter()
        .find(|a| a.name.starts_with("Exfoliating acids"));
    acids.expect("the plan lists the acids").day
}

const REDNESS_LIMIT: &str = "[decisions.redness_limit]\nsign = \"redness\"\nlast_day = { superficial = 1, standard = 2, deep = 3 }";
const PEELS_ADJUST: &str =
    "adjust = { superficial = [672, 1000], standard = [672, 1000], deep = [1008, 1300] }";
const HEAT_ADJUST: &str =
    "adjust = { superficial = [48, 168], standard = [72, 168], deep = [72, 240] }";

#[test]
fn a_value_a_decision_sets_is_refused_in_its_entry_too() {
    refused(
        &[(
            "# last_day: set by [decisions.redness_limit].",
            "last_day = 2",
        )],
        &[
            "normal_signs[0] \"redness\"",
            "last_day is set by [decisions.redness_limit]",
        ],
    );
    refused(
        &[(
            "# until_hours: set by [decisions.peels_after_acids] (day 28, 28, 42 by default).",
            "until_hours = { superficial = 672, standard = 672, deep = 1008 }",
        )],
        &[
            "timed_avoid[1] \"other-treatments\"",
            "until_hours is set by [decisions.peels_after_acids]",
        ],
    );
    refused(
        &[(
            "# phases: set by [decisions.prp_wash] (the first-hours phase).",
            "phases = [\"first-hours\"]",
        )],
        &[
            "add_ons[0] \"prp\"",
            "phases is set by [decisions.prp_wash]",
        ],
    );
}

#[test]
fn the_default_decisions_give_the_plan_its_values() {
    let protocol = Protocol::default_protocol();
    let plan = cheeks_plan(&protocol, Tailoring::default());
    let redness = redness(&plan);
    assert_eq!(redness.last_day, 2);
    // D2, offset 0: standard acids on day 21, so peels at the end of its phase, day 28.
    assert_eq!(acids_day(&plan), 21);
    assert_eq!(peels_end(&plan), treated_utc() + Duration::days(28));
    // D1: the PRP line joins the first hours only.
    let prp = cheeks_plan(
        &protocol,
        Tailoring {
            add_ons: vec!["prp".into()],
            ..Tailoring::default()
        },
    );
    let with_plasma: Vec<&str> = prp
        .phases
        .iter()
        .filter(|p| p.do_items.iter().any(|i| i.contains("Leave the plasma")))
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(with_plasma, ["first-hours"]);
}

#[test]
fn the_redness_limit_moves_the_sign_and_its_red_flag() {
    let protocol = loaded(&[(
        REDNESS_LIMIT,
        "[decisions.redness_limit]\nsign = \"redness\"\nlast_day = { superficial = 1, standard = 3, deep = 3 }",
    )]);
    let plan = cheeks_plan(&protocol, Tailoring::default());
    let redness = redness(&plan);
    assert_eq!(redness.last_day, 3);
    assert!(
        redness.text.contains("by the end of day 3"),
        "{}",
        redness.text
    );
    let call_now = plan
        .red_flags
        .groups
        .iter()
        .find(|g| g.urgency == Urgency::CallNow)
        .unwrap();
    assert!(
        call_now
            .items
            .iter()
            .any(|i| i.contains("has not faded by the end of day 3")),
        "{:?}",
        call_now.items
    );
}

#[test]
fn a_redness_limit_past_the_bands_healing_is_refused() {
    refused(
        &[(
            REDNESS_LIMIT,
            "[decisions.redness_limit]\nsign = \"redness\"\nlast_day = { superficial = 1, standard = 2, deep = 43 }",
        )],
        &[
            "decisions.redness_limit",
            "last_day 43 for band \"deep\"",
            "the \"results\" phase starts at 1008 h",
        ],
    );
}

#[test]
fn the_prp_wash_time_must_be_the_end_of_the_base_no_wash_window() {
    refused(
        &[(
            "keep_on_through = \"first-hours\"",
            "keep_on_through = \"first-day\"",
        )],
        &[
            "decisions.prp_wash",
            "phases[1] \"first-day\" does not avoid \"Washing or touching the treated skin.\"",
        ],
    );
}

#[test]
fn an_offset_moves_peels_and_laser_later_and_never_before_the_acids() {
    // Acids day 21 + 14 = day 35, in the results phase of the standard band: peels to its end,
    // day 42. The form's range must then start there.
    let protocol = loaded(&[
        ("offset_days = 0", "offset_days = 14"),
        (
            PEELS_ADJUST,
            "adjust = { superficial = [1008, 1300], standard = [1008, 1300], deep = [1008, 1300] }",
        ),
    ]);
    let plan = cheeks_plan(&protocol, Tailoring::default());
    assert_eq!(peels_end(&plan), treated_utc() + Duration::days(42));

    refused(
        &[("offset_days = 0", "offset_days = 14")],
        &[
            "timed_avoid[1] \"other-treatments\" (its default is set by [decisions.peels_after_acids])",
            "adjust for band \"superficial\" is [672, 1000]: it must hold the default 1008",
        ],
    );
    refused(
        &[(
            PEELS_ADJUST,
            "adjust = { superficial = [672, 1000], standard = [500, 1000], deep = [1008, 1300] }",
        )],
        &[
            "timed_avoid[1] \"other-treatments\"",
            "adjust for band \"standard\" starts at 500 h, before 504 h, the day of \"aha-bha\"",
        ],
    );
    // Days are whole and never negative: TOML's parser refuses -1 for a day count.
    refused(&[("offset_days = 0", "offset_days = -1")], &["offset_days"]);
}

#[test]
fn acids_moved_later_by_a_consideration_take_peels_and_laser_with_them() {
    // Without its own lengthening of laser and peels, darker skin's acids on day 35 would come
    // after the default end (day 28): the plan moves the end to the acids' day.
    let protocol = loaded(&[(
        "at_least = { other-treatments = 1008, active-aha-bha = 35 }",
        "at_least = { active-aha-bha = 35 }",
    )]);
    let plan = cheeks_plan(
        &protocol,
        Tailoring {
            considerations: vec!["darker-skin".into()],
            ..Tailoring::default()
        },
    );
    assert_eq!(acids_day(&plan), 35);
    assert_eq!(peels_end(&plan), treated_utc() + Duration::days(35));
    let moved = plan
        .adjusted
        .iter()
        .find(|a| a.key == "other-treatments")
        .unwrap();
    assert_eq!(
        (moved.default, moved.value, &moved.by),
        (672, 840, &crate::SetBy::NotBeforeTheAcids)
    );
}

#[test]
fn a_heat_ban_range_below_the_shortest_ban_is_refused() {
    refused(
        &[(
            HEAT_ADJUST,
            "adjust = { superficial = [48, 168], standard = [48, 168], deep = [72, 240] }",
        )],
        &[
            "timed_avoid[0] \"heat-sweat-water\"",
            "adjust for band \"standard\" starts at 48 h, below 72 h, the shortest ban a \
             practitioner may choose ([decisions.shortest_heat_ban] min_hours)",
        ],
    );
    refused(
        &[(
            "min_hours = { superficial = 48, standard = 72, deep = 72 }",
            "min_hours = { superficial = 48, standard = 96, deep = 96 }",
        )],
        &[
            "decisions.shortest_heat_ban",
            "min_hours 96 for band \"standard\" is longer than the ban's default (72 h",
        ],
    );
    // The clinic that decides 48 h may offer it.
    loaded(&[
        (
            HEAT_ADJUST,
            "adjust = { superficial = [48, 168], standard = [48, 168], deep = [72, 240] }",
        ),
        (
            "min_hours = { superficial = 48, standard = 72, deep = 72 }",
            "min_hours = { superficial = 48, standard = 48, deep = 72 }",
        ),
    ]);
}

#[test]
fn a_clinician_authored_schedule_is_cited_by_every_active() {
    let schedule = "schedule = \"vendor-guides\"";
    refused(
        &[(schedule, "schedule = \"clinician-authored\"")],
        &["decisions.actives_evidence", "needs schedule_source"],
    );
    // 004 stands in for a clinic's signed schedule: prescription retinoids do not cite it.
    refused(
        &[(
            schedule,
            "schedule = \"clinician-authored\"\nschedule_source = \"004\"",
        )],
        &[
            "actives[3] \"prescription-retinoids\"",
            "does not cite \"004\", the clinician-authored schedule",
        ],
    );
    let protocol = loaded(&[(
        schedule,
        "schedule = \"clinician-authored\"\nschedule_source = \"001\"",
    )]);
    assert_eq!(
        protocol.decisions().actives_evidence.schedule,
        EvidenceBasis::ClinicianAuthored
    );
    refused(
        &[(
            schedule,
            "schedule = \"vendor-guides\"\nschedule_source = \"001\"",
        )],
        &["schedule_source is for a clinician-authored schedule"],
    );
}

#[test]
fn every_decision_names_what_it_decides_and_its_sources() {
    refused(
        &[(
            "sources = [\"calista-prp\", \"003\"]",
            "sources = [\"calista-prp\", \"nope\"]",
        )],
        &["decisions.prp_wash", "cites source \"nope\""],
    );
    let text = decisions_as_text(&Protocol::default_protocol());
    for (code, name) in [
        ("D1", "prp_wash"),
        ("D2", "peels_after_acids"),
        ("D3", "redness_limit"),
        ("D4", "shortest_heat_ban"),
        ("D5", "actives_evidence"),
    ] {
        assert!(
            text.contains(&format!("\n{code}  decisions.{name}\n    value: ")),
            "{text}"
        );
    }
}
