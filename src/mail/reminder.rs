//! One reminder email, composed from the stored plan. Pure: the same plan,
//! key and links always give the same email.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::care::{Plan, ReminderKind};
use crate::usecases::clinic::Clinic;
use crate::usecases::sheet::{flag_groups, long_date, FlagGroup};

pub struct Milestone {
    pub title: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "email/reminder.txt")]
pub struct ReminderText<'a> {
    pub email: &'a ReminderEmail,
}

#[derive(Template)]
#[template(path = "email/reminder.html")]
pub struct ReminderHtml<'a> {
    pub email: &'a ReminderEmail,
}

pub struct ReminderEmail {
    pub clinic: Clinic,
    pub greeting: String,
    pub subject: String,
    pub intro: String,
    pub phase_name: String,
    pub phase_skin: String,
    pub do_items: Vec<String>,
    pub avoid_items: Vec<String>,
    pub milestones: Vec<Milestone>,
    /// The evening email only (and never for version 1 plans, which have no such list).
    pub tonight: Vec<String>,
    /// "What is normal", in the first few emails of a plan.
    pub normal: Vec<String>,
    /// Version 1 plans: one list of red flags.
    pub red_flags_intro: String,
    pub red_flags: Vec<String>,
    /// Later plans: red flags by urgency, with the clinic's emergency number filled in.
    pub red_flag_groups: Vec<FlagGroup>,
    pub disclaimer: String,
    pub sheet_url: String,
    pub unsubscribe_url: String,
    /// "How is your skin today?": the patient's check-in page; empty leaves the question out.
    pub checkin_url: String,
}

impl ReminderEmail {
    /// The email with the check-in question, its answers linking to `url`.
    pub fn with_checkin(mut self, url: String) -> ReminderEmail {
        self.checkin_url = url;
        self
    }

    /// The check-in page with one answer chosen (the patient still confirms there).
    pub fn checkin_answer(&self, answer: &str) -> String {
        format!("{}?answer={answer}", self.checkin_url)
    }

    pub fn text(&self) -> String {
        ReminderText { email: self }.render().unwrap_or_default()
    }
    pub fn html(&self) -> String {
        ReminderHtml { email: self }.render().unwrap_or_default()
    }
    /// The clinic's contact line, as one sentence.
    pub fn contact_line(&self) -> String {
        let c = &self.clinic;
        let mut parts = vec![c.name.clone()];
        if !c.phone.is_empty() {
            parts.push(c.phone.clone());
        }
        if !c.email.is_empty() {
            parts.push(c.email.clone());
        }
        if !c.opening_hours.is_empty() {
            parts.push(c.opening_hours.clone());
        }
        parts.join(" · ")
    }
}

fn milestone(plan: &Plan, key: &str) -> Option<Milestone> {
    if let Some(active) = plan.actives.iter().find(|a| a.key == key) {
        return Some(Milestone {
            title: format!("From today: {}", active.name),
            text: active.how.clone(),
        });
    }
    match key {
        "next-session" => Some(Milestone {
            title: "Time to book your next session".into(),
            text: format!(
                "The best time is between {} and {}. {}",
                long_date(plan.next_session.from),
                long_date(plan.next_session.to),
                plan.next_session.note
            ),
        }),
        _ => plan.phases.iter().find(|p| p.id == key).map(|p| Milestone {
            title: p.name.clone(),
            text: p.skin.clone(),
        }),
    }
}

/// Composes the email for the reminder `key` of `plan`, sent at `send_at`.
/// `fallback_subject` is used if the key is no longer in the plan.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    plan: &Plan,
    key: &str,
    fallback_subject: &str,
    send_at: DateTime<Utc>,
    clinic: &Clinic,
    patient_name: &str,
    sheet_url: String,
    unsubscribe_url: String,
) -> ReminderEmail {
    let content = plan.email_content(key, send_at);
    let reminder = content.reminder;
    let phase = content.phase.cloned();
    let treated = format!(
        "{} at {}",
        long_date(plan.treated_at.local.date()),
        plan.treated_at.local.format("%H:%M")
    );
    let intro = match reminder.map(|r| (&r.kind, r.day)) {
        Some((ReminderKind::Evening, _)) => format!(
            "Thank you for coming in today ({treated}). Here is what to do tonight. Your full aftercare sheet is online at the link below."
        ),
        Some((_, day)) => format!("Today is day {day} after your treatment on {treated}."),
        None => format!("A reminder about your treatment on {treated}."),
    };
    let milestones = reminder
        .map(|r| {
            r.milestones
                .iter()
                .filter_map(|m| milestone(plan, m))
                .collect()
        })
        .unwrap_or_default();
    let first_name = patient_name
        .split_whitespace()
        .next()
        .unwrap_or(patient_name);
    ReminderEmail {
        clinic: clinic.clone(),
        greeting: format!("Hello {first_name},"),
        subject: reminder.map_or_else(|| fallback_subject.to_string(), |r| r.subject.clone()),
        intro,
        phase_name: phase.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        phase_skin: phase.as_ref().map(|p| p.skin.clone()).unwrap_or_default(),
        do_items: phase
            .as_ref()
            .map(|p| p.do_items.clone())
            .unwrap_or_default(),
        avoid_items: phase.map(|p| p.avoid_items).unwrap_or_default(),
        milestones,
        tonight: content.tonight.to_vec(),
        normal: content.normal.to_vec(),
        red_flags_intro: plan.red_flags.intro.clone(),
        red_flags: plan.red_flags.items.clone(),
        red_flag_groups: flag_groups(&plan.red_flags.groups, clinic),
        disclaimer: plan.disclaimer.clone(),
        sheet_url,
        unsubscribe_url,
        checkin_url: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::care::{compute_plan, sample_input, Protocol, TreatmentInput};
    use crate::usecases::sheet::fixture;

    fn compose_for(plan: &Plan, key: &str, send_at: DateTime<Utc>) -> ReminderEmail {
        compose(
            plan,
            key,
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
            let text = email.text();
            let html = email.html();
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
            treated_at: "2026-06-01T10:00:00".parse().unwrap(),
            ..sample_input()
        };
        let plan = compute_plan(&Protocol::default_protocol(), &input).unwrap();
        let evening = &plan.reminders[0];
        let email = compose_for(&plan, &evening.key, evening.send_at);
        assert_eq!(email.phase_name, "The first day");
        let text = email.text();
        assert!(
            text.contains("TONIGHT\n  - Sleep on a clean pillowcase.\n"),
            "{text}"
        );
        assert!(email
            .html()
            .contains("<li>Sleep on a clean pillowcase.</li>"));
        let next = &plan.reminders[1];
        assert!(!compose_for(&plan, &next.key, next.send_at)
            .text()
            .contains("TONIGHT"));
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
                    e.text(),
                    e.html()
                ));
            }
            assert!(actual == expected, "{name}: the version 1 emails changed");
        }
    }
}
