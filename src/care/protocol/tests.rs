//! Unit tests of loading and validating a protocol: each names the file, the entry and the problem.

use super::*;

fn default_text() -> String {
    DEFAULT_PROTOCOL_TOML.to_string()
}

/// Applies a textual edit to the default protocol and returns the error message.
fn error_after(edit: impl Fn(String) -> String) -> String {
    let text = edit(default_text());
    assert_ne!(text, default_text(), "the edit must change the protocol");
    match Protocol::parse("clinic.toml", &text) {
        Ok(_) => panic!("the edited protocol should be refused"),
        Err(e) => e.to_string(),
    }
}

fn replace_once(from: &'static str, to: &'static str) -> impl Fn(String) -> String {
    move |text: String| {
        assert_eq!(text.matches(from).count(), 1, "ambiguous edit {from:?}");
        text.replacen(from, to, 1)
    }
}

fn assert_message(message: &str, parts: &[&str]) {
    assert!(
        message.starts_with("clinic.toml: "),
        "no file name: {message}"
    );
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn default_protocol_loads() {
    let p = Protocol::parse("protocol/default.toml", DEFAULT_PROTOCOL_TOML)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p, Protocol::default_protocol());
    let ids = |items: Vec<&str>| items.join(",");
    assert_eq!(
        ids(p.bands().iter().map(|b| b.id.as_str()).collect()),
        "superficial,standard,deep"
    );
    assert_eq!(
        ids(p.phases().iter().map(|b| b.id.as_str()).collect()),
        "night-one,first-day,day-2,day-3,days-4-7,weeks-2-4,results"
    );
    assert_eq!(
        ids(p.areas().iter().map(|a| a.id.as_str()).collect()),
        "forehead,periorbital,cheeks,nose,upper-lip,chin-jaw,neck,decollete,hands,scalp,\
         abdomen,thighs,arms,back,buttocks"
    );
    assert_eq!(p.area("periorbital").unwrap().label, "Around the eyes");
    assert!(p.area("elbow").is_none());
}

#[test]
fn depth_picks_band_with_cut_offs_belonging_to_the_deeper_band() {
    let p = Protocol::default_protocol();
    let band = |d: f64| p.band_index_for_depth(d).map(|i| p.bands()[i].id.as_str());
    assert_eq!(band(0.1), Some("superficial"));
    assert_eq!(band(0.49), Some("superficial"));
    assert_eq!(band(0.5), Some("standard"));
    assert_eq!(band(1.49), Some("standard"));
    assert_eq!(band(1.5), Some("deep"));
    assert_eq!(band(3.0), Some("deep"));
    assert_eq!(band(3.01), None);
    assert_eq!(band(0.05), None);
    assert_eq!(band(f64::NAN), None);
}

#[test]
fn depth_hint_warns_gently_outside_the_usual_range() {
    let p = Protocol::default_protocol();
    assert_eq!(
        depth_hint(&p, "periorbital", 2.0).as_deref(),
        Some("2.0 mm is deeper than usual here: Around the eyes is usually treated at 0.2–0.5 mm. Please confirm.")
    );
    assert_eq!(
        depth_hint(&p, "abdomen", 0.25).as_deref(),
        Some("0.25 mm is shallower than usual here: Tummy (abdomen) is usually treated at 1.5–3.0 mm. Please confirm.")
    );
    assert_eq!(depth_hint(&p, "periorbital", 0.5), None);
    assert_eq!(depth_hint(&p, "neck", 2.5), None, "no usual range known");
    assert_eq!(depth_hint(&p, "elbow", 2.5), None);
}

#[test]
fn syntax_errors_name_the_file_and_quote_toml() {
    let message = error_after(|t| t + "\nthis is not toml");
    assert_message(&message, &["not a valid protocol file", "line"]);
}

#[test]
fn unknown_keys_are_refused_to_catch_typos() {
    let message = error_after(replace_once(
        "evening_delay_hours = 2",
        "evening_delay_hrs = 2",
    ));
    assert_message(&message, &["evening_delay_hrs"]);
}

#[test]
fn band_gap_is_refused() {
    let message = error_after(replace_once(
        "min_mm = 1.5\nmax_mm = 3.0",
        "min_mm = 1.6\nmax_mm = 3.0",
    ));
    assert_message(&message, &["bands[2] \"deep\"", "leaves a gap", "1.5"]);
}

#[test]
fn band_overlap_is_refused() {
    let message = error_after(replace_once(
        "min_mm = 0.5\nmax_mm = 1.5",
        "min_mm = 0.4\nmax_mm = 1.5",
    ));
    assert_message(&message, &["bands[1] \"standard\"", "overlaps", "0.4"]);
}

#[test]
fn bands_must_reach_the_deepest_depth() {
    let message = error_after(replace_once(
        "min_mm = 1.5\nmax_mm = 3.0",
        "min_mm = 1.5\nmax_mm = 2.5",
    ));
    assert_message(&message, &["bands[2] \"deep\"", "max_mm must be 3"]);
}

#[test]
fn backwards_band_is_refused() {
    let message = error_after(replace_once(
        "min_mm = 0.1\nmax_mm = 0.5",
        "min_mm = 0.1\nmax_mm = 0.1",
    ));
    assert_message(
        &message,
        &["bands[0] \"superficial\"", "greater than min_mm"],
    );
}

#[test]
fn non_contiguous_phases_are_refused() {
    let message = error_after(replace_once("standard = [48, 72]", "standard = [50, 72]"));
    assert_message(
        &message,
        &[
            "phases[3] \"day-3\"",
            "not contiguous",
            "\"standard\"",
            "phases[2] \"day-2\" ends at 48 h",
        ],
    );
}

#[test]
fn first_phase_must_start_at_the_treatment() {
    let message = error_after(replace_once("deep = [0, 8]", "deep = [1, 8]"));
    assert_message(&message, &["phases[0] \"night-one\"", "must start at 0 h"]);
}

#[test]
fn backwards_offsets_are_refused() {
    let message = error_after(replace_once(
        "superficial = [36, 48], standard = [48, 72], deep = [72, 120]",
        "superficial = [36, 36], standard = [48, 72], deep = [72, 120]",
    ));
    assert_message(
        &message,
        &["phases[3] \"day-3\"", "goes backwards", "superficial"],
    );
}

#[test]
fn missing_and_unknown_bands_in_offsets_are_refused() {
    let missing = error_after(replace_once(
        "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 8] }",
        "hours = { superficial = [0, 4], standard = [0, 6] }",
    ));
    assert_message(
        &missing,
        &["phases[0] \"night-one\"", "no value for band \"deep\""],
    );
    let unknown = error_after(replace_once(
        "deep = [0, 8]",
        "deep = [0, 8], extreme = [0, 9]",
    ));
    assert_message(
        &unknown,
        &["phases[0] \"night-one\"", "unknown band \"extreme\""],
    );
}

#[test]
fn a_deeper_band_must_not_end_a_phase_sooner() {
    let message = error_after(replace_once(
        "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 8] }\n",
        "hours = { superficial = [0, 4], standard = [0, 6], deep = [0, 5] }\n",
    ));
    assert_message(
        &message,
        &["phases[0] \"night-one\"", "\"deep\" (5)", "never"],
    );
}

#[test]
fn empty_texts_are_refused_wherever_they_are() {
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "name = \"Dry and flaky\"",
            "name = \" \"",
            &["phases[3] \"day-3\"", "name is empty"],
        ),
        (
            "  \"Peeling or picking the flakes.\",",
            "  \"\",",
            &["phases[3] \"day-3\"", "avoid[0] is empty"],
        ),
        (
            "  \"A fever.\",",
            "  \"\",",
            &["red_flags", "items[4] is empty"],
        ),
        (
            "label = \"Around the eyes\"",
            "label = \"\"",
            &["areas[1] \"periorbital\"", "label is empty"],
        ),
        (
            "  \"Do not wash your hair on the first day.\",",
            "  \"\",",
            &["classes[4] \"scalp\"", "notes[0] is empty"],
        ),
        (
            "how = \"Use it in the morning under your sunscreen. Start every other day.\"",
            "how = \"\"",
            &["actives[1] \"vitamin-c\"", "how is empty"],
        ),
    ];
    for (from, to, parts) in cases {
        assert_message(&error_after(replace_once(from, to)), parts);
    }
}

#[test]
fn entries_must_name_their_sources() {
    let message = error_after(replace_once(
        "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = [\"004\"]",
        "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = []",
    ));
    assert_message(&message, &["areas[2] \"cheeks\"", "sources is empty"]);
    let blank = error_after(replace_once(
        "sources = [\"001\", \"003\"]\n\n[[phases]]\nid = \"first-day\"",
        "sources = [\"001\", \"\"]\n\n[[phases]]\nid = \"first-day\"",
    ));
    assert_message(&blank, &["phases[0] \"night-one\"", "sources[1] is empty"]);
}

#[test]
fn unknown_area_class_is_refused() {
    let message = error_after(replace_once(
        "label = \"Nose\"\nclass = \"face\"",
        "label = \"Nose\"\nclass = \"faces\"",
    ));
    assert_message(
        &message,
        &[
            "areas[3] \"nose\"",
            "class \"faces\" is not one of the classes",
        ],
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let message = error_after(replace_once("id = \"nose\"", "id = \"cheeks\""));
    assert_message(
        &message,
        &["areas[3] \"cheeks\"", "duplicate id", "areas[2]"],
    );
}

#[test]
fn deeper_band_must_not_get_an_active_back_sooner() {
    let message = error_after(replace_once(
        "days = { superficial = 5, standard = 5, deep = 14 }",
        "days = { superficial = 5, standard = 5, deep = 4 }",
    ));
    assert_message(
        &message,
        &[
            "actives[1] \"vitamin-c\"",
            "\"deep\" (4) is earlier than for the shallower band \"standard\" (5)",
        ],
    );
}

#[test]
fn cadence_must_name_a_known_phase() {
    let message = error_after(replace_once(
        "results_phase = \"results\"",
        "results_phase = \"result\"",
    ));
    assert_message(
        &message,
        &[
            "reminders",
            "results_phase \"result\" is not one of the phases",
        ],
    );
}

#[test]
fn cadence_subject_needs_its_placeholders() {
    let message = error_after(replace_once(
        "day_subject = \"Day {day} after your treatment: {headline}\"",
        "day_subject = \"Your treatment: {headline}\"",
    ));
    assert_message(&message, &["reminders", "day_subject must contain {day}"]);
}

#[test]
fn unknown_band_in_a_class_is_refused() {
    let message = error_after(replace_once(
        "actives_band = \"deep\"",
        "actives_band = \"deeper\"",
    ));
    assert_message(
        &message,
        &["classes[5] \"body\"", "unknown band \"deeper\""],
    );
}

#[test]
fn healing_factor_below_one_is_refused() {
    let message = error_after(replace_once("healing_factor = 1.5", "healing_factor = 0.5"));
    assert_message(&message, &["classes[5] \"body\"", "healing_factor 0.5"]);
}

#[test]
fn last_phase_must_outlast_every_email() {
    let message = error_after(replace_once(
        "superficial = [672, 1008], standard = [672, 1008], deep = [1008, 1344]",
        "superficial = [672, 700], standard = [672, 1008], deep = [1008, 1344]",
    ));
    assert_message(
        &message,
        &[
            "phases[6] \"results\"",
            "ends at 700 h for band \"superficial\"",
            "day 28",
        ],
    );
}

#[test]
fn a_clinic_can_add_an_active() {
    let extra = "\n[[actives]]\nid = \"benzoyl-peroxide\"\nname = \"Benzoyl peroxide\"\n\
                 days = { superficial = 5, standard = 14, deep = 28 }\nhow = \"Use it on single spots.\"\n\
                 headline = \"spot treatments can come back\"\nsources = [\"003\"]\n";
    let text = default_text().replacen("\n[red_flags]", &format!("{extra}\n[red_flags]"), 1);
    let p = Protocol::parse("clinic.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.actives().last().unwrap().id, "benzoyl-peroxide");
}
