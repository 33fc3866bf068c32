//! Treatments and their treated areas.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::insert_returning_id;
use super::schema::{clinic, patients, reminders, treatment_areas, treatments, users};
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = treatments)]
pub struct TreatmentRow {
    pub id: i64,
    pub patient_id: i64,
    pub practitioner_id: i64,
    pub treated_at_local: NaiveDateTime,
    pub treated_at: NaiveDateTime,
    pub time_zone: String,
    pub device: String,
    pub products: String,
    pub internal_notes: String,
    pub plan_json: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub location_id: i64,
}

/// What recording or editing writes.
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = treatments)]
pub struct TreatmentFields {
    pub treated_at_local: NaiveDateTime,
    pub treated_at: NaiveDateTime,
    pub time_zone: String,
    pub device: String,
    pub products: String,
    pub internal_notes: String,
    pub plan_json: String,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = treatment_areas)]
pub struct AreaRow {
    pub area_id: String,
    pub depth_mm: f64,
}

pub fn insert(
    conn: &mut DbConn,
    patient_id: i64,
    practitioner_id: i64,
    location_id: i64,
    fields: &TreatmentFields,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    insert_returning_id!(
        conn,
        diesel::insert_into(treatments::table).values((
            fields,
            treatments::patient_id.eq(patient_id),
            treatments::practitioner_id.eq(practitioner_id),
            treatments::location_id.eq(location_id),
            treatments::created_at.eq(now),
        )),
        treatments::id
    )
}

pub fn update(conn: &mut DbConn, id: i64, fields: &TreatmentFields) -> QueryResult<usize> {
    diesel::update(
        treatments::table
            .find(id)
            .filter(treatments::deleted_at.is_null()),
    )
    .set((fields, treatments::version.eq(treatments::version + 1)))
    .execute(conn)
}

/// The location of a patient's latest live treatment, if they have one.
pub fn latest_location(conn: &mut DbConn, patient_id: i64) -> QueryResult<Option<i64>> {
    treatments::table
        .filter(treatments::patient_id.eq(patient_id))
        .filter(treatments::deleted_at.is_null())
        .order((treatments::treated_at.desc(), treatments::id.desc()))
        .select(treatments::location_id)
        .first(conn)
        .optional()
}

/// Live treatments at a location with plan reminders still to send (a "send the sheet now"
/// email is not part of the plan), and how many such reminders they have.
pub fn with_pending_at(conn: &mut DbConn, location_id: i64) -> QueryResult<Vec<(i64, i64)>> {
    treatments::table
        .inner_join(reminders::table)
        .filter(treatments::location_id.eq(location_id))
        .filter(treatments::deleted_at.is_null())
        .filter(reminders::status.eq("pending"))
        .filter(reminders::reminder_key.not_like(format!("{}%", super::reminders::SHEET_NOW)))
        .group_by(treatments::id)
        .select((treatments::id, diesel::dsl::count_star()))
        .order(treatments::id)
        .load(conn)
}

/// The version counters a live treatment's sheet is made from, in one read
/// (every sheet view asks): the treatment's, its patient's (and whether the
/// patient was erased), and the clinic settings'.
pub fn sheet_versions(conn: &mut DbConn, id: i64) -> QueryResult<Option<SheetVersions>> {
    let clinic_version = clinic::table
        .find(1)
        .select(clinic::version)
        .single_value()
        .assume_not_null();
    treatments::table
        .inner_join(patients::table)
        .filter(treatments::id.eq(id))
        .filter(treatments::deleted_at.is_null())
        .select((
            treatments::version,
            patients::version,
            patients::erased_at.is_not_null(),
            clinic_version,
        ))
        .get_result::<SheetVersions>(conn)
        .optional()
}

/// (treatment, patient, patient erased, clinic settings): see [`sheet_versions`].
pub type SheetVersions = (i64, i64, bool, i64);

/// Replaces a treatment's areas with `areas` (in order).
pub fn set_areas(conn: &mut DbConn, treatment_id: i64, areas: &[(String, f64)]) -> QueryResult<()> {
    diesel::delete(treatment_areas::table.filter(treatment_areas::treatment_id.eq(treatment_id)))
        .execute(conn)?;
    let rows: Vec<_> = areas
        .iter()
        .enumerate()
        .map(|(i, (area, depth))| {
            (
                treatment_areas::treatment_id.eq(treatment_id),
                treatment_areas::position.eq(i as i32),
                treatment_areas::area_id.eq(area),
                treatment_areas::depth_mm.eq(depth),
            )
        })
        .collect();
    if !rows.is_empty() {
        super::execute_per_backend!(
            conn,
            diesel::insert_into(treatment_areas::table).values(&rows)
        )?;
    }
    Ok(())
}

pub fn areas(conn: &mut DbConn, treatment_id: i64) -> QueryResult<Vec<AreaRow>> {
    treatment_areas::table
        .filter(treatment_areas::treatment_id.eq(treatment_id))
        .order(treatment_areas::position.asc())
        .select(AreaRow::as_select())
        .load(conn)
}

/// A treatment that has not been deleted.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<TreatmentRow>> {
    treatments::table
        .find(id)
        .filter(treatments::deleted_at.is_null())
        .select(TreatmentRow::as_select())
        .get_result(conn)
        .optional()
}

/// A treatment with its patient's name and its practitioner's name.
pub fn find_with_names(
    conn: &mut DbConn,
    id: i64,
) -> QueryResult<Option<(TreatmentRow, String, String)>> {
    treatments::table
        .inner_join(patients::table)
        .inner_join(users::table)
        .filter(treatments::id.eq(id))
        .filter(treatments::deleted_at.is_null())
        .select((TreatmentRow::as_select(), patients::name, users::name))
        .get_result(conn)
        .optional()
}

/// A patient's treatments, newest first, with the practitioner's name.
pub fn for_patient(conn: &mut DbConn, patient_id: i64) -> QueryResult<Vec<(TreatmentRow, String)>> {
    treatments::table
        .inner_join(users::table)
        .filter(treatments::patient_id.eq(patient_id))
        .filter(treatments::deleted_at.is_null())
        .order(treatments::treated_at.desc())
        .select((TreatmentRow::as_select(), users::name))
        .load(conn)
}

pub fn soft_delete(conn: &mut DbConn, id: i64, by: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        treatments::table
            .find(id)
            .filter(treatments::deleted_at.is_null()),
    )
    .set((
        treatments::deleted_at.eq(now),
        treatments::deleted_by.eq(by),
    ))
    .execute(conn)
}

/// Deletes the photos sent with a treatment's check-ins (when the treatment
/// is deleted: nothing of it is shown again, so its photos are not kept).
pub fn delete_checkin_photos(conn: &mut DbConn, treatment_id: i64) -> QueryResult<usize> {
    use super::schema::{checkin_photos, checkins};
    let of_treatment = checkins::table
        .filter(checkins::treatment_id.eq(treatment_id))
        .select(checkins::id);
    diesel::delete(checkin_photos::table.filter(checkin_photos::checkin_id.eq_any(of_treatment)))
        .execute(conn)
}

/// The most recent treatments in the clinic, with patient and practitioner names.
pub fn recent(
    conn: &mut DbConn,
    sites: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<(TreatmentRow, String, String)>> {
    let mut query = treatments::table
        .inner_join(patients::table)
        .inner_join(users::table)
        .filter(treatments::deleted_at.is_null())
        .order(treatments::treated_at.desc())
        .limit(limit)
        .select((TreatmentRow::as_select(), patients::name, users::name))
        .into_boxed();
    if let Some(ids) = sites {
        query = query.filter(treatments::location_id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// Every treatment of a patient, deleted ones too (with when they were deleted), oldest first,
/// with the practitioner's name.
#[allow(clippy::type_complexity)]
pub fn all_for_patient(
    conn: &mut DbConn,
    patient_id: i64,
) -> QueryResult<Vec<(TreatmentRow, String, Option<NaiveDateTime>)>> {
    treatments::table
        .inner_join(users::table)
        .filter(treatments::patient_id.eq(patient_id))
        .order((treatments::treated_at.asc(), treatments::id.asc()))
        .select((
            TreatmentRow::as_select(),
            users::name,
            treatments::deleted_at,
        ))
        .load(conn)
}

/// Empties a treatment's internal notes and stores its plan as given (without the patient's
/// note): an erasure, which any sheet cached for the old version must not outlive.
pub fn erase_free_text(conn: &mut DbConn, id: i64, plan_json: &str) -> QueryResult<usize> {
    diesel::update(treatments::table.find(id))
        .set((
            treatments::internal_notes.eq(""),
            treatments::plan_json.eq(plan_json),
            treatments::version.eq(treatments::version + 1),
        ))
        .execute(conn)
}
