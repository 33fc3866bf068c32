//! Consistency by construction (#22, item 7): for every depth band × every area × each add-on
//! (none, and each one) × each skin consideration (none, and each one), treated in London two days
//! before the clocks go forward, the real engine computes the plan and the real renderers give
//! the sheet, every email (text and HTML) and the check-in pages of every email's day (the form,
//! and the answer page with every normal sign ticked). Rules then run over the whole output of
//! each combination:
//!
//! - nothing comes back on a day a line in force that day keeps it off (the phases' `keeps_off`);
//! - nothing comes back before a stricter line (`comes_after`: peels and laser after acids,
//!   prescription retinoids last);
//! - one duration per symptom, over every text the patient reads;
//! - every area note in the sheet and in the emails of its days;
//! - the emergency line on the sheet, in every email and on every check-in page;
//! - no sleeping advice that has the patient lie on the treated area (`pressed_when_sleeping_on`).
//!
//! The same checker runs on `tests/fixtures/contradictory.toml`, laid over the default protocol,
//! and must find exactly the contradictions planted there: the suite can fail.

use std::collections::{BTreeMap, BTreeSet};

use aftercare::care::protocol::{Urgency, EMERGENCY_NUMBER, SLEEPING_POSITIONS};
use aftercare::care::{
    adjustables, compute_plan, Plan, Protocol, Tailoring, TreatedArea, TreatmentInput,
    DEFAULT_PROTOCOL_TOML,
};
use aftercare::documents::sheet::{self, SheetBody};
use aftercare::mail::reminder::compose;
use aftercare::usecases::checkins::{page_of_plan, Triage};
use aftercare::usecases::clinic::{emergency_number, Clinic};
use aftercare::web::checkins::{DonePage, FormPage};
use askama::Template;
use chrono::{Days, NaiveDate};

use crate::protocol::{clinic, visible_text};

/// Friday before the last Sunday of March 2026 (the 29th): phases and emails cross the change.
const TREATED_AT: &str = "2026-03-27T14:30:00";
const ZONE: &str = "Europe/London";

/// One treatment of the matrix.
struct Combination {
    name: String,
    input: TreatmentInput,
}

/// Every band (at its shallowest depth, a cut-off) × every area × no add-on or each one × no
/// consideration or each one.
fn combinations(protocol: &Protocol) -> Vec<Combination> {
    let none = || std::iter::once(None);
    let mut out = Vec::new();
    for band in protocol.bands() {
        for area in protocol.areas() {
            for add_on in none().chain(protocol.add_ons().iter().map(|t| Some(&t.id))) {
                for consideration in
                    none().chain(protocol.considerations().iter().map(|t| Some(&t.id)))
                {
                    let tailoring = Tailoring {
                        add_ons: add_on.cloned().into_iter().collect(),
                        considerations: consideration.cloned().into_iter().collect(),
                        ..Tailoring::default()
                    };
                    out.push(Combination {
                        name: format!(
                            "{} {} mm, add-on {}, consideration {}",
                            area.id,
                            band.min_mm,
                            add_on.map_or("none", String::as_str),
                            consideration.map_or("none", String::as_str)
                        ),
                        input: TreatmentInput {
                            areas: vec![TreatedArea {
                                area_id: area.id.clone(),
                                depth_mm: band.min_mm,
                            }],
                            treated_at: TREATED_AT.parse().unwrap(),
                            time_zone: ZONE.into(),
                            send_hour: 9,
                            tailoring,
                        },
                    });
                }
            }
        }
    }
    out
}

/// One page or email as the patient reads it, line by line.
struct Document {
    /// "sheet", "email day-3 (HTML)", "check-in form day 3" …
    what: String,
    kind: Kind,
    /// The local day after the treatment day it is read on (the sheet: none, it covers all).
    day: Option<u32>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Sheet,
    Email,
    CheckinForm,
    CheckinDone,
}

/// A combination's plan and everything rendered from it.
struct Output {
    plan: Plan,
    clinic: Clinic,
    documents: Vec<Document>,
}

fn render(plan: Plan) -> Output {
    let clinic = clinic(ZONE);
    let mut documents = Vec::new();
    let sheet = sheet::build(&plan, &clinic, "Maya Patel", "https://x/s/T".into());
    documents.push(Document {
        what: "sheet".into(),
        kind: Kind::Sheet,
        day: None,
        text: visible_text(&SheetBody { sheet: &sheet }.render().unwrap()),
    });
    for reminder in &plan.reminders {
        let email = compose(
            &plan,
            &reminder.key,
            false,
            &reminder.subject,
            reminder.send_at,
            &clinic,
            "Maya Patel",
            "https://x/s/T".into(),
            "https://x/u/T".into(),
        )
        .with_checkin("https://x/c/T".into());
        let subject = format!("Subject: {}\n", email.subject);
        for (format, text) in [
            ("text", email.text().unwrap()),
            ("HTML", visible_text(&email.html().unwrap())),
        ] {
            documents.push(Document {
                what: format!("email {} ({format})", reminder.key),
                kind: Kind::Email,
                day: Some(reminder.day),
                text: format!("{subject}{text}"),
            });
        }
        // The email's check-in link, opened when the email arrives.
        let page = || page_of_plan(&plan, &clinic, "Maya Patel", 1, reminder.send_at);
        let form = FormPage::fresh(page(), "T".into(), "K".into(), None);
        documents.push(Document {
            what: format!("check-in form day {}", reminder.day),
            kind: Kind::CheckinForm,
            day: Some(reminder.day),
            text: visible_text(&form.render().unwrap()),
        });
        let page = page();
        let done = DonePage {
            normal_ticked: page.normal.iter().map(|i| i.text.clone()).collect(),
            page,
            triage: Triage::Normal,
            token: "T".into(),
        };
        documents.push(Document {
            what: format!(
                "check-in answer day {} (every normal sign ticked)",
                reminder.day
            ),
            kind: Kind::CheckinDone,
            day: Some(reminder.day),
            text: visible_text(&done.render().unwrap()),
        });
    }
    Output {
        plan,
        clinic,
        documents,
    }
}

/// What the rules found: (rule, subject) → examples "combination: detail". The keys are stable
/// across combinations, so one contradiction found in many plans is one key.
#[derive(Default)]
struct Report {
    found: BTreeMap<(&'static str, String), Vec<String>>,
}

impl Report {
    fn add(&mut self, rule: &'static str, subject: String, example: String) {
        self.found.entry((rule, subject)).or_default().push(example);
    }

    fn keys(&self) -> BTreeSet<(&'static str, String)> {
        self.found.keys().cloned().collect()
    }

    /// Each contradiction with its count and a few examples.
    fn describe(&self) -> String {
        let mut out = String::new();
        for ((rule, subject), examples) in &self.found {
            out.push_str(&format!(
                "\n[{rule}] {subject}: {} plan(s), e.g.\n",
                examples.len()
            ));
            for e in examples.iter().take(3) {
                out.push_str(&format!("    {e}\n"));
            }
        }
        out
    }
}

const KEPT_OFF: &str = "comes back on a day a line in force keeps it off";
const BEFORE_STRICTER: &str = "comes back before a stricter line";
const DURATIONS: &str = "more than one duration for a symptom";
const PAST_WINDOW: &str = "called common past its window";
const AREA_NOTE: &str = "area note missing";
const EMERGENCY: &str = "emergency line missing";
const SLEEP: &str = "sleeping advice lies on the treated area";

/// Every rule over one combination's output.
fn check(protocol: &Protocol, name: &str, output: &Output, report: &mut Report) {
    let mut add = |rule, subject: String, detail: String| {
        report.add(rule, subject, format!("{name}: {detail}"))
    };
    kept_off_on_its_day(protocol, output, &mut add);
    before_a_stricter_line(protocol, &output.plan, &mut add);
    one_duration_per_symptom(output, &mut add);
    common_only_inside_its_window(output, &mut add);
    area_notes_on_their_days(protocol, output, &mut add);
    emergency_line_everywhere(output, &mut add);
    sleeping_advice_fits_the_area(protocol, output, &mut add);
}

type Add<'a> = dyn FnMut(&'static str, String, String) + 'a;

/// Whether a phase (start inclusive, end exclusive) covers any part of a local day.
fn in_force_on(phase: &aftercare::care::Phase, day: NaiveDate) -> bool {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap();
    let next = (day + Days::new(1)).and_hms_opt(0, 0, 0).unwrap();
    phase.starts_at.local < next && phase.ends_at.local > midnight
}

/// An active's date falls on no day a phase that keeps it off is in force, and no email that
/// announces it is sent inside such a phase.
fn kept_off_on_its_day(protocol: &Protocol, output: &Output, add: &mut Add) {
    let plan = &output.plan;
    let keeps_off = |phase_id: &str, active: &str| {
        protocol
            .phases()
            .iter()
            .any(|p| p.id == phase_id && p.keeps_off.iter().any(|id| id == active))
    };
    for active in &plan.actives {
        let id = active.key.trim_start_matches("active-");
        for phase in &plan.phases {
            if keeps_off(&phase.id, id) && in_force_on(phase, active.from) {
                add(
                    KEPT_OFF,
                    format!("{id} during {}", phase.id),
                    format!(
                        "{id} from {} while \"{}\" runs {} to {}",
                        active.from, phase.name, phase.starts_at.local, phase.ends_at.local
                    ),
                );
            }
        }
        for reminder in plan
            .reminders
            .iter()
            .filter(|r| r.milestones.contains(&active.key))
        {
            if keeps_off(&reminder.phase_id, id) {
                add(
                    KEPT_OFF,
                    format!("{id} during {}", reminder.phase_id),
                    format!("email {} announces {id} inside it", reminder.key),
                );
            }
        }
    }
}

/// An active never comes back before an active it `comes_after`; a timed list never ends before
/// the date of an active it `comes_after`.
fn before_a_stricter_line(protocol: &Protocol, plan: &Plan, add: &mut Add) {
    let from = |id: &str| {
        plan.actives
            .iter()
            .find(|a| a.key == format!("active-{id}"))
            .map(|a| a.from)
    };
    for active in protocol.actives() {
        let Some(own) = from(&active.id) else {
            continue;
        };
        for other in &active.comes_after {
            if let Some(theirs) = from(other).filter(|theirs| own < *theirs) {
                add(
                    BEFORE_STRICTER,
                    format!("{} before {other}", active.id),
                    format!("{} from {own}, {other} from {theirs}", active.id),
                );
            }
        }
    }
    for timed in protocol.timed_avoid() {
        let Some(ends) = plan.avoid_until.iter().find(|a| a.items == timed.items) else {
            continue;
        };
        for other in &timed.comes_after {
            let ends_on = ends.until.local.date();
            if let Some(theirs) = from(other).filter(|theirs| ends_on < *theirs) {
                add(
                    BEFORE_STRICTER,
                    format!("{} before {other}", timed.id),
                    format!("{} ends {ends_on}, {other} from {theirs}", timed.id),
                );
            }
        }
    }
}

/// The symptoms a line can give a duration for, each with the words that name it. A line is
/// about the first symptom it names; "around the eyes" is a place of its own.
const SYMPTOMS: [(&str, &[&str]); 6] = [
    ("redness", &["redness", "red skin"]),
    ("swelling", &["swelling", "swollen", "puffy", "puffiness"]),
    ("dryness", &["flaking", "flaky", "dry skin"]),
    ("tight feeling", &["tight feeling"]),
    ("bruising", &["bruise"]),
    ("scabs", &["scab"]),
];

/// The place a symptom can be named for on its own.
const AROUND_THE_EYES: &str = " around the eyes";

fn symptom_of(line: &str) -> Option<String> {
    let lower = line.to_lowercase();
    let (_, symptom) = SYMPTOMS
        .iter()
        .flat_map(|(symptom, words)| {
            words
                .iter()
                .filter_map(|w| lower.find(w))
                .map(move |at| (at, *symptom))
        })
        .min()?;
    Some(if lower.contains("eye") {
        format!("{symptom}{AROUND_THE_EYES}")
    } else {
        symptom.to_string()
    })
}

/// The last day a line gives its symptom: "by day 3", "by the end of day 3", "up to day 3",
/// "after day 3" (a check-in's "still there after day 3"), "in the first 3 days", "3 to 5 days"
/// (5), "for 3 days", "a day or two" (2), "a week or two" (14).
fn last_days(line: &str) -> Vec<u32> {
    let lower = line.to_lowercase();
    let number_after = |from: usize| -> Option<u32> {
        let digits: String = lower[from..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let mut days = Vec::new();
    for marker in ["by day ", "by the end of day ", "up to day ", "after day "] {
        for (at, _) in lower.match_indices(marker) {
            days.extend(number_after(at + marker.len()));
        }
    }
    for (at, _) in lower.match_indices(" days") {
        // "… 3 to 5 days", "… first 3 days", "for 3 days": the number just before.
        let before = lower[..at].trim_end();
        let start = before
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        if let Ok(n) = before[start..].parse::<u32>() {
            days.push(n);
        }
    }
    if lower.contains("a day or two") {
        days.push(2);
    }
    if lower.contains("a week or two") {
        days.push(14);
    }
    days
}

/// Every line that gives a symptom a last day agrees with every other such line of the output.
fn one_duration_per_symptom(output: &Output, add: &mut Add) {
    let mut said: BTreeMap<String, BTreeMap<u32, String>> = BTreeMap::new();
    for doc in &output.documents {
        for line in doc.text.lines() {
            let Some(symptom) = symptom_of(line) else {
                continue;
            };
            for day in last_days(line) {
                said.entry(symptom.clone())
                    .or_default()
                    .entry(day)
                    .or_insert_with(|| format!("{}: \"{line}\"", doc.what));
            }
        }
    }
    for (symptom, days) in said.iter().filter(|(_, days)| days.len() > 1) {
        let detail: Vec<String> = days.values().cloned().collect();
        add(DURATIONS, symptom.clone(), detail.join(" / "));
    }
    // A place that shows a symptom more ("around the eyes") cannot be told it ends sooner
    // than the same symptom on the rest of the treated skin.
    for (symptom, days) in &said {
        let Some(general) = symptom.strip_suffix(AROUND_THE_EYES) else {
            continue;
        };
        let (Some((place_day, place)), Some((general_day, anywhere))) = (
            days.first_key_value(),
            said.get(general).and_then(|d| d.last_key_value()),
        ) else {
            continue;
        };
        if place_day < general_day {
            add(
                DURATIONS,
                general.to_string(),
                format!("{place} / {anywhere}"),
            );
        }
    }
}

/// A check-in answer of day N calls a sign "common on day N" only if its own last day is N or
/// later (review H1).
fn common_only_inside_its_window(output: &Output, add: &mut Add) {
    for doc in output
        .documents
        .iter()
        .filter(|d| d.kind == Kind::CheckinDone)
    {
        let day = doc.day.unwrap_or(0);
        let confirmed = doc
            .text
            .lines()
            .skip_while(|line| !line.contains("is common on day"))
            .skip(1)
            .take_while(|line| line.starts_with("- "));
        for line in confirmed {
            if last_days(line).iter().any(|last| *last < day) {
                add(
                    PAST_WINDOW,
                    symptom_of(line).unwrap_or_else(|| line.to_string()),
                    format!("{}: \"{line}\"", doc.what),
                );
            }
        }
    }
}

/// Each treated area's class and own notes are on the sheet, and in the text and HTML of every
/// email up to the notes' last day.
fn area_notes_on_their_days(protocol: &Protocol, output: &Output, add: &mut Add) {
    for treated in &output.plan.areas {
        let area = protocol.area(&treated.id).unwrap();
        let class = protocol.class(&area.class).unwrap();
        let notes = [
            (&class.label, &class.notes, class.notes_last_day),
            (&area.label, &area.notes, area.notes_last_day),
        ];
        for (label, notes, last_day) in notes {
            for doc in &output.documents {
                let applies = match (doc.kind, doc.day) {
                    (Kind::Sheet, _) => true,
                    (Kind::Email, Some(day)) => last_day.is_none_or(|last| day <= last),
                    _ => false,
                };
                for note in notes.iter().filter(|n| applies && !doc.text.contains(*n)) {
                    add(
                        AREA_NOTE,
                        format!("{label} note in the {:?}", doc.kind),
                        format!("{} lacks \"{note}\"", doc.what),
                    );
                }
            }
        }
    }
}

/// The emergency group's title, with the clinic's number, and every one of its items.
fn emergency_line_everywhere(output: &Output, add: &mut Add) {
    let number = emergency_number(&output.clinic);
    let group = output
        .plan
        .red_flags
        .groups
        .iter()
        .find(|g| g.urgency == Urgency::Emergency);
    let Some(group) = group else {
        add(EMERGENCY, "the plan".into(), "no emergency group".into());
        return;
    };
    let title = group.title.replace(EMERGENCY_NUMBER, &number);
    for doc in &output.documents {
        for line in std::iter::once(&title).chain(&group.items) {
            if !doc.text.contains(line.as_str()) {
                add(
                    EMERGENCY,
                    format!("from the {:?}", doc.kind),
                    format!("{} lacks \"{line}\"", doc.what),
                );
            }
        }
    }
}

/// No line tells the patient to sleep or lie in a position that lies on a treated area.
fn sleeping_advice_fits_the_area(protocol: &Protocol, output: &Output, add: &mut Add) {
    let pressed: Vec<(&str, &str)> = output
        .plan
        .areas
        .iter()
        .filter_map(|a| protocol.area(&a.id))
        .flat_map(|a| {
            a.pressed_when_sleeping_on
                .iter()
                .map(move |p| (a.id.as_str(), p.as_str()))
        })
        .collect();
    for doc in &output.documents {
        for line in doc.text.lines() {
            for (area, position) in &pressed {
                if advised_positions(line).contains(position) {
                    add(
                        SLEEP,
                        format!("{area} told to sleep on the {position}"),
                        format!("{}: \"{line}\"", doc.what),
                    );
                }
            }
        }
    }
}

/// The positions a line advises sleeping or lying in: "Sleep on your side or front" gives side
/// and front; "do not lie on …" advises none.
fn advised_positions(line: &str) -> Vec<&'static str> {
    let lower = line.to_lowercase();
    let mut out = Vec::new();
    for marker in ["sleep on your ", "lie on your "] {
        for (at, _) in lower.match_indices(marker) {
            let before = &lower[..at];
            if before.ends_with("not ") || before.ends_with("never ") {
                continue;
            }
            let rest = &lower[at + marker.len()..];
            let phrase = rest.split([',', '.', ';']).next().unwrap_or("");
            out.extend(
                SLEEPING_POSITIONS
                    .iter()
                    .filter(|p| phrase.split_whitespace().any(|w| w == **p)),
            );
        }
    }
    out
}

/// Runs every rule over each combination, in two threads (one per core).
fn check_all(protocol: &Protocol, combinations: &[Combination]) -> Report {
    let halves: Vec<&[Combination]> = combinations
        .chunks(combinations.len().div_ceil(2))
        .collect();
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = halves
            .into_iter()
            .map(|half| {
                scope.spawn(move || {
                    let mut report = Report::default();
                    for c in half {
                        let plan = compute_plan(protocol, &c.input)
                            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
                        check(protocol, &c.name, &render(plan), &mut report);
                    }
                    report
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Report::default();
    for report in reports {
        for ((rule, subject), examples) in report.found {
            all.found
                .entry((rule, subject))
                .or_default()
                .extend(examples);
        }
    }
    all
}

/// Contradictions the suite finds today whose fix is not this suite's to make: each has an
/// ignored test of its own below, which says why, and is left out of the other tests' reports.
const OPEN: [(&str, &str); 1] = [
    // A clinician's call (see prescription_retinoids_come_last_with_darker_skin).
    (BEFORE_STRICTER, "prescription-retinoids before aha-bha"),
];

/// The report without the open contradictions.
fn settled(mut report: Report) -> Report {
    report
        .found
        .retain(|(rule, subject), _| !OPEN.contains(&(*rule, subject.as_str())));
    report
}

/// Fails with every contradiction found in these combinations (the open ones too, or not).
fn assert_consistent(protocol: &Protocol, combinations: &[Combination], with_open: bool) {
    let mut report = check_all(protocol, combinations);
    if !with_open {
        report = settled(report);
    }
    assert!(report.found.is_empty(), "{}", report.describe());
}

#[test]
fn every_band_area_add_on_and_consideration_agrees_with_itself() {
    let protocol = Protocol::default_protocol();
    assert_consistent(&protocol, &combinations(&protocol), false);
}

#[test]
#[ignore = "clinical call: with darker skin, exfoliating acids wait to day 35 but prescription \
            retinoids stay on day 28, before them, though the protocol says they come last; \
            day 42 does not fit superficial and standard plans (their last phase ends on day 42)"]
fn prescription_retinoids_come_last_with_darker_skin() {
    let protocol = Protocol::default_protocol();
    let darker: Vec<Combination> = combinations(&protocol)
        .into_iter()
        .filter(|c| c.input.tailoring.considerations == ["darker-skin"])
        .collect();
    assert_consistent(&protocol, &darker, true);
}

/// Every band × every area with one adjustable restriction at an end of the range the
/// practitioner may choose, one restriction and one end at a time.
fn adjusted_combinations(protocol: &Protocol) -> Vec<Combination> {
    let mut out = Vec::new();
    for plain in combinations(protocol)
        .into_iter()
        .filter(|c| c.input.tailoring.is_empty())
    {
        for adjustable in adjustables(protocol, &plain.input.areas) {
            let (_, _, min, max) = adjustable.ranges[0];
            for value in [min, max] {
                let mut input = plain.input.clone();
                let key = adjustable.key.clone();
                input.tailoring.adjustments.insert(key.clone(), value);
                // A choice the engine refuses (a product past the plan's end) is never shown.
                if compute_plan(protocol, &input).is_ok() {
                    out.push(Combination {
                        name: format!("{}, {key} at {value}", plain.name),
                        input,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn practitioner_choices_at_the_ends_of_their_ranges_agree_with_the_plan() {
    let protocol = Protocol::default_protocol();
    assert_consistent(&protocol, &adjusted_combinations(&protocol), false);
}

/// Review L2: a practitioner who moves shop retinol later moves prescription retinoids after it.
#[test]
fn prescription_retinoids_never_come_back_before_shop_retinol() {
    let protocol = Protocol::default_protocol();
    assert_consistent(&protocol, &adjusted_combinations(&protocol), true);
}

/// The default protocol with `tests/fixtures/contradictory.toml` laid over it: tables merge key
/// by key, an entry of a list of tables changes the keys it names in the entry of the same id,
/// and any other value replaces the default's.
fn contradictory_protocol() -> Protocol {
    let overlay: toml::Table =
        toml::from_str(include_str!("../fixtures/contradictory.toml")).unwrap();
    let mut base: toml::Table = toml::from_str(DEFAULT_PROTOCOL_TOML).unwrap();
    lay_over(&mut base, overlay);
    Protocol::parse(
        "tests/fixtures/contradictory.toml",
        &toml::to_string(&base).unwrap(),
    )
    .unwrap()
}

fn lay_over(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(table)), toml::Value::Table(changes)) => {
                lay_over(table, changes)
            }
            (Some(toml::Value::Array(entries)), toml::Value::Array(changes))
                if changes.iter().all(toml::Value::is_table) =>
            {
                for change in changes.into_iter().filter_map(|c| c.as_table().cloned()) {
                    let entry = entries
                        .iter_mut()
                        .filter_map(toml::Value::as_table_mut)
                        .find(|e| e.get("id") == change.get("id"))
                        .unwrap_or_else(|| panic!("{key}: no entry {:?}", change.get("id")));
                    lay_over(entry, change);
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The checker can fail: on a protocol with peels back on day 7 while acids wait until day 21,
/// and a second swelling duration, it reports exactly those contradictions.
#[test]
fn the_checker_finds_exactly_the_contradictions_planted_in_the_fixture() {
    let protocol = contradictory_protocol();
    let report = settled(check_all(&protocol, &combinations(&protocol)));
    let expected: BTreeSet<(&str, String)> = [
        (
            BEFORE_STRICTER,
            "other-treatments before aha-bha".to_string(),
        ),
        (DURATIONS, "swelling".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(report.keys(), expected, "{}", report.describe());
}

#[test]
fn the_line_readers_find_what_a_patient_reads() {
    assert_eq!(
        symptom_of("Puffy skin around the eyes. It should go down by day 2."),
        Some("swelling around the eyes".into())
    );
    assert_eq!(
        symptom_of("Redness that has not faded by the end of day 2, or redness with swelling"),
        Some("redness".into())
    );
    assert_eq!(symptom_of("Wear gloves when you clean or wash up."), None);
    assert_eq!(last_days("It should fade by the end of day 3."), vec![3]);
    assert_eq!(last_days("Mild swelling can last 3 to 5 days."), vec![5]);
    assert_eq!(
        last_days("Small bruises. They can last a week or two, up to day 14."),
        vec![14, 14]
    );
    assert_eq!(
        last_days("Tiny scabs can form in the first 3 days."),
        vec![3]
    );
    assert_eq!(last_days("It can show for a day or two."), vec![2]);
    assert!(last_days("Today is day 3 after your treatment").is_empty());
    assert_eq!(
        advised_positions("Sleep on your side or front, so you do not lie on the treated skin."),
        vec!["front", "side"]
    );
    assert_eq!(
        advised_positions("- Sleep on your back if you can, so it does not rub."),
        vec!["back"]
    );
    assert!(advised_positions("Do not sleep on your back.").is_empty());
}

/// Each rule fails on an output broken in its own way: a back patient's real output, then one
/// change per rule.
#[test]
fn each_rule_fails_on_an_output_that_breaks_it() {
    let protocol = Protocol::default_protocol();
    let back = combinations(&protocol)
        .into_iter()
        .find(|c| c.name == "back 1.5 mm, add-on none, consideration none")
        .unwrap();
    let fresh = || render(compute_plan(&protocol, &back.input).unwrap());
    let rules_broken_by = |output: &Output| {
        let mut report = Report::default();
        check(&protocol, "broken", output, &mut report);
        report
            .keys()
            .into_iter()
            .map(|(rule, _)| rule)
            .collect::<BTreeSet<_>>()
    };
    assert!(rules_broken_by(&fresh()).is_empty());
    let in_a_document = |doc: usize, from: &str, to: &str| {
        let mut output = fresh();
        let text = &mut output.documents[doc].text;
        assert!(text.contains(from), "{from}");
        *text = text.replacen(from, to, 1);
        rules_broken_by(&output)
    };
    let evening = 1;
    let body_note = "Wear loose clothes that let air reach the treated skin.";
    let emergency = "This can be a severe allergic reaction.";
    let cases = [
        (
            in_a_document(0, "Sleep on your side or front", "Sleep on your back"),
            SLEEP,
        ),
        (in_a_document(evening, body_note, ""), AREA_NOTE),
        (in_a_document(evening, emergency, ""), EMERGENCY),
        (
            in_a_document(
                0,
                "Mild swelling of the treated skin.",
                "Swelling goes by day 9.",
            ),
            DURATIONS,
        ),
    ];
    for (broken, rule) in cases {
        assert_eq!(broken, BTreeSet::from([rule]));
    }
    // The answer page of a late day confirming redness as common.
    let mut output = fresh();
    let late = output
        .documents
        .iter()
        .rposition(|d| d.kind == Kind::CheckinDone)
        .unwrap();
    let redness = output.plan.normal_signs[0].text.clone();
    output.documents[late].text.push_str(&format!(
        "\nWhat you ticked is common on day 9 of healing:\n- {redness}"
    ));
    assert_eq!(rules_broken_by(&output), BTreeSet::from([PAST_WINDOW]));
    // Vitamin C back on the day after the treatment, inside a phase that keeps it off.
    let mut output = fresh();
    let treated = output.plan.treated_at.local.date();
    output.plan.actives[0].from = treated + Days::new(1);
    assert_eq!(rules_broken_by(&output), BTreeSet::from([KEPT_OFF]));
    // Peels and laser back the day after the treatment, before the acids.
    let mut output = fresh();
    let peels = output
        .plan
        .avoid_until
        .iter_mut()
        .find(|a| a.items.iter().any(|i| i.contains("peels")));
    peels.unwrap().until = output.plan.treated_at;
    assert_eq!(rules_broken_by(&output), BTreeSet::from([BEFORE_STRICTER]));
}
