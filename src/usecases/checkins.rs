//! Patient check-ins: "How is your skin today?" from the link in every email
//! and on the sheet, triaged at once against the patient's own plan (`triage`), the
//! result and its reasons stored apart from the answers; the clinic's "Needs attention"
//! list; the alert email urgent answers raise and the one reminder when a check-in waits
//! past the clinic's reply time (`outbox`, `reply_time`); and the photos, cleaned of their
//! metadata and kept for a set time.
//!
//! The patient's token names one treatment and is the only credential, so
//! everything here is looked up by that treatment and nothing else.

mod outbox;
mod page;
mod records;
mod reply_time;
mod triage;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{clinic, outcomes, reminders, treatments};
use crate::dates::Locale;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::{audit, Actor};
use crate::usecases::fields;
use crate::usecases::sites::Sites;
use crate::usecases::store::checkins::{self as store, CheckinRow, NewCheckin, Outbox, TriageRow};
use crate::usecases::store::{write_tx, DbConn};
pub use outbox::{
    claim_clinic_emails, record_clinic_emails, renew_clinic_emails, Alert, ClinicEmail,
};
pub use page::{page, page_of_plan, CheckGroup, CheckItem, CheckinPage};
pub use records::{
    counts_for_patient, erase_for_patient, records_of_patient, stored_urgency, CheckinRecord,
};
pub use reminders::Outcome;
pub use reply_time::due_at;
pub use triage::{Decision, ItemRule, Reason, Triage};

/// At most this many check-ins per treatment in an hour: enough to correct
/// an answer, too few to flood the clinic's list.
pub const MAX_PER_HOUR: i64 = 3;
/// The free-text box.
pub const MAX_NOTE_CHARS: usize = 2000;
/// What staff write when they acknowledge.
pub const MAX_ACK_NOTE_CHARS: usize = 500;
/// A photo as uploaded; checked and cleaned by `photos`.
pub use super::photos::MAX_PHOTO_BYTES;
/// The most rows "Needs attention" shows at once.
const ATTENTION_LIMIT: i64 = 200;

/// The patient's answer to "How is your skin today?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Fine,
    Unsure,
    Worried,
}

impl Answer {
    pub const ALL: [Answer; 3] = [Answer::Fine, Answer::Unsure, Answer::Worried];

    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Fine => "fine",
            Answer::Unsure => "unsure",
            Answer::Worried => "worried",
        }
    }

    pub fn parse(text: &str) -> Option<Answer> {
        Answer::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// As the patient reads it on the buttons.
    pub fn label(self) -> &'static str {
        match self {
            Answer::Fine => "As expected",
            Answer::Unsure => "Not sure",
            Answer::Worried => "Worried",
        }
    }
}

/// How long after the plan's last phase ends a check-in link still takes
/// answers: healing is over by then, and a worry about the skin is one for a
/// phone call, not for a form read in the morning.
pub const CARE_WINDOW_MARGIN: Duration = Duration::days(30);

/// The treatment behind a check-in link, while its care window is open: a
/// 410 page with the clinic's phone once the plan's last phase has been over
/// for [`CARE_WINDOW_MARGIN`] (probe 2, finding 9: a year-old link still
/// recorded answers and alerted the clinic).
pub(super) fn open_view(
    conn: &mut DbConn,
    treatment_id: i64,
    now: DateTime<Utc>,
) -> AppResult<treatments::TreatmentView> {
    let view = treatments::view_for_patient(conn, treatment_id)?;
    let ends = view
        .plan
        .phases
        .last()
        .map_or(view.plan.treated_at.utc, |p| p.ends_at.utc);
    if now > ends + CARE_WINDOW_MARGIN {
        let call = match view.clinic.phone.trim() {
            "" => "call your clinic".to_string(),
            phone => format!("call {} on {phone}", view.clinic.display_name()),
        };
        return Err(AppError::Gone(format!(
            "This link was for the weeks after your treatment on {}, and that time is over, so it \
             no longer takes answers. If you are worried about your skin, {call}. In an \
             emergency, call {}.",
            view.clinic.locale.long_date(view.plan.treated_at.local),
            clinic::emergency_number(&view.clinic),
        )));
    }
    Ok(view)
}

/// The check-in form as sent.
#[derive(Debug, Default)]
pub struct CheckinInput {
    pub answer: String,
    /// Checklist ids ticked.
    pub items: Vec<String>,
    pub note: String,
    /// The photo's bytes as uploaded, if one was chosen.
    pub photo: Option<Vec<u8>>,
}

pub enum Submitted {
    Recorded {
        triage: Triage,
        page: Box<CheckinPage>,
        /// The signs ticked that are normal on this day.
        normal_ticked: Vec<String>,
    },
    /// The hourly limit was reached; nothing was saved.
    TooMany { page: Box<CheckinPage> },
}

/// Decodes an uploaded photo (JPEG, PNG or WebP) and encodes it again as
/// JPEG: only the pixels survive, so EXIF and its location are gone.
pub use super::photos::clean as clean_photo;

/// The hourly limit, checked before the upload costs anything (decoding a
/// photo): `Some(TooMany)` when it is already reached. `submit` checks it
/// again, under a lock, when it records.
pub fn too_many(
    conn: &mut DbConn,
    treatment_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Option<Submitted>> {
    let since = now.naive_utc() - Duration::hours(1);
    if store::count_since(conn, treatment_id, since)? < MAX_PER_HOUR {
        return Ok(None);
    }
    let page = Box::new(page(conn, treatment_id, now)?);
    Ok(Some(Submitted::TooMany { page }))
}

/// Records a patient's check-in and says what the page should tell them.
/// Urgent answers queue one alert email to the clinic in the same transaction.
/// `photo` is the upload already cleaned (`photos::clean_gated`), or why it
/// was refused; `input.photo` is not read.
pub fn submit(
    conn: &mut DbConn,
    treatment_id: i64,
    input: CheckinInput,
    photo: Option<Result<Vec<u8>, &'static str>>,
    ip: &str,
    now: DateTime<Utc>,
) -> AppResult<Submitted> {
    let view = open_view(conn, treatment_id, now)?;
    let reply_days = view.clinic.reply_days;
    let page = page::build_page(&view, reply_days, now);
    let mut errors = FieldErrors::default();
    let answer = Answer::parse(&input.answer);
    if answer.is_none() {
        errors.add("answer", "Choose how your skin is today.");
    }
    let note = fields::multi_line(&mut errors, "note", &input.note, MAX_NOTE_CHARS);
    let all_items = || {
        page.normal
            .iter()
            .chain(page.flags.iter().flat_map(|g| &g.items))
    };
    let mut ticked: Vec<&CheckItem> = Vec::new();
    for id in &input.items {
        match all_items().find(|i| &i.id == id) {
            Some(item) if !ticked.iter().any(|t| t.id == item.id) => ticked.push(item),
            Some(_) => {}
            None => errors.add(
                "items",
                "A box on the form is not one we know. Reload the page.",
            ),
        }
    }
    let photo = match photo {
        Some(Err(message)) => {
            errors.add("photo", message);
            None
        }
        Some(Ok(jpeg)) => Some(jpeg),
        None => None,
    };
    errors.into_result()?;
    let answer = answer.unwrap_or(Answer::Fine);
    let decision = triage::decide(
        &ticked
            .iter()
            .map(|i| (i.id.as_str(), i.text.as_str(), &i.rule))
            .collect::<Vec<_>>(),
        answer,
        !note.is_empty(),
        photo.is_some(),
    );
    let triage = decision.triage;
    let normal_ticked: Vec<String> = ticked
        .iter()
        .filter(|i| i.rule == ItemRule::Normal)
        .map(|i| i.text.clone())
        .collect();
    // The answers as the patient read them: (the group, or "normal", and the text).
    let answers: Vec<(&str, &str)> = ticked
        .iter()
        .map(|i| (item_group(&i.rule), i.text.as_str()))
        .collect();
    let ticked_json = to_json(&answers)?;
    let reasons_json = to_json(
        &decision
            .reasons
            .iter()
            .map(|r| (r.rule.as_str(), r.detail.as_str()))
            .collect::<Vec<_>>(),
    )?;
    // The most urgent group ticked, as before triage was stored on its own.
    let urgency = ticked
        .iter()
        .filter_map(|i| match &i.rule {
            ItemRule::RedFlag(u) | ItemRule::PastWindow { urgency: u, .. } => Some(*u),
            _ => None,
        })
        .min();
    let at = now.naive_utc();
    let sender = view.clinic.sender_email.clone();
    let due = reply_time::due_at(at, reply_days, view.clinic.zone());
    let protocol_version = view.plan.protocol_version.clone();
    let recorded = write_tx(conn, |c| {
        // Parallel check-ins of one treatment count one after another.
        store::lock_treatment(c, treatment_id)?;
        if store::count_since(c, treatment_id, at - Duration::hours(1))? >= MAX_PER_HOUR {
            return Ok::<_, AppError>(false);
        }
        let id = store::insert(
            c,
            &NewCheckin {
                treatment_id,
                patient_id: view.patient.id,
                answer: answer.as_str(),
                day: page.day as i32,
                urgency: stored_urgency(urgency),
                ticked_json: &ticked_json,
                note: &note,
                ip,
                created_at: at,
            },
        )?;
        store::insert_triage(
            c,
            &TriageRow {
                checkin_id: id,
                result: triage.id().into(),
                rule: decision.rule.clone(),
                reasons_json: reasons_json.clone(),
                protocol_version: protocol_version.clone(),
                created_at: at,
            },
        )?;
        outcomes::checkin_recorded(c, treatment_id, triage)?;
        if let Some(jpeg) = &photo {
            store::insert_photo(c, id, "image/jpeg", jpeg, at)?;
        }
        if triage.alerts_clinic() {
            let message_id = crate::mail::message_id(&format!("checkin.{id}"), &sender);
            store::insert_outbox(c, Outbox::Alerts, id, &message_id, at, at)?;
        } else if triage.waits_for_reply() {
            let message_id = crate::mail::message_id(&format!("checkin-overdue.{id}"), &sender);
            store::insert_outbox(c, Outbox::Overdue, id, &message_id, due, at)?;
        }
        audit(
            c,
            &Actor::anonymous("patient (check-in link)", ip),
            "checkin.recorded",
            &format!("treatment {treatment_id}"),
            &format!(
                "check-in {id}: {}, {}{}",
                answer.label(),
                triage.id(),
                if decision.rule.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", decision.rule)
                }
            ),
            at,
        )?;
        Ok(true)
    })?;
    let page = Box::new(page);
    Ok(if recorded {
        Submitted::Recorded {
            triage,
            page,
            normal_ticked,
        }
    } else {
        Submitted::TooMany { page }
    })
}

/// The group a ticked box is stored under: its urgency, or "normal".
fn item_group(rule: &ItemRule) -> &'static str {
    match rule {
        ItemRule::RedFlag(u) | ItemRule::PastWindow { urgency: u, .. } => u.id(),
        ItemRule::Normal | ItemRule::Undated => "normal",
    }
}

fn to_json(value: &impl serde::Serialize) -> AppResult<String> {
    serde_json::to_string(value)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("check-in as JSON: {e}")))
}

/// One check-in as staff see it.
pub struct CheckinView {
    pub id: i64,
    pub treatment_id: i64,
    pub when: String,
    /// When the patient sent it (UTC).
    pub sent_at: NaiveDateTime,
    pub day: i32,
    pub answer: &'static str,
    /// The answer as recorded, when it is one the code knows.
    pub answered: Option<Answer>,
    /// The triage result's id (`emergency` … `to-review`, `none`): a style hook.
    pub urgency: &'static str,
    pub triage: Triage,
    /// The rule that decided the result (empty when nothing asked for attention).
    pub rule: String,
    /// Every rule that applied, most urgent first: (rule, what was ticked).
    pub reasons: Vec<(String, String)>,
    /// The protocol version of the plan it was judged against (empty before it was kept).
    pub protocol_version: String,
    /// (group, text) as the patient ticked them.
    pub ticked: Vec<(String, String)>,
    pub note: String,
    pub has_photo: bool,
    /// (when, what staff did), once acknowledged.
    pub acknowledged: Option<(String, String)>,
}

impl CheckinView {
    fn new(
        row: CheckinRow,
        triage: TriageRow,
        has_photo: bool,
        (tz, l): (chrono_tz::Tz, Locale),
    ) -> CheckinView {
        // A result the code does not know (a newer version's) is shown for review, never hidden.
        let result = Triage::parse(&triage.result).unwrap_or(Triage::ToReview);
        CheckinView {
            id: row.id,
            treatment_id: row.treatment_id,
            when: l.local_moment(row.created_at, tz),
            sent_at: row.created_at,
            day: row.day,
            answer: Answer::parse(&row.answer).map_or("?", Answer::label),
            answered: Answer::parse(&row.answer),
            urgency: result.id(),
            triage: result,
            rule: triage.rule,
            reasons: serde_json::from_str(&triage.reasons_json).unwrap_or_default(),
            protocol_version: triage.protocol_version,
            ticked: serde_json::from_str(&row.ticked_json).unwrap_or_default(),
            note: row.note,
            has_photo,
            acknowledged: row.acknowledged_at.map(|at| {
                (
                    l.local_moment(at, tz),
                    row.acknowledged_note.unwrap_or_default(),
                )
            }),
        }
    }

    /// "Call now", "To review" …: the triage result.
    pub fn urgency_label(&self) -> &'static str {
        self.triage.label()
    }

    /// The rules after the deciding one, as "answer worried, free text".
    pub fn other_reasons(&self) -> String {
        self.reasons
            .iter()
            .map(|(rule, _)| rule.as_str())
            .filter(|rule| *rule != self.rule)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What the patient ticked for the deciding rule, if it was a box.
    pub fn rule_detail(&self) -> &str {
        self.reasons
            .iter()
            .find(|(rule, _)| *rule == self.rule)
            .map_or("", |(_, detail)| detail.as_str())
    }
}

/// A treatment's check-ins, oldest first, for its page's timeline.
pub fn timeline(
    conn: &mut DbConn,
    treatment_id: i64,
    (tz, l): (chrono_tz::Tz, Locale),
) -> AppResult<Vec<CheckinView>> {
    Ok(store::for_treatment(conn, treatment_id)?
        .into_iter()
        .map(|(row, triage, photo)| CheckinView::new(row, triage, photo, (tz, l)))
        .collect())
}

/// One row of "Needs attention".
pub struct AttentionItem {
    pub checkin: CheckinView,
    pub patient: String,
    pub patient_id: i64,
    /// The location the treatment was recorded at.
    pub location_id: i64,
    /// The patient's phone and its `tel:` link, to call back from the list.
    pub phone: Option<(String, String)>,
    /// The alert email's state, when one was raised.
    pub alert: Option<String>,
    /// The reply-time reminder, for a check-in that waits for a reply: (its state, when it
    /// is due in clinic time).
    pub reminder: Option<(String, String)>,
}

/// Check-ins not yet acknowledged whose triage asks for attention at these locations, newest
/// first.
pub fn needs_attention(conn: &mut DbConn, sites: &Sites) -> AppResult<Vec<AttentionItem>> {
    // Each check-in's times on its own location's clock.
    let mut places = clinic::Places::default();
    store::open(conn, sites.ids(), ATTENTION_LIMIT)?
        .into_iter()
        .map(|row| {
            let clinic = places.get(conn, row.location_id)?;
            let (tz, l) = (clinic.zone(), clinic.locale);
            Ok(AttentionItem {
                patient_id: row.checkin.patient_id,
                location_id: row.location_id,
                checkin: CheckinView::new(row.checkin, row.triage, row.has_photo, (tz, l)),
                patient: row.patient,
                phone: row
                    .patient_phone
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| (clinic::tel_href(&p), p)),
                alert: row.alert,
                reminder: match row.overdue {
                    (Some(status), Some(due)) => Some((status, l.local_moment(due, tz))),
                    _ => None,
                },
            })
        })
        .collect()
}

/// The navigation's count: the check-ins waiting at these locations.
pub fn open_count(conn: &mut DbConn, sites: &Sites) -> AppResult<i64> {
    Ok(store::open_count(conn, sites.ids())?)
}

/// Staff say what they did about a check-in (called the patient, booked a visit).
pub fn acknowledge(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    id: i64,
    note: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let mut errors = FieldErrors::default();
    let note = fields::multi_line(&mut errors, "note", note, MAX_ACK_NOTE_CHARS);
    if note.is_empty() {
        errors.add("note", "Say what you did, e.g. called the patient.");
    }
    errors.into_result()?;
    write_tx(conn, |c| {
        let row = store::find(c, id)?.ok_or(AppError::NotFound)?;
        if store::acknowledge(c, id, user.id, &note, now)? == 0 {
            return Err(AppError::invalid(
                "note",
                "Someone has already acknowledged this check-in.",
            ));
        }
        // Acknowledged in time: the clinic needs no reminder.
        store::cancel_overdue(c, id, now)?;
        audit(
            c,
            actor,
            "checkin.acknowledged",
            &format!("treatment {}", row.treatment_id),
            &format!("check-in {id}: {note}"),
            now,
        )
    })
}

/// The treatment's latest check-in, if any (the demo data acknowledges what it made).
pub fn latest_id(conn: &mut DbConn, treatment_id: i64) -> AppResult<Option<i64>> {
    Ok(store::for_treatment(conn, treatment_id)?
        .into_iter()
        .map(|(row, ..)| row.id)
        .max())
}

/// A photo as kept: (content type, bytes).
pub type Photo = (String, Vec<u8>);

/// A check-in's photo for staff.
pub fn photo(conn: &mut DbConn, checkin_id: i64) -> AppResult<Photo> {
    store::photo(conn, checkin_id)?.ok_or(AppError::NotFound)
}

/// Deletes up to `limit` of the photos sent before `before` (the retention setting).
pub fn prune_photos(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> AppResult<usize> {
    Ok(store::delete_photos_before(conn, before, limit)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // That EXIF is dropped is shown over HTTP (tests/api/checkins.rs).
    #[test]
    fn only_photos_are_accepted() {
        assert!(clean_photo(b"GIF89a not today").is_err());
        assert!(clean_photo(b"%PDF-1.7").is_err());
        assert!(clean_photo(&vec![0; MAX_PHOTO_BYTES + 1])
            .unwrap_err()
            .contains("10 MB"));
    }
}
