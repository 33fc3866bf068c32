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
        "first-hours,first-day,day-2,day-3,days-4-7,weeks-2-4,results"
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
        Some("2.0 mm is deeper than usual here: Around the eyes is usually treated at 0.2–0.5 mm.")
    );
    assert_eq!(
        depth_hint(&p, "abdomen", 0.25).as_deref(),
        Some("0.25 mm is shallower than usual here: Tummy (abdomen) is usually treated at 1.5–3.0 mm.")
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
    assert_message(
        &message,
        &["phases[0] \"first-hours\"", "must start at 0 h"],
    );
}

#[test]
fn backwards_offsets_are_refused() {
    let message = error_after(replace_once(
        "superficial = [48, 72], standard = [48, 72], deep = [72, 120]",
        "superficial = [48, 48], standard = [48, 72], deep = [72, 120]",
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
        &["phases[0] \"first-hours\"", "no value for band \"deep\""],
    );
    let unknown = error_after(replace_once(
        "deep = [0, 8]",
        "deep = [0, 8], extreme = [0, 9]",
    ));
    assert_message(
        &unknown,
        &["phases[0] \"first-hours\"", "unknown band \"extreme\""],
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
        &["phases[0] \"first-hours\"", "\"deep\" (5)", "never"],
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
            "  \"Peeling or picking the flakes or any scabs. Let them come off by themselves. Picking can leave a scar or let germs in.\",",
            "  \"\",",
            &["phases[3] \"day-3\"", "avoid[0] is empty"],
        ),
        (
            "  \"A fever or chills.\",",
            "  \"\",",
            &["red_flags[1] \"call-now\"", "items[3] is empty"],
        ),
        (
            "label = \"Around the eyes\"",
            "label = \"\"",
            &["areas[1] \"periorbital\"", "label is empty"],
        ),
        (
            "  \"Do not wash your hair on the first day. After that, use a mild shampoo.\",",
            "  \"\",",
            &["classes[4] \"scalp\"", "notes[0] is empty"],
        ),
        (
            "how = \"Use it in the morning, under your sunscreen. Start with a small amount.\"",
            "how = \"\"",
            &["actives[0] \"vitamin-c\"", "how is empty"],
        ),
    ];
    for (from, to, parts) in cases {
        assert_message(&error_after(replace_once(from, to)), parts);
    }
}

#[test]
fn entries_must_name_their_sources() {
    let message = error_after(replace_once(
        "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = [\"glow-refinery-depth\", \"drpen-depth\"]",
        "label = \"Cheeks\"\nclass = \"face\"\ntypical_mm = [0.5, 1.5]\nsources = []",
    ));
    assert_message(&message, &["areas[2] \"cheeks\"", "sources is empty"]);
    let blank = error_after(replace_once(
        "sources = [\"001\", \"003\"]\n\n[[phases]]\nid = \"first-day\"",
        "sources = [\"001\", \"\"]\n\n[[phases]]\nid = \"first-day\"",
    ));
    assert_message(
        &blank,
        &["phases[0] \"first-hours\"", "sources[1] is empty"],
    );
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
        "days = { superficial = 4, standard = 5, deep = 14 }",
        "days = { superficial = 4, standard = 5, deep = 4 }",
    ));
    assert_message(
        &message,
        &[
            "actives[0] \"vitamin-c\"",
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
            "day 35",
        ],
    );
}

/// The default protocol with one more active, whose days are given as TOML.
fn with_extra_active(days: &str) -> String {
    let extra = format!(
        "\n[[actives]]\nid = \"benzoyl-peroxide\"\nname = \"Benzoyl peroxide\"\n\
         days = {days}\nhow = \"Use it on single spots.\"\n\
         headline = \"spot treatments can come back\"\nsources = [\"003\"]\n"
    );
    let anchor = "\n[[red_flags]]";
    assert_eq!(default_text().matches(anchor).count(), 3);
    default_text().replacen(anchor, &format!("{extra}{anchor}"), 1)
}

#[test]
fn a_clinic_can_add_an_active() {
    // Deep's fifth active lands on day 42, so the last phase must run on past day 44.
    let text = with_extra_active("{ superficial = 35, standard = 35, deep = 42 }").replacen(
        "superficial = [672, 1008], standard = [672, 1008]",
        "superficial = [672, 1056], standard = [672, 1056]",
        1,
    );
    let p = Protocol::parse("clinic.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.actives().last().unwrap().id, "benzoyl-peroxide");
}

#[test]
fn an_added_active_too_close_to_another_is_refused() {
    // Day 31 for superficial is 3 days after prescription retinoids (day 28).
    let text = with_extra_active("{ superficial = 31, standard = 35, deep = 42 }");
    let message = Protocol::parse("clinic.toml", &text)
        .unwrap_err()
        .to_string();
    assert_message(
        &message,
        &[
            "actives[4] \"benzoyl-peroxide\"",
            "day 31 for band \"superficial\", 3 day(s) from actives[3] \"prescription-retinoids\" on day 28",
            "at least 7 days apart",
        ],
    );
}

#[test]
fn two_actives_on_one_day_in_a_band_are_refused() {
    let message = error_after(replace_once(
        "days = { superficial = 11, standard = 14, deep = 21 }",
        "days = { superficial = 11, standard = 14, deep = 14 }",
    ));
    assert_message(
        &message,
        &[
            "actives[1] \"retinol\"",
            "day 14 for band \"deep\", 0 day(s) from actives[0] \"vitamin-c\" on day 14",
        ],
    );
}

#[test]
fn prescription_retinoids_before_the_standard_date_are_refused() {
    let message = error_after(replace_once(
        "days = { superficial = 28, standard = 28, deep = 35 }",
        "days = { superficial = 25, standard = 28, deep = 35 }",
    ));
    assert_message(
        &message,
        &[
            "actives[3] \"prescription-retinoids\"",
            "day 25 for band \"superficial\" is before day 28, the \"standard\" band's day",
        ],
    );
}

#[test]
fn an_unknown_source_id_is_refused_with_the_entry_and_the_id() {
    let message = error_after(replace_once(
        "sources = [\"drpen-depth\", \"ybs-cold-sores\"]",
        "sources = [\"drpen-depth\", \"ybs-coldsores\"]",
    ));
    assert_message(
        &message,
        &[
            "areas[4] \"upper-lip\"",
            "cites source \"ybs-coldsores\", which is not declared in [[sources]]",
        ],
    );
}

#[test]
fn a_reference_needs_its_address_and_ids_are_unique() {
    let no_url = error_after(replace_once(
        "url = \"https://www.nidirect.gov.uk/conditions/anaphylaxis\"\n",
        "",
    ));
    assert_message(
        &no_url,
        &[
            "sources[11] \"nidirect-anaphylaxis\"",
            "needs its web address",
        ],
    );
    let twice = error_after(replace_once(
        "id = \"tbl-sleep\"",
        "id = \"webmd-cleaning\"",
    ));
    assert_message(
        &twice,
        &[
            "sources[13] \"webmd-cleaning\"",
            "duplicate id",
            "sources[12]",
        ],
    );
}

#[test]
fn every_declared_source_is_cited_and_every_citation_is_declared() {
    let p = Protocol::default_protocol();
    let uses = p.source_uses();
    assert_eq!(uses.len(), p.sources().len());
    for (source, entries) in &uses {
        assert!(!entries.is_empty(), "{} is cited by no entry", source.id);
    }
    let (_, tonight_sources) = uses
        .iter()
        .find(|(s, _)| s.id == "tbl-sleep")
        .expect("declared");
    assert_eq!(tonight_sources, &vec!["tonight".to_string()]);
    let text = sources_as_text(&p);
    assert!(text.contains("tbl-sleep  [reference]  How to Sleep After Microneedling"));
    assert!(text.contains("    cited by: tonight\n"));
}

#[test]
fn every_source_says_what_kind_of_publisher_it_is_and_show_prints_it() {
    let p = Protocol::default_protocol();
    let kind = |id: &str| {
        p.sources()
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} is declared"))
            .publisher
    };
    // The five guides are all commercial pages (clinical review 2026-12-04, C1).
    assert_eq!(kind("000"), Publisher::ContentSite);
    assert_eq!(kind("001"), Publisher::Clinic);
    assert_eq!(kind("002"), Publisher::Spa);
    assert_eq!(kind("003"), Publisher::SkincareVendor);
    assert_eq!(kind("004"), Publisher::DeviceMaker);
    assert!(["000", "001", "002", "003", "004"]
        .iter()
        .all(|id| !kind(id).is_independent()));
    assert_eq!(kind("nidirect-anaphylaxis"), Publisher::PublicHealthBody);
    assert_eq!(kind("dermnet-pih"), Publisher::ProfessionalBody);
    assert!(kind("cmac-hsv").is_independent());

    let text = sources_as_text(&p);
    assert!(
        text.contains("    publisher: device-maker (commercial: check it before relying on it)\n")
    );
    assert!(text.contains("    publisher: public-health-body (independent)\n"));
    // The emergency line rests on public health bodies, so it is not listed as commercial-only;
    // the actives schedule rests on vendor and clinic guides only, so it is.
    let commercial_only = p.entries_on_commercial_sources_only();
    assert!(!commercial_only.contains(&"red_flags[0] \"emergency\"".to_string()));
    assert!(commercial_only.contains(&"actives[1] \"retinol\"".to_string()));
    assert!(text.contains(&format!(
        "Entries resting only on commercial sources (no public health body, professional body or \
         peer-reviewed source): {}\n",
        commercial_only.len()
    )));
    assert!(text.contains("\n    actives[1] \"retinol\"\n"));
}

#[test]
fn an_unknown_or_missing_kind_of_publisher_is_refused_with_the_kinds_to_choose_from() {
    let unknown = error_after(replace_once(
        "publisher = \"skincare-vendor\"\ntitle = \"Microneedling Aftercare: What to Do",
        "publisher = \"shop\"\ntitle = \"Microneedling Aftercare: What to Do",
    ));
    assert_message(
        &unknown,
        &[
            "publisher = \"shop\"",
            "publisher \"shop\" is not a kind of publisher; use one of: device-maker, clinic, \
             spa, skincare-vendor, content-site, public-health-body, professional-body, \
             peer-reviewed",
        ],
    );
    let missing = error_after(replace_once(
        "id = \"004\"\nkind = \"guide\"\npublisher = \"device-maker\"\n",
        "id = \"004\"\nkind = \"guide\"\n",
    ));
    assert_message(&missing, &["missing field `publisher`"]);
}

#[test]
fn a_timed_avoid_list_must_end_on_a_phase_boundary() {
    let message = error_after(replace_once(
        "until_hours = { superficial = 48, standard = 72, deep = 72 }",
        "until_hours = { superficial = 48, standard = 60, deep = 72 }",
    ));
    assert_message(
        &message,
        &[
            "timed_avoid[0] \"heat-sweat-water\"",
            "band \"standard\" is 60 h, which is not the end of a phase",
        ],
    );
}

#[test]
fn the_emergency_group_must_name_the_clinics_number_and_come_first() {
    let no_number = error_after(replace_once(
        "title = \"Call {emergency_number} straight away if you have:\"",
        "title = \"Call 999 straight away if you have:\"",
    ));
    assert_message(
        &no_number,
        &[
            "red_flags[0] \"emergency\"",
            "title must contain {emergency_number}",
        ],
    );
    let order = error_after(replace_once("id = \"tell-us\"", "id = \"emergency\""));
    assert_message(&order, &["red_flags[2] \"emergency\""]);
}

#[test]
fn the_next_session_note_must_use_the_bands_own_window() {
    let message = error_after(replace_once(
        "For your skin, leave {gap} between them.",
        "Leave 4 to 6 weeks between them.",
    ));
    assert_message(&message, &["next_session", "note must contain {gap}"]);
}

/// The consistency tests' tags name what exists, or the file is refused.
#[test]
fn consistency_tags_must_name_known_actives_and_positions() {
    let message = error_after(replace_once(
        "comes_after = [\"aha-bha\"]",
        "comes_after = [\"aha-bhas\"]",
    ));
    assert_message(
        &message,
        &[
            "timed_avoid[1] \"other-treatments\"",
            "comes_after names \"aha-bhas\", which is not another active",
        ],
    );
    let message = error_after(replace_once(
        "comes_after = [\"vitamin-c\", \"retinol\", \"aha-bha\"]",
        "comes_after = [\"prescription-retinoids\"]",
    ));
    assert_message(
        &message,
        &[
            "actives[3] \"prescription-retinoids\"",
            "not another active",
        ],
    );
    let message = error_after(|text: String| {
        text.replacen(
            "keeps_off = [\"vitamin-c\",",
            "keeps_off = [\"vitamin-d\",",
            1,
        )
    });
    assert_message(&message, &["phases[0] \"first-hours\"", "\"vitamin-d\""]);
    let message = error_after(|text: String| {
        text.replacen(
            "pressed_when_sleeping_on = [\"front\"]",
            "pressed_when_sleeping_on = [\"tummy\"]",
            1,
        )
    });
    assert_message(
        &message,
        &[
            "areas[7] \"decollete\"",
            "pressed_when_sleeping_on names \"tummy\"; use one of [\"back\", \"front\", \"side\"]",
        ],
    );
}

#[test]
fn each_urgency_reads_back_from_its_id_and_nothing_else_does() {
    for urgency in Urgency::ALL {
        assert_eq!(Urgency::parse(urgency.id()), Some(urgency));
    }
    assert_eq!(Urgency::parse("none"), None);
    assert_eq!(Urgency::parse("Call-Now"), None);
}
