//! The check-in form ("How is your skin today?") as a `Questionnaire`, and each check-in as a
//! `QuestionnaireResponse` with its answers and, as an extension, its triage result.

use super::codes::{coding, ours, system};
use super::resources::{
    Answer, AnswerOption, Extension, Questionnaire, QuestionnaireItem, QuestionnaireResponse,
    ResponseItem,
};
use super::{stored_date_time, text, CheckinFacts, Ids, Record};

const ANSWER: &str = "answer";
const SIGNS: &str = "signs";
const NOTE: &str = "note";
const DAY: &str = "day";

fn answer_text() -> String {
    "How is your skin today?".into()
}

fn signs_text() -> String {
    "Tick anything you have noticed".into()
}

fn note_text() -> String {
    "Anything else you want to tell us".into()
}

fn day_text() -> String {
    "Days since the treatment".into()
}

/// The URL of the triage extension on each response.
pub fn triage_url() -> String {
    ours("StructureDefinition", "checkin-triage")
}

/// The questionnaire's canonical URL: the form of one treatment's plan (its red flags and
/// signs are the plan's own).
fn url(r: &Record) -> String {
    ours("Questionnaire", &format!("checkin/{}", r.treatment_id))
}

/// Every box the plan's check-in page can offer, each once: the red flags, the normal signs
/// and what they become past their window.
fn signs(r: &Record) -> Vec<String> {
    let plan = r.plan;
    let mut all: Vec<String> = Vec::new();
    let texts = plan
        .red_flags
        .groups
        .iter()
        .flat_map(|g| g.items.iter())
        .chain(&plan.red_flags.items)
        .chain(
            plan.normal_signs()
                .iter()
                .flat_map(|s| [&s.text, &s.past_text]),
        )
        .chain(&plan.normal);
    for t in texts {
        if let Some(t) = text(t) {
            if !all.contains(&t) {
                all.push(t);
            }
        }
    }
    all
}

pub(super) fn questionnaire(r: &Record, ids: &Ids) -> Questionnaire {
    Questionnaire {
        id: ids.id("questionnaire"),
        url: url(r),
        name: "AftercareCheckin",
        title: "How is your skin today?".into(),
        status: "active",
        subject_type: vec!["Patient"],
        item: vec![
            QuestionnaireItem {
                link_id: DAY,
                text: day_text(),
                kind: "integer",
                required: false,
                repeats: false,
                answer_option: Vec::new(),
            },
            QuestionnaireItem {
                link_id: ANSWER,
                text: answer_text(),
                kind: "choice",
                required: true,
                repeats: false,
                answer_option: r
                    .answer_options
                    .iter()
                    .map(|(code, label)| AnswerOption {
                        value_coding: Some(coding(system("checkin-answer"), code, label)),
                        value_string: None,
                    })
                    .collect(),
            },
            QuestionnaireItem {
                link_id: SIGNS,
                text: signs_text(),
                kind: "open-choice",
                required: false,
                repeats: true,
                answer_option: signs(r)
                    .into_iter()
                    .map(|s| AnswerOption {
                        value_coding: None,
                        value_string: Some(s),
                    })
                    .collect(),
            },
            QuestionnaireItem {
                link_id: NOTE,
                text: note_text(),
                kind: "text",
                required: false,
                repeats: false,
                answer_option: Vec::new(),
            },
        ],
    }
}

fn string(s: String) -> Answer {
    Answer {
        value_coding: None,
        value_string: Some(s),
        value_integer: None,
    }
}

pub(super) fn response(r: &Record, ids: &Ids, c: &CheckinFacts) -> QuestionnaireResponse {
    let tz = r.plan.time_zone;
    let mut item = vec![ResponseItem {
        link_id: DAY,
        text: day_text(),
        answer: vec![Answer {
            value_coding: None,
            value_string: None,
            value_integer: Some(i64::from(c.day)),
        }],
    }];
    if let Some((code, label)) = c.answer {
        item.push(ResponseItem {
            link_id: ANSWER,
            text: answer_text(),
            answer: vec![Answer {
                value_coding: Some(coding(system("checkin-answer"), code, label)),
                value_string: None,
                value_integer: None,
            }],
        });
    }
    let ticked: Vec<Answer> = c
        .ticked
        .iter()
        .filter_map(|(_, t)| text(t))
        .map(string)
        .collect();
    if !ticked.is_empty() {
        item.push(ResponseItem {
            link_id: SIGNS,
            text: signs_text(),
            answer: ticked,
        });
    }
    if let Some(note) = text(&c.note) {
        item.push(ResponseItem {
            link_id: NOTE,
            text: note_text(),
            answer: vec![string(note)],
        });
    }
    let (code, label) = c.triage;
    QuestionnaireResponse {
        id: ids.id(&format!("checkin/{}", c.id)),
        extension: vec![Extension {
            url: triage_url(),
            value_coding: Some(coding(system("checkin-triage"), code, label)),
            ..Extension::default()
        }],
        questionnaire: url(r),
        status: "completed",
        subject: ids.to("patient", Some(&r.patient.name)),
        part_of: vec![ids.to("procedure", None)],
        authored: stored_date_time(c.sent_at, tz),
        source: ids.to("patient", Some(&r.patient.name)),
        item,
    }
}
