//! Recording a treatment, editing and deleting it: the form checked field by field, the
//! plan computed, and each change written with its reminders and its audit row in one
//! transaction.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::collections::BTreeMap;

use super::form::{parse_local, unusual_key, TreatmentForm, DEPTH_IS_RIGHT, PATIENT_NOTE_MAX};
use super::{get, stored, Treatment};
use crate::auth::Role;
use crate::care::{self, schedule, Plan, Protocol, TreatedArea, TreatmentInput};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::audit;
use crate::usecases::clinic::{self, Clinic};
use crate::usecases::outcomes;
use crate::usecases::patients;
use crate::usecases::reminders::{self, Change, Timing};
use crate::usecases::sheet_inputs;
use crate::usecases::store::{self, treatments::TreatmentFields, write_tx, DbConn};

/// A treatment may be recorded up to this far ahead (clock differences, a
/// session recorded just before it starts) …
const MAX_AHEAD_HOURS: i64 = 12;
/// … and this far back (paper records typed in late).
const MAX_BACK_DAYS: i64 = 366;

/// A checked treatment, ready to store.
pub(super) struct Valid {
    pub(super) fields: TreatmentFields,
    pub(super) areas: Vec<(String, f64)>,
    pub(super) plan: Plan,
}

pub(super) fn validate(
    protocol: &Protocol,
    clinic: &Clinic,
    time_zone: &str,
    form: &TreatmentForm,
    now: DateTime<Utc>,
) -> AppResult<Valid> {
    let mut errors = FieldErrors::default();
    let tz: chrono_tz::Tz = time_zone.parse().map_err(|_| {
        AppError::Internal(anyhow::anyhow!("stored time zone {time_zone:?} is unknown"))
    })?;

    let treated_at_local = parse_local(&form.treated_at);
    match treated_at_local {
        None => errors.add("treated_at", "Enter the date and time of the treatment."),
        Some(local) => {
            let utc = schedule::local_to_utc(tz, local);
            if utc > now + Duration::hours(MAX_AHEAD_HOURS) {
                errors.add(
                    "treated_at",
                    "This date is in the future. Enter when the treatment was done.",
                );
            } else if utc < now - Duration::days(MAX_BACK_DAYS) {
                errors.add(
                    "treated_at",
                    "This date is more than a year ago. Check the year.",
                );
            }
        }
    }

    let mut areas: Vec<(String, f64)> = Vec::new();
    // The form row of each of `areas`, for an error beside its depth.
    let mut area_rows: Vec<usize> = Vec::new();
    for (i, row) in form.rows.iter().enumerate() {
        if row.area.is_empty() && row.depth.is_empty() {
            continue;
        }
        let area = protocol.area(&row.area);
        if area.is_none() {
            errors.add(format!("area_{i}"), "Choose the treated area.");
        } else if areas.iter().any(|(a, _)| *a == row.area) {
            errors.add(
                format!("area_{i}"),
                "This area is already listed. Give each area once, with its deepest depth.",
            );
        }
        let depth = row
            .depth
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite());
        match depth {
            Some(d) if (care::MIN_DEPTH_MM..=care::MAX_DEPTH_MM).contains(&d) => {
                if area.is_some() {
                    areas.push((row.area.clone(), (d * 100.0).round() / 100.0));
                    area_rows.push(i);
                }
            }
            _ => errors.add(
                format!("depth_{i}"),
                format!(
                    "Enter the needle depth in mm, from {} to {}.",
                    care::MIN_DEPTH_MM,
                    care::MAX_DEPTH_MM
                ),
            ),
        }
    }
    if areas.is_empty()
        && form
            .rows
            .iter()
            .all(|r| r.area.is_empty() && r.depth.is_empty())
    {
        errors.add(
            "areas",
            "Add at least one treated area with its needle depth.",
        );
    }
    // An unusual depth is the practitioner's to confirm before anything is saved or emailed.
    if unusual_key(protocol, &areas) != form.depth_confirmed {
        for ((area, depth), row) in areas.iter().zip(&area_rows) {
            if let Some(hint) = care::depth_hint(protocol, area, *depth) {
                errors.add(
                    format!("depth_{row}"),
                    format!("{hint} If it is right, tick \u{201c}{DEPTH_IS_RIGHT}\u{201d} below."),
                );
            }
        }
    }
    crate::usecases::fields::single_line(&mut errors, "device", &form.device, 200);
    crate::usecases::fields::multi_line(&mut errors, "products", &form.products, 1000);
    crate::usecases::fields::multi_line(&mut errors, "internal_notes", &form.internal_notes, 5000);
    let patient_note = crate::usecases::fields::multi_line(
        &mut errors,
        "patient_note",
        &form.patient_note,
        PATIENT_NOTE_MAX,
    );
    let mut adjustments = BTreeMap::new();
    for (key, text) in form.adjust.iter().filter(|(_, t)| !t.is_empty()) {
        match text.parse::<u32>() {
            Ok(value) => {
                adjustments.insert(key.clone(), value);
            }
            Err(_) => errors.add(format!("adjust_{key}"), "Enter a whole number."),
        }
    }
    errors.into_result()?;
    // Protocol order, whatever order the form sent them in, so equal choices give equal plans.
    let ticked = |list: &[care::protocol::Tailor], ids: &[String]| -> Vec<String> {
        let mut out: Vec<String> = list
            .iter()
            .filter(|t| ids.contains(&t.id))
            .map(|t| t.id.clone())
            .collect();
        out.extend(
            ids.iter()
                .filter(|i| !list.iter().any(|t| &t.id == *i))
                .cloned(),
        );
        out
    };
    let tailoring = care::Tailoring {
        adjustments,
        add_ons: ticked(protocol.add_ons(), &form.add_ons),
        considerations: ticked(protocol.considerations(), &form.considerations),
        patient_note,
    };

    let treated_at_local = treated_at_local.expect("validated");
    let input = TreatmentInput {
        areas: areas
            .iter()
            .map(|(a, d)| TreatedArea {
                area_id: a.clone(),
                depth_mm: *d,
            })
            .collect(),
        treated_at: treated_at_local,
        time_zone: time_zone.to_string(),
        send_hour: clinic.send_hour as u32,
        tailoring,
    };
    let plan = care::compute_plan(protocol, &input).map_err(|e| {
        let field = e.field();
        let field = if field.starts_with("treated_at") {
            "treated_at"
        } else if field.starts_with("adjust_") || field == "add_ons" || field == "considerations" {
            field.as_str()
        } else {
            "areas"
        };
        AppError::invalid(field, &e.to_string())
    })?;
    let plan_json = serde_json::to_string(&plan).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Valid {
        fields: TreatmentFields {
            treated_at_local,
            treated_at: plan.treated_at.utc.naive_utc(),
            time_zone: time_zone.to_string(),
            device: form.device.clone(),
            products: form.products.clone(),
            internal_notes: form.internal_notes.clone(),
            plan_json,
            updated_at: now.naive_utc(),
        },
        areas,
        plan,
    })
}

/// What the audit log adds when a depth outside its area's usual range was confirmed.
fn confirmed_note(protocol: &Protocol, plan: &Plan) -> String {
    let areas: Vec<(String, f64)> = plan
        .areas
        .iter()
        .map(|a| (a.id.clone(), a.depth_mm))
        .collect();
    match unusual_key(protocol, &areas) {
        key if key.is_empty() => String::new(),
        key => format!("; unusual depth confirmed: {key}"),
    }
}

#[tracing::instrument(skip_all, fields(patient_id = patient_id))]
pub fn record(
    conn: &mut DbConn,
    protocol: &Protocol,
    user: &User,
    ip: &str,
    patient_id: i64,
    form: &TreatmentForm,
    at: Timing,
) -> AppResult<i64> {
    let now = at.now.and_utc();
    // Validation and the plan need no lock: on SQLite every other writer
    // queues behind this transaction (BENCHMARKS.md, F3). The patient is read
    // inside it, so the reminders follow their consent as it is at commit.
    let places = super::form::recording_locations(conn, user)?;
    let clinic = super::form::chosen_location(&places, &form.location)?;
    let valid = validate(protocol, &clinic, clinic.time_zone.name(), form, now)?;
    let now = now.naive_utc();
    write_tx(conn, |conn| {
        let patient = patients::get_unless_erased(conn, patient_id)?;
        let (location, fields) = (clinic.location_id, &valid.fields);
        let id = store::treatments::insert(conn, patient.id, user.id, location, fields, now)?;
        store::treatments::set_areas(conn, id, &valid.areas)?;
        outcomes::treatment_recorded(conn, id, patient.id, user.id, &valid.plan)?;
        let recipient = patients::recipient(&patient);
        reminders::schedule(conn, id, recipient, &valid.plan, &clinic.sender_email, at)?;
        let considerations = &valid.plan.tailoring.considerations;
        if *considerations != patient.considerations {
            patients::set_considerations(conn, patient.id, considerations, now)?;
        }
        let summary = summary(&valid.plan) + &confirmed_note(protocol, &valid.plan);
        audit(
            conn,
            &user.actor(ip),
            "treatment.recorded",
            &format!("treatment {id}"),
            &format!("patient {}: {summary}", patient.id),
            now,
        )?;
        Ok(id)
    })
}

/// What the audit log keeps of a plan: the areas, then each tailoring and who made it (the
/// audit row's actor is the practitioner; `by` says what set each length).
fn summary(plan: &Plan) -> String {
    let mut text = plan
        .areas
        .iter()
        .map(|a| format!("{} {} mm", a.label, care::protocol::format_mm(a.depth_mm)))
        .collect::<Vec<_>>()
        .join(", ");
    for a in &plan.adjusted {
        text.push_str(&format!(
            "; adjusted {}: {} {} (default {}, by {})",
            a.key, a.value, a.unit, a.default, a.by
        ));
    }
    let t = &plan.tailoring;
    if !t.add_ons.is_empty() {
        text.push_str(&format!("; add-ons: {}", t.add_ons.join(", ")));
    }
    if !t.considerations.is_empty() {
        text.push_str(&format!(
            "; considerations: {}",
            t.considerations.join(", ")
        ));
    }
    if !t.patient_note.is_empty() {
        text.push_str("; with a note for the patient");
    }
    text
}

/// Only the practitioner who recorded a treatment, or an admin, may change it.
pub fn may_change(user: &User, t: &Treatment) -> bool {
    user.role == Role::Admin || (user.role == Role::Practitioner && t.practitioner_id == user.id)
}

/// The user may change the treatment, and its record is still open: the treatments of a
/// patient erased at their request are kept as they stood (404 to any change).
fn ensure_may_change(conn: &mut DbConn, user: &User, t: &Treatment) -> AppResult<()> {
    if !may_change(user, t) {
        return Err(AppError::Forbidden);
    }
    patients::get_unless_erased(conn, t.patient_id)?;
    Ok(())
}

/// The stored treatment and its form, for the edit page (checks the right to edit).
#[tracing::instrument(skip_all, fields(id = id))]
pub fn for_editing(
    conn: &mut DbConn,
    user: &User,
    id: i64,
) -> AppResult<(Treatment, TreatmentForm)> {
    let row = stored(conn, id)?;
    let areas = store::treatments::areas(conn, id)?;
    let form = TreatmentForm::from_stored(&row, &areas);
    let t = Treatment::try_from(row)?;
    ensure_may_change(conn, user, &t)?;
    Ok((t, form))
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn edit(
    conn: &mut DbConn,
    protocol: &Protocol,
    user: &User,
    ip: &str,
    id: i64,
    form: &TreatmentForm,
    at: Timing,
) -> AppResult<()> {
    let now = at.now.and_utc();
    write_tx::<_, AppError>(conn, |conn| {
        let t = get(conn, id)?;
        ensure_may_change(conn, user, &t)?;
        let clinic = clinic::for_location(conn, t.location_id)?;
        let valid = validate(protocol, &clinic, t.time_zone.name(), form, now)?;
        store::treatments::update(conn, id, &valid.fields)?;
        store::treatments::set_areas(conn, id, &valid.areas)?;
        outcomes::treatment_edited(conn, id, &valid.plan)?;
        let patient = patients::get_unless_erased(conn, t.patient_id)?;
        let recipient = patients::recipient(&patient);
        let (plan, sender) = (&valid.plan, &clinic.sender_email);
        reminders::reschedule(conn, id, recipient, plan, sender, at, Change::Edited)?;
        audit(
            conn,
            &user.actor(ip),
            "treatment.edited",
            &format!("treatment {id}"),
            &(summary(&valid.plan) + &confirmed_note(protocol, &valid.plan)),
            now.naive_utc(),
        )?;
        Ok(())
    })?;
    sheet_inputs::changed();
    Ok(())
}

/// Soft delete: the row stays for the record; it disappears from every page.
/// The photos of its check-ins are deleted in the same transaction (zeroed
/// where they lay, on SQLite), not left until the retention period ends.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn delete(
    conn: &mut DbConn,
    user: &User,
    ip: &str,
    id: i64,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let patient_id = write_tx::<_, AppError>(conn, |conn| {
        let t = get(conn, id)?;
        ensure_may_change(conn, user, &t)?;
        store::treatments::soft_delete(conn, id, user.id, now)?;
        outcomes::treatment_deleted(conn, id)?;
        store::with_secure_delete(conn, |conn| {
            store::treatments::delete_checkin_photos(conn, id)
        })?;
        let deleted = reminders::Scope::Treatment(id);
        reminders::cancel_pending(conn, deleted, &reminders::Reason::TreatmentDeleted, now)?;
        audit(
            conn,
            &user.actor(ip),
            "treatment.deleted",
            &format!("treatment {id}"),
            &format!("patient {}", t.patient_id),
            now,
        )?;
        Ok(t.patient_id)
    })?;
    sheet_inputs::changed();
    Ok(patient_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::treatments::AreaRowInput;

    /// The form as typed: the time, then (area, depth) rows.
    fn typed(treated_at: &str, rows: &[(&str, &str)]) -> TreatmentForm {
        TreatmentForm {
            treated_at: treated_at.into(),
            rows: rows
                .iter()
                .map(|(area, depth)| AreaRowInput {
                    area: area.to_string(),
                    depth: depth.to_string(),
                })
                .collect(),
            ..TreatmentForm::default()
        }
    }

    fn clinic() -> Clinic {
        Clinic {
            name: "C".into(),
            location: String::new(),
            location_id: 1,
            reply_to: String::new(),
            reply_days: 1,
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            opening_hours: String::new(),
            out_of_hours: String::new(),
            time_zone: crate::usecases::clinic::Zone(chrono_tz::Europe::London),
            send_hour: 9,
            sender_email: "a@c.example".into(),
            configured: true,
            emergency_number: String::new(),
            locale: Default::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn errors_of(form: TreatmentForm) -> FieldErrors {
        match validate(
            &Protocol::default_protocol(),
            &clinic(),
            "Europe/London",
            &form,
            now(),
        ) {
            Err(AppError::Invalid(e)) => e,
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(_) => panic!("expected field errors"),
        }
    }

    #[test]
    fn no_area_too_deep_and_far_future_are_field_errors() {
        let e = errors_of(typed("2026-11-25T10:00", &[]));
        assert!(e.get("areas").is_some());
        let e = errors_of(typed("2027-06-01T10:00", &[("cheeks", "7")]));
        assert!(e.msg("depth_0").contains("0.1 to 3"));
        assert!(e.msg("treated_at").contains("future"));
        let e = errors_of(typed("yesterday", &[("cheeks", "1"), ("cheeks", "1")]));
        assert!(e.get("treated_at").is_some());
        assert!(e.msg("area_1").contains("already listed"));
    }

    #[test]
    fn a_valid_form_gives_a_plan_in_the_clinics_zone() {
        let form = typed("2026-11-24T14:30", &[("cheeks", "1,0")]);
        let valid = validate(
            &Protocol::default_protocol(),
            &clinic(),
            "Europe/London",
            &form,
            now(),
        )
        .unwrap();
        assert_eq!(valid.areas, vec![("cheeks".to_string(), 1.0)]);
        assert_eq!(valid.fields.treated_at.to_string(), "2026-11-24 14:30:00");
        assert!(!valid.plan.phases.is_empty());
    }
}
