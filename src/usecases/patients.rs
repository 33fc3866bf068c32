//! Use cases for patients.

use super::{reminders, sheet_inputs};
use chrono::{NaiveDate, NaiveDateTime};

use crate::auth;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::audit;
use crate::usecases::fields;
use crate::usecases::store::{
    self, patients::PatientFields, patients::PatientRow, write_tx, DbConn,
};

/// A patient as pages, forms and the other use cases see them (the row's search keys and
/// version stay in the store).
#[derive(Debug, Clone)]
pub struct Patient {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email_consent: bool,
    /// Who ticked the consent box, and when.
    pub consent_by: Option<i64>,
    pub consent_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// Protocol consideration ids.
    pub considerations: Vec<String>,
    /// When the patient's data was erased at their request (the row stays, without identity).
    pub erased_at: Option<NaiveDateTime>,
    can_be_emailed: bool,
}

impl From<PatientRow> for Patient {
    fn from(row: PatientRow) -> Patient {
        let considerations = row.considerations();
        let can_be_emailed = row.can_be_emailed();
        Patient {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            date_of_birth: row.date_of_birth,
            email_consent: row.email_consent,
            consent_by: row.consent_by,
            consent_at: row.consent_at,
            unsubscribed_at: row.unsubscribed_at,
            created_at: row.created_at,
            considerations,
            erased_at: row.erased_at,
            can_be_emailed,
        }
    }
}

impl Patient {
    /// Whether aftercare emails may go to this patient at all (see the row's rule).
    pub fn can_be_emailed(&self) -> bool {
        self.can_be_emailed
    }

    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }
}

fn views(rows: Vec<PatientRow>) -> Vec<Patient> {
    rows.into_iter().map(Patient::from).collect()
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PatientInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub date_of_birth: String,
    /// A ticked checkbox sends "yes"; an unticked one sends nothing.
    #[serde(default)]
    pub email_consent: Option<String>,
}

impl From<&Patient> for PatientInput {
    fn from(p: &Patient) -> Self {
        PatientInput {
            name: p.name.clone(),
            email: p.email.clone().unwrap_or_default(),
            phone: p.phone.clone().unwrap_or_default(),
            date_of_birth: p.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
            email_consent: p.email_consent.then(|| "yes".into()),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn plausible_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits)
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Checks the form; consent is stamped with who ticked it and when, and
/// keeps its original stamp while it stays ticked.
fn validate(
    input: &PatientInput,
    user: &User,
    existing: Option<&Patient>,
    today: NaiveDate,
    now: NaiveDateTime,
) -> AppResult<PatientFields> {
    let mut errors = FieldErrors::default();
    let name = fields::single_line(&mut errors, "name", &input.name, 200);
    if name.is_empty() {
        errors.add("name", "Enter the patient's name.");
    }
    let email = non_empty(&input.email).map(|e| auth::normalize_email(&e));
    if email
        .as_deref()
        .is_some_and(|e| !fields::is_sendable_email(e))
    {
        errors.add("email", "Enter an email address like name@example.com.");
    }
    let phone = non_empty(&fields::single_line(&mut errors, "phone", &input.phone, 40));
    if phone.as_deref().is_some_and(|p| !plausible_phone(p)) {
        errors.add(
            "phone",
            "Enter a phone number with 6 to 20 digits, like +44 20 7946 0000.",
        );
    }
    let date_of_birth = match non_empty(&input.date_of_birth) {
        None => None,
        Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) if d <= today && d >= NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid") => {
                Some(d)
            }
            Ok(_) => {
                errors.add("date_of_birth", "Enter a date of birth in the past.");
                None
            }
            Err(_) => {
                errors.add(
                    "date_of_birth",
                    "Enter the date as year-month-day, like 1985-04-23.",
                );
                None
            }
        },
    };
    let email_consent = input.email_consent.is_some();
    if email_consent && email.is_none() {
        errors.add(
            "email",
            "Enter an email address to send aftercare emails to, or untick the consent box.",
        );
    }
    errors.into_result()?;
    let (consent_by, consent_at) = match existing {
        Some(p) if p.email_consent && email_consent => (p.consent_by, p.consent_at),
        _ if email_consent => (Some(user.id), Some(now)),
        _ => (None, None),
    };
    Ok(PatientFields {
        name_search: name.to_lowercase(),
        name,
        email,
        phone_search: phone
            .as_deref()
            .map(store::patients::phone_key)
            .unwrap_or_default(),
        phone,
        date_of_birth,
        email_consent,
        consent_by,
        consent_at,
        updated_at: now,
    })
}

/// How a patient's audit entry ends when their consent changed (after their name).
pub const CONSENT_GIVEN: &str = "; email consent given";
pub const CONSENT_WITHDRAWN: &str = "; email consent withdrawn";

pub struct Saved {
    pub id: i64,
    /// Other patients with the same email, to warn about likely duplicates.
    pub same_email: Vec<Patient>,
}

#[tracing::instrument(skip_all)]
pub fn create(
    conn: &mut DbConn,
    user: &User,
    ip: &str,
    input: &PatientInput,
    today: NaiveDate,
    now: NaiveDateTime,
) -> AppResult<Saved> {
    let fields = validate(input, user, None, today, now)?;
    write_tx(conn, |conn| {
        let id = store::patients::insert(conn, &fields, now)?;
        let same_email = match &fields.email {
            Some(e) => views(store::patients::others_with_email(conn, e, Some(id))?),
            None => vec![],
        };
        audit(
            conn,
            &user.actor(ip),
            "patient.created",
            &format!("patient {id}"),
            &fields.name,
            now,
        )?;
        Ok(Saved { id, same_email })
    })
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn update(
    conn: &mut DbConn,
    user: &User,
    ip: &str,
    id: i64,
    input: &PatientInput,
    today: NaiveDate,
    now: NaiveDateTime,
) -> AppResult<Saved> {
    let saved = write_tx::<_, AppError>(conn, |conn| {
        let existing = get_unless_erased(conn, id)?;
        let fields = validate(input, user, Some(&existing), today, now)?;
        store::patients::update(conn, id, &fields)?;
        if existing.email_consent != fields.email_consent || existing.email != fields.email {
            let updated = get(conn, id)?;
            reminders::consent_changed(conn, recipient(&updated), now)?;
        }
        let same_email = match &fields.email {
            Some(e) => views(store::patients::others_with_email(conn, e, Some(id))?),
            None => vec![],
        };
        let consent = match (existing.email_consent, fields.email_consent) {
            (false, true) => CONSENT_GIVEN,
            (true, false) => CONSENT_WITHDRAWN,
            _ => "",
        };
        audit(
            conn,
            &user.actor(ip),
            "patient.updated",
            &format!("patient {id}"),
            &format!("{}{consent}", fields.name),
            now,
        )?;
        Ok(Saved { id, same_email })
    })?;
    sheet_inputs::changed();
    Ok(saved)
}

/// The patient as their reminders see them.
pub fn recipient(patient: &Patient) -> reminders::Recipient {
    reminders::Recipient {
        patient_id: patient.id,
        can_be_emailed: patient.can_be_emailed(),
    }
}

/// The patient's one click: no more reminders, at once. `false` when they
/// had already unsubscribed.
pub fn unsubscribe(
    conn: &mut DbConn,
    patient_id: i64,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<bool> {
    write_tx(conn, |conn| {
        let patient = get_unless_erased(conn, patient_id)?;
        if patient.unsubscribed_at.is_some() {
            return Ok(false);
        }
        store::patients::set_unsubscribed(conn, patient_id, Some(now))?;
        crate::usecases::outcomes::patient_unsubscribed(conn, patient_id)?;
        let scope = reminders::Scope::Patient(patient_id);
        let cancelled =
            reminders::cancel_pending(conn, scope, &reminders::Reason::Unsubscribed, now)?;
        let actor = crate::usecases::audit::Actor::anonymous("patient (unsubscribe link)", ip);
        audit(
            conn,
            &actor,
            "patient.unsubscribed",
            &format!("patient {patient_id}"),
            &format!("{} cancelled", crate::words::counted(cancelled, "reminder")),
            now,
        )?;
        Ok(true)
    })
}

#[tracing::instrument(skip_all, fields(id = id))]
/// Records the skin considerations a treatment was planned with, so the next treatment of this
/// patient starts from them.
pub fn set_considerations(
    conn: &mut DbConn,
    id: i64,
    ids: &[String],
    now: NaiveDateTime,
) -> AppResult<()> {
    store::patients::set_considerations(conn, id, ids, now)?;
    Ok(())
}

pub fn get(conn: &mut DbConn, id: i64) -> AppResult<Patient> {
    store::patients::find(conn, id)?
        .map(Patient::from)
        .ok_or(AppError::NotFound)
}

/// The patient, unless they were erased at their request: 404 then, as if gone. What may
/// still be edited, recorded for or emailed, and what their links name.
pub fn get_unless_erased(conn: &mut DbConn, id: i64) -> AppResult<Patient> {
    Some(get(conn, id)?)
        .filter(|p| !p.is_erased())
        .ok_or(AppError::NotFound)
}

/// Overwrites the patient's identity (see `store::patients::erase`); their name becomes
/// "Erased patient #N". Call inside the erasure's transaction. Returns the patient as they were.
pub fn erase(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> AppResult<Patient> {
    let before = get_unless_erased(conn, id)?;
    store::patients::erase(conn, id, now)?;
    Ok(before)
}

pub const PAGE_SIZE: i64 = 50;

pub struct SearchPage {
    pub query: String,
    pub patients: Vec<Patient>,
    pub page: i64,
    pub has_more: bool,
}

#[tracing::instrument(skip_all, fields(page = page))]
pub fn search(conn: &mut DbConn, query: &str, page: i64) -> AppResult<SearchPage> {
    let page = page.max(1);
    let query = query.trim().chars().take(100).collect::<String>();
    // One extra row tells whether there is a next page without counting 100,000 rows.
    let mut patients =
        store::patients::search(conn, &query, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)?;
    let has_more = patients.len() as i64 > PAGE_SIZE;
    patients.truncate(PAGE_SIZE as usize);
    Ok(SearchPage {
        query,
        patients: views(patients),
        page,
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn user() -> User {
        User {
            id: 7,
            email: "p@c.example".into(),
            name: "P".into(),
            role: Role::Practitioner,
            active: true,
        }
    }
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }
    fn now() -> NaiveDateTime {
        today().and_hms_opt(10, 0, 0).unwrap()
    }

    #[test]
    fn consent_without_an_email_is_refused() {
        let input = PatientInput {
            name: "Jo".into(),
            email_consent: Some("yes".into()),
            ..Default::default()
        };
        let Err(AppError::Invalid(errors)) = validate(&input, &user(), None, today(), now()) else {
            panic!()
        };
        assert!(errors.msg("email").contains("consent"));
    }

    #[test]
    fn consent_is_stamped_with_who_and_when() {
        let input = PatientInput {
            name: "Jo".into(),
            email: "Jo@Example.com ".into(),
            email_consent: Some("yes".into()),
            ..Default::default()
        };
        let f = validate(&input, &user(), None, today(), now()).unwrap();
        assert_eq!(
            (f.email.as_deref(), f.consent_by, f.consent_at),
            (Some("jo@example.com"), Some(7), Some(now()))
        );
    }

    #[test]
    fn phones_and_birth_dates_are_checked() {
        let input = PatientInput {
            name: "Jo".into(),
            phone: "call me".into(),
            date_of_birth: "2030-01-01".into(),
            ..Default::default()
        };
        let Err(AppError::Invalid(errors)) = validate(&input, &user(), None, today(), now()) else {
            panic!()
        };
        assert!(errors.get("phone").is_some() && errors.get("date_of_birth").is_some());
        assert!(plausible_phone("+44 (0)20 7946-0000"));
    }
}
