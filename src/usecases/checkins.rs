//! Patient check-ins: "How is your skin today?" from the link in every email
//! and on the sheet, triaged at once against the patient's own plan; the
//! clinic's "Needs attention" list; the alert email urgent answers raise; and
//! the photos, cleaned of their metadata and kept for a set time.
//!
//! The patient's token names one treatment and is the only credential, so
//! everything here is looked up by that treatment and nothing else.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{clinic, reminders, treatments};
use crate::care::protocol::Urgency;
use crate::care::Plan;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::store::checkins::{self as store, CheckinRow, NewCheckin};
use crate::store::{write_tx, DbConn};
use crate::usecases::accounts::User;
use crate::usecases::audit::{audit, Actor};
use crate::usecases::clinic::Clinic;
use crate::usecases::fields;
use crate::usecases::sheet::{flag_groups, local_moment, long_date, FlagGroup};
pub use reminders::Outcome;

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

/// One box on the checklist. `id` is stable within a plan (`emergency-0`,
/// `normal-2`), so the form never carries the text itself.
pub struct CheckItem {
    pub id: String,
    pub text: String,
}

/// A red-flag group as a checklist.
pub struct CheckGroup {
    pub urgency: &'static str,
    pub title: String,
    pub items: Vec<CheckItem>,
}

/// What the check-in page shows for a treatment today.
pub struct CheckinPage {
    pub clinic: Clinic,
    pub emergency_number: String,
    pub first_name: String,
    pub treated_on: String,
    /// Local calendar days after the treatment day.
    pub day: i64,
    pub phase_name: String,
    pub phase_skin: String,
    /// "What is normal" as boxes to tick.
    pub normal: Vec<CheckItem>,
    /// The red flags as boxes to tick, most urgent first.
    pub flags: Vec<CheckGroup>,
    /// The red flags as the sheet shows them: "when to worry".
    pub when_to_worry: Vec<FlagGroup>,
}

/// The check-in page for a treatment (404 when it was deleted, or its patient erased).
pub fn page(conn: &mut DbConn, treatment_id: i64, now: DateTime<Utc>) -> AppResult<CheckinPage> {
    let view = open_view(conn, treatment_id, now)?;
    Ok(build_page(&view, now))
}

/// How long after the plan's last phase ends a check-in link still takes
/// answers: healing is over by then, and a worry about the skin is one for a
/// phone call, not for a form read in the morning.
pub const CARE_WINDOW_MARGIN: Duration = Duration::days(30);

/// The treatment behind a check-in link, while its care window is open: a
/// 410 page with the clinic's phone once the plan's last phase has been over
/// for [`CARE_WINDOW_MARGIN`] (probe 2, finding 9: a year-old link still
/// recorded answers and alerted the clinic).
fn open_view(
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
            phone => format!("call {} on {phone}", view.clinic.name),
        };
        return Err(AppError::Gone(format!(
            "This link was for the weeks after your treatment on {}, and that time is over, so it \
             no longer takes answers. If you are worried about your skin, {call}. In an \
             emergency, call {}.",
            long_date(view.plan.treated_at.local.date()),
            clinic::emergency_number(&view.clinic),
        )));
    }
    Ok(view)
}

fn build_page(view: &treatments::TreatmentView, now: DateTime<Utc>) -> CheckinPage {
    let plan: &Plan = &view.plan;
    let tz: chrono_tz::Tz = plan.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&tz).date_naive();
    let day = (today - plan.treated_at.local.date()).num_days().max(0);
    let phase = plan.phase_at(now).or_else(|| plan.phases.last());
    let first_name = view
        .patient
        .name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let when_to_worry = flag_groups(&plan.red_flags.groups, &view.clinic);
    let flags = if plan.red_flags.groups.is_empty() {
        // Version 1 plans have one ungrouped list: each item is a "call now".
        vec![CheckGroup {
            urgency: Urgency::CallNow.id(),
            title: plan.red_flags.intro.clone(),
            items: items(Urgency::CallNow.id(), &plan.red_flags.items),
        }]
    } else {
        when_to_worry
            .iter()
            .map(|g| CheckGroup {
                urgency: g.urgency,
                title: g.title.clone(),
                items: items(g.urgency, &g.items),
            })
            .collect()
    };
    CheckinPage {
        emergency_number: clinic::emergency_number(&view.clinic),
        clinic: view.clinic.clone(),
        first_name,
        treated_on: long_date(plan.treated_at.local.date()),
        day,
        phase_name: phase.map(|p| p.name.clone()).unwrap_or_default(),
        phase_skin: phase.map(|p| p.skin.clone()).unwrap_or_default(),
        // Until the check-in reads the windows (branch `checkins`), it offers the whole box.
        normal: items("normal", &plan.normal_texts()),
        flags,
        when_to_worry,
    }
}

fn items(prefix: &str, texts: &[String]) -> Vec<CheckItem> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| CheckItem {
            id: format!("{prefix}-{i}"),
            text: text.clone(),
        })
        .collect()
}

/// What the page says after an answer, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triage {
    /// Call the emergency number now.
    Emergency,
    /// Call the clinic now (or out of hours); the clinic has been told.
    CallNow,
    /// Tell the clinic soon; it has been told.
    TellUs,
    /// Only normal signs, or nothing ticked: what is normal today, and when to worry.
    Normal,
}

impl Triage {
    fn from_urgency(urgency: Option<Urgency>) -> Triage {
        match urgency {
            Some(Urgency::Emergency) => Triage::Emergency,
            Some(Urgency::CallNow) => Triage::CallNow,
            Some(Urgency::TellUs) => Triage::TellUs,
            None => Triage::Normal,
        }
    }

    /// Whether the clinic gets an alert email.
    pub fn alerts_clinic(self) -> bool {
        matches!(self, Triage::Emergency | Triage::CallNow)
    }
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
        answer: Answer,
        page: Box<CheckinPage>,
        /// The normal signs ticked.
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
    let page = build_page(&view, now);
    let mut errors = FieldErrors::default();
    let answer = Answer::parse(&input.answer);
    if answer.is_none() {
        errors.add("answer", "Choose how your skin is today.");
    }
    let note = fields::multi_line(&mut errors, "note", &input.note, MAX_NOTE_CHARS);
    let mut ticked: Vec<(&'static str, String)> = Vec::new();
    let mut normal_ticked = Vec::new();
    for id in &input.items {
        if let Some(item) = page.normal.iter().find(|i| &i.id == id) {
            normal_ticked.push(item.text.clone());
            ticked.push(("normal", item.text.clone()));
        } else if let Some((group, item)) = page
            .flags
            .iter()
            .find_map(|g| g.items.iter().find(|i| &i.id == id).map(|i| (g, i)))
        {
            ticked.push((group.urgency, item.text.clone()));
        } else {
            errors.add(
                "items",
                "A box on the form is not one we know. Reload the page.",
            );
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
    let urgency = [Urgency::Emergency, Urgency::CallNow, Urgency::TellUs]
        .into_iter()
        .find(|u| ticked.iter().any(|(g, _)| *g == u.id()));
    let triage = Triage::from_urgency(urgency);
    let ticked_json = serde_json::to_string(&ticked)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("check-in items: {e}")))?;
    let at = now.naive_utc();
    let sender = view.clinic.sender_email.clone();
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
                urgency: urgency.map_or("none", Urgency::id),
                ticked_json: &ticked_json,
                note: &note,
                ip,
                created_at: at,
            },
        )?;
        if let Some(jpeg) = &photo {
            store::insert_photo(c, id, "image/jpeg", jpeg, at)?;
        }
        if triage.alerts_clinic() {
            let message_id = crate::mail::message_id(&format!("checkin.{id}"), &sender);
            store::insert_alert(c, id, &message_id, at)?;
        }
        audit(
            c,
            &Actor::anonymous("patient (check-in link)", ip),
            "checkin.recorded",
            &format!("treatment {treatment_id}"),
            &format!(
                "check-in {id}: {}{}",
                answer.label(),
                urgency.map_or(String::new(), |u| format!(", {}", u.id()))
            ),
            at,
        )?;
        Ok(true)
    })?;
    let page = Box::new(page);
    Ok(if recorded {
        Submitted::Recorded {
            triage,
            answer,
            page,
            normal_ticked,
        }
    } else {
        Submitted::TooMany { page }
    })
}

/// One check-in as staff see it.
pub struct CheckinView {
    pub id: i64,
    pub treatment_id: i64,
    pub when: String,
    pub day: i32,
    pub answer: &'static str,
    /// `emergency`, `call-now`, `tell-us` or `none`: a style hook.
    pub urgency: String,
    /// (group, text) as the patient ticked them.
    pub ticked: Vec<(String, String)>,
    pub note: String,
    pub has_photo: bool,
    /// (when, what staff did), once acknowledged.
    pub acknowledged: Option<(String, String)>,
}

impl CheckinView {
    fn new(row: CheckinRow, has_photo: bool, tz: chrono_tz::Tz) -> CheckinView {
        CheckinView {
            id: row.id,
            treatment_id: row.treatment_id,
            when: local_moment(row.created_at, tz),
            day: row.day,
            answer: Answer::parse(&row.answer).map_or("?", Answer::label),
            urgency: row.urgency,
            ticked: serde_json::from_str(&row.ticked_json).unwrap_or_default(),
            note: row.note,
            has_photo,
            acknowledged: row.acknowledged_at.map(|at| {
                (
                    local_moment(at, tz),
                    row.acknowledged_note.unwrap_or_default(),
                )
            }),
        }
    }

    /// "Call now", "Emergency" …: what the most urgent tick was.
    pub fn urgency_label(&self) -> &'static str {
        match self.urgency.as_str() {
            "emergency" => "Emergency",
            "call-now" => "Call now",
            "tell-us" => "Tell us soon",
            _ => "No red flag",
        }
    }
}

/// A treatment's check-ins, oldest first, for its page's timeline.
pub fn timeline(
    conn: &mut DbConn,
    treatment_id: i64,
    tz: chrono_tz::Tz,
) -> AppResult<Vec<CheckinView>> {
    Ok(store::for_treatment(conn, treatment_id)?
        .into_iter()
        .map(|(row, photo)| CheckinView::new(row, photo, tz))
        .collect())
}

/// One row of "Needs attention".
pub struct AttentionItem {
    pub checkin: CheckinView,
    pub patient: String,
    pub patient_id: i64,
    /// The alert email's state, when one was raised.
    pub alert: Option<String>,
}

/// Check-ins not yet acknowledged that are more than "as expected", newest first.
pub fn needs_attention(conn: &mut DbConn) -> AppResult<Vec<AttentionItem>> {
    let tz = clinic::get(conn)?.zone();
    Ok(store::open(conn, ATTENTION_LIMIT)?
        .into_iter()
        .map(|(row, patient, photo, alert)| AttentionItem {
            patient_id: row.patient_id,
            checkin: CheckinView::new(row, photo, tz),
            patient,
            alert,
        })
        .collect())
}

/// The navigation's count.
pub fn open_count(conn: &mut DbConn) -> AppResult<i64> {
    Ok(store::open_count(conn)?)
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

pub use crate::store::checkins::CheckinRecord;

/// A patient's check-ins with everything stored (an export's), oldest first, each with its
/// photo while it is kept.
pub fn records_of_patient(
    conn: &mut DbConn,
    patient_id: i64,
) -> AppResult<Vec<(CheckinRecord, Option<Photo>)>> {
    Ok(store::for_patient_with_photos(conn, patient_id)?
        .into_iter()
        .map(|(record, kind, data)| (record, kind.zip(data)))
        .collect())
}

/// How many check-ins a patient sent, and how many of their photos are kept.
pub fn counts_for_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<(i64, i64)> {
    Ok(store::counts_for_patient(conn, patient_id)?)
}

/// Removes the patient's notes, photos and address from their check-ins, and what staff
/// wrote back; the answers and ticked signs stay. Call inside the erasure's transaction.
/// Returns (check-ins emptied, photos deleted).
pub fn erase_for_patient(conn: &mut DbConn, patient_id: i64) -> AppResult<(usize, usize)> {
    Ok(store::erase_for_patient(conn, patient_id)?)
}

// --- the alert emails, for the worker ------------------------------------------

pub use crate::store::checkins::AlertRow as Alert;

/// Takes due alert emails with a fenced lease (the reminders' rules), with the clinic they go to.
pub fn claim_alerts(
    conn: &mut DbConn,
    claim: crate::usecases::reminders::Claim,
) -> AppResult<(Vec<Alert>, Clinic)> {
    let alerts = write_tx(conn, |c| Ok::<_, AppError>(store::claim_alerts(c, claim)?))?;
    Ok((alerts, clinic::get(conn)?))
}

/// Records what became of each alert email of the claim `token`; an alert the
/// claim no longer holds is left as it is, and its id returned. `None` for an
/// alert given back unsent (pending again, the attempt not counted).
pub fn record_alerts(
    conn: &mut DbConn,
    token: &str,
    done: Vec<(i64, Option<Outcome>)>,
    at: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    write_tx(conn, |c| {
        let mut lost = Vec::new();
        for (id, outcome) in done {
            let changed = match outcome {
                None => store::hold_alert(c, id, token, None, at)?,
                Some(Outcome::Sent) => store::finish_alert(c, id, token, "sent", None, None, at)?,
                Some(Outcome::Retry { error, next }) => {
                    store::finish_alert(c, id, token, "pending", Some(&error), Some(next), at)?
                }
                Some(Outcome::Failed(e) | Outcome::Skipped(e) | Outcome::Cancelled(e)) => {
                    store::finish_alert(c, id, token, "failed", Some(&e), None, at)?
                }
                Some(Outcome::Held(e)) => store::hold_alert(c, id, token, Some(&e), at)?,
            };
            if changed == 0 {
                lost.push(id);
            }
        }
        Ok::<_, AppError>(lost)
    })
}

/// Extends the lease of the alerts the claim `token` still holds.
pub fn renew_alerts(
    conn: &mut DbConn,
    token: &str,
    lease_until: NaiveDateTime,
) -> AppResult<usize> {
    Ok(store::renew_alerts(conn, token, lease_until)?)
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

    #[test]
    fn the_most_urgent_group_decides() {
        assert_eq!(
            Triage::from_urgency(Some(Urgency::Emergency)),
            Triage::Emergency
        );
        assert!(Triage::CallNow.alerts_clinic());
        assert!(!Triage::TellUs.alerts_clinic());
        assert!(!Triage::Normal.alerts_clinic());
    }
}
