//! How a check-in is triaged: every rule that applies to what the patient sent gives a
//! reason, and the most urgent reason decides. Nothing a patient says is lost: an answer
//! other than "As expected", any free text and any photo reach Needs attention at least
//! "to review"; a "normal" sign past its window is at least "tell us". Pure: the page's
//! checklist and the answer in, the decision out.

use super::Answer;
use crate::care::protocol::Urgency;

pub use crate::usecases::triage::Triage;

/// What ticking one box of the checklist means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRule {
    /// A red flag of the plan: `{urgency}-{index}`.
    RedFlag(Urgency),
    /// A normal sign inside its window on this day: common, needs no one.
    Normal,
    /// A normal sign past its window: it should have settled by `last_day`.
    PastWindow {
        sign: String,
        last_day: u32,
        urgency: Urgency,
    },
    /// A "normal" line of a plan stored before signs had windows: it cannot be placed in
    /// time, so it is never called common; a clinician reads it.
    Undated,
}

/// One rule that applied to a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub triage: Triage,
    /// Short and stable, e.g. `red flag call-now-2`, `normal sign redness past day 3`,
    /// `answer worried`, `free text`, `photo`.
    pub rule: String,
    /// What the patient ticked, as they read it; empty for the answer, the note and a photo.
    pub detail: String,
}

/// The result, the rule that decided it and every rule that applied, most urgent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub triage: Triage,
    /// The deciding rule; empty when nothing asked for attention.
    pub rule: String,
    pub reasons: Vec<Reason>,
}

/// What the patient sent, as triage reads it: each ticked box (its id, text and rule), the
/// answer, and whether a note or a photo came with it.
pub fn decide(
    ticked: &[(&str, &str, &ItemRule)],
    answer: Answer,
    has_note: bool,
    has_photo: bool,
) -> Decision {
    let mut reasons = Vec::new();
    let mut reason = |triage, rule: String, detail: &str| {
        reasons.push(Reason {
            triage,
            rule,
            detail: detail.to_string(),
        })
    };
    for (id, text, rule) in ticked {
        match rule {
            ItemRule::RedFlag(urgency) => reason(
                Triage::from_urgency(*urgency),
                format!("red flag {id}"),
                text,
            ),
            ItemRule::Normal => {}
            ItemRule::PastWindow {
                sign,
                last_day,
                urgency,
            } => reason(
                // At least "tell us": a protocol urgency is never less.
                Triage::from_urgency(*urgency),
                format!("normal sign {sign} past day {last_day}"),
                text,
            ),
            ItemRule::Undated => reason(
                Triage::ToReview,
                format!("normal sign {id} without a window"),
                text,
            ),
        }
    }
    if answer != Answer::Fine {
        reason(Triage::ToReview, format!("answer {}", answer.as_str()), "");
    }
    if has_note {
        reason(Triage::ToReview, "free text".into(), "");
    }
    if has_photo {
        reason(Triage::ToReview, "photo".into(), "");
    }
    // Stable: within a level, red flags in the page's order, then the answer, note, photo.
    reasons.sort_by_key(|r| r.triage);
    let (triage, rule) = reasons
        .first()
        .map_or((Triage::Normal, String::new()), |r| {
            (r.triage, r.rule.clone())
        });
    Decision {
        triage,
        rule,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(sign: &str, last_day: u32, urgency: Urgency) -> ItemRule {
        ItemRule::PastWindow {
            sign: sign.into(),
            last_day,
            urgency,
        }
    }

    #[test]
    fn the_most_urgent_reason_decides_and_all_are_kept() {
        let flag = ItemRule::RedFlag(Urgency::CallNow);
        let d = decide(
            &[
                ("normal-tight", "A tight feeling", &ItemRule::Normal),
                ("call-now-2", "Pus", &flag),
            ],
            Answer::Worried,
            true,
            true,
        );
        assert_eq!(d.triage, Triage::CallNow);
        assert_eq!(d.rule, "red flag call-now-2");
        let rules: Vec<_> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "red flag call-now-2",
                "answer worried",
                "free text",
                "photo"
            ]
        );
        assert_eq!(d.reasons[0].detail, "Pus");
    }

    #[test]
    fn as_expected_with_nothing_or_normal_signs_needs_no_one() {
        for ticked in [vec![], vec![("normal-tight", "Tight", &ItemRule::Normal)]] {
            let d = decide(&ticked, Answer::Fine, false, false);
            assert_eq!((d.triage, d.rule.as_str()), (Triage::Normal, ""));
            assert!(!d.triage.needs_attention());
        }
    }

    #[test]
    fn an_answer_a_note_or_a_photo_is_to_review() {
        let cases = [
            (Answer::Unsure, false, false, "answer unsure"),
            (Answer::Worried, false, false, "answer worried"),
            (Answer::Fine, true, false, "free text"),
            (Answer::Fine, false, true, "photo"),
        ];
        for (answer, note, photo, rule) in cases {
            let d = decide(&[], answer, note, photo);
            assert_eq!((d.triage, d.rule.as_str()), (Triage::ToReview, rule));
            assert!(d.triage.needs_attention() && d.triage.waits_for_reply());
            assert!(!d.triage.alerts_clinic());
        }
    }

    #[test]
    fn a_sign_past_its_window_is_at_least_tell_us() {
        let redness = past("redness", 3, Urgency::CallNow);
        let d = decide(
            &[("past-redness", "Redness after day 3", &redness)],
            Answer::Fine,
            false,
            false,
        );
        assert_eq!(d.triage, Triage::CallNow);
        assert_eq!(d.rule, "normal sign redness past day 3");
        assert!(d.triage.alerts_clinic());
        let tight = past("tight", 5, Urgency::TellUs);
        let d = decide(
            &[("past-tight", "Tight", &tight)],
            Answer::Fine,
            false,
            false,
        );
        assert_eq!(d.triage, Triage::TellUs);
        assert!(d.triage.needs_attention() && d.triage.waits_for_reply());
    }

    #[test]
    fn a_normal_line_without_a_window_is_never_common() {
        let d = decide(
            &[("normal-0", "Redness for 1 to 3 days", &ItemRule::Undated)],
            Answer::Fine,
            false,
            false,
        );
        assert_eq!(d.triage, Triage::ToReview);
        assert_eq!(d.rule, "normal sign normal-0 without a window");
    }

    #[test]
    fn results_round_trip_as_stored() {
        for t in Triage::ALL {
            assert_eq!(Triage::parse(t.id()), Some(t));
        }
        assert_eq!(Triage::parse("fine"), None);
    }
}
