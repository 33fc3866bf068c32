//! Use cases for the clinic's own details: what its locations share (its name, how dates
//! read, retention) and each location as the documents show it.

use chrono::NaiveDateTime;

use crate::dates::Locale;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::fields;
use crate::usecases::store::{self, locations::LocationRow, DbConn};

mod retention;
pub mod site;

pub use crate::documents::clinic::{
    default_emergency_number, emergency_number, tel_href, Clinic, Zone,
};
pub use retention::{
    retention, save_retention, Retention, RetentionInput, AUDIT_DAYS, EMAIL_DAYS, PHOTO_DAYS,
};
pub use site::{
    time_zone_choices, Site, SiteInput, ZoneChoices, COMMON_TIME_ZONES, DEFAULT_REPLY_DAYS,
    REPLY_DAYS,
};

/// The clinic settings form: what the locations share, and the first location's details
/// (a single-site clinic sets everything here; a group sets its other locations apart).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ClinicInput {
    #[serde(default)]
    pub name: String,
    /// "en-GB" or "en-US"; empty is en-GB.
    #[serde(default)]
    pub locale: String,
    #[serde(flatten)]
    pub site: SiteInput,
    /// How many pending emails the admin was told this save moves (see `locations`).
    #[serde(default)]
    pub moves: String,
}

/// The clinic settings form as saved.
pub fn form(conn: &mut DbConn) -> AppResult<ClinicInput> {
    let clinic = get(conn)?;
    Ok(ClinicInput {
        name: clinic.name.clone(),
        locale: clinic.locale.as_str().to_string(),
        site: SiteInput::from(&clinic),
        moves: String::new(),
    })
}

/// How the clinic writes dates and times.
pub fn locale(conn: &mut DbConn) -> AppResult<Locale> {
    Locale::try_from(store::clinic::locale(conn)?)
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))
}

/// The clinic as one location shows it. `several`: the clinic has more than one location,
/// so its documents name the location too.
fn compose(shared: store::clinic::ClinicRow, row: LocationRow, several: bool) -> AppResult<Clinic> {
    let corrupt = |e: String| AppError::Internal(anyhow::anyhow!(e));
    let f = row.fields;
    Ok(Clinic {
        name: shared.name,
        location_id: row.id,
        location: if several { f.name } else { String::new() },
        phone: f.phone,
        email: f.email,
        address: f.address,
        opening_hours: f.opening_hours,
        out_of_hours: f.out_of_hours,
        time_zone: Zone::try_from(f.time_zone).map_err(corrupt)?,
        send_hour: f.send_hour,
        sender_email: f.sender_email,
        reply_to: f.reply_to,
        reply_days: f.reply_days,
        configured: shared.configured,
        emergency_number: f.emergency_number,
        locale: Locale::try_from(shared.locale).map_err(corrupt)?,
    })
}

/// The clinic as location `id` shows it: its sheets, emails, check-in pages and alerts.
#[tracing::instrument(skip_all, fields(location = id))]
pub fn for_location(conn: &mut DbConn, id: i64) -> AppResult<Clinic> {
    let row = store::locations::get(conn, id)?.ok_or(AppError::NotFound)?;
    let several = store::locations::count(conn)? > 1;
    compose(store::clinic::get(conn)?, row, several)
}

/// Locations as their documents show them, each read once however many emails of a round
/// are from it.
#[derive(Default)]
pub struct Places(std::collections::BTreeMap<i64, Clinic>);

impl Places {
    pub fn get(&mut self, conn: &mut DbConn, location_id: i64) -> AppResult<Clinic> {
        if let Some(clinic) = self.0.get(&location_id) {
            return Ok(clinic.clone());
        }
        let clinic = for_location(conn, location_id)?;
        self.0.insert(location_id, clinic.clone());
        Ok(clinic)
    }
}

/// The clinic as its first location shows it: what a single-site clinic is, and the zone
/// clinic-wide pages (backups, reports) count days in.
#[tracing::instrument(skip_all)]
pub fn get(conn: &mut DbConn) -> AppResult<Clinic> {
    let first = store::locations::first_id(conn)?;
    for_location(conn, first)
}

/// The locations that take new treatments, as their documents show them.
pub fn open_locations(conn: &mut DbConn) -> AppResult<Vec<Clinic>> {
    let rows = store::locations::list(conn)?;
    let several = rows.len() > 1;
    let shared = store::clinic::get(conn)?;
    rows.into_iter()
        .filter(|row| row.closed_at.is_none())
        .map(|row| compose(shared.clone(), row, several))
        .collect()
}

/// The store's fields for a location's checked details.
fn location_fields(name: String, site: &Site) -> store::locations::LocationFields {
    store::locations::LocationFields {
        name,
        phone: site.phone.clone(),
        email: site.email.clone(),
        address: site.address.clone(),
        opening_hours: site.opening_hours.clone(),
        out_of_hours: site.out_of_hours.clone(),
        emergency_number: site.emergency_number.clone(),
        time_zone: site.time_zone.name().to_string(),
        send_hour: site.send_hour,
        sender_email: site.sender_email.clone(),
        reply_to: site.reply_to.clone(),
        reply_days: site.reply_days,
    }
}

/// A location as its admin page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: i64,
    pub name: String,
    pub time_zone: String,
    pub send_hour: i32,
    pub closed: bool,
}

impl From<&LocationRow> for Location {
    fn from(row: &LocationRow) -> Location {
        Location {
            id: row.id,
            name: row.fields.name.clone(),
            time_zone: row.fields.time_zone.clone(),
            send_hour: row.fields.send_hour,
            closed: row.closed_at.is_some(),
        }
    }
}

/// Every location, open ones first.
pub fn locations(conn: &mut DbConn) -> AppResult<Vec<Location>> {
    Ok(store::locations::list(conn)?
        .iter()
        .map(Location::from)
        .collect())
}

/// One location's name and state, or not found.
pub fn location(conn: &mut DbConn, id: i64) -> AppResult<Location> {
    store::locations::get(conn, id)?
        .as_ref()
        .map(Location::from)
        .ok_or(AppError::NotFound)
}

/// Adds a location. Call inside the caller's transaction.
pub fn insert_location(
    conn: &mut DbConn,
    name: String,
    site: &Site,
    now: NaiveDateTime,
) -> AppResult<i64> {
    Ok(store::locations::insert(
        conn,
        &location_fields(name, site),
        now,
    )?)
}

/// Saves a location's details. Call inside the caller's transaction.
pub fn update_location(
    conn: &mut DbConn,
    id: i64,
    name: String,
    site: &Site,
    now: NaiveDateTime,
) -> AppResult<()> {
    match store::locations::update(conn, id, &location_fields(name, site), now)? {
        0 => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// Closes a location (no new treatments there) or opens it again.
pub fn set_location_closed(
    conn: &mut DbConn,
    id: i64,
    closed: bool,
    now: NaiveDateTime,
) -> AppResult<()> {
    let at = closed.then_some(now);
    match store::locations::set_closed(conn, id, at, now)? {
        0 => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// How many treatments were recorded at a location (deleted ones too: their records stay).
pub fn location_treatments(conn: &mut DbConn, id: i64) -> AppResult<i64> {
    Ok(store::locations::treatment_count(conn, id)?)
}

/// Deletes a location with no treatments. Call inside the caller's transaction.
pub fn delete_location(conn: &mut DbConn, id: i64) -> AppResult<()> {
    match store::locations::delete(conn, id)? {
        0 => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// Every location with its pending reminder emails, open ones first.
pub fn locations_with_pending(conn: &mut DbConn) -> AppResult<Vec<(Location, i64)>> {
    let pending = store::locations::pending_by_location(conn)?;
    Ok(locations(conn)?
        .into_iter()
        .map(|l| {
            let n = pending
                .iter()
                .find(|(id, _)| *id == l.id)
                .map_or(0, |p| p.1);
            (l, n)
        })
        .collect())
}

/// The clinic settings form, checked: what the locations share, and the first location's details.
pub struct Settings {
    pub name: String,
    pub locale: Locale,
    pub site: Site,
}

pub fn validate(input: &ClinicInput) -> AppResult<Settings> {
    let mut errors = FieldErrors::default();
    let name = fields::single_line(&mut errors, "name", &input.name, 120);
    if name.is_empty() {
        errors.add("name", "Enter the clinic's name as patients know it.");
    }
    let locale = match input.locale.trim() {
        "" => Locale::default(),
        tag => Locale::parse(tag).unwrap_or_else(|| {
            errors.add(
                "locale",
                "Choose how dates and times are written from the list.",
            );
            Locale::default()
        }),
    };
    let site = site::validate(&mut errors, &input.site);
    errors.into_result()?;
    Ok(Settings { name, locale, site })
}

/// Saves the clinic settings: what the locations share and the first location's details.
/// Call inside the caller's transaction (which re-times the first location's pending
/// emails when its zone or send hour changed).
pub fn save_settings(conn: &mut DbConn, settings: &Settings, now: NaiveDateTime) -> AppResult<()> {
    let before = store::clinic::get(conn)?;
    store::clinic::save(conn, &settings.name, settings.locale.as_str(), now)?;
    let first = store::locations::first_id(conn)?;
    let location = store::locations::get(conn, first)?.ok_or(AppError::NotFound)?;
    // A first location named as the clinic was (as a new or upgraded clinic's is) follows a
    // new name; one given its own name keeps it.
    let name = if location.fields.name == before.name {
        settings.name.clone()
    } else {
        location.fields.name
    };
    let fields = location_fields(name, &settings.site);
    store::locations::update(conn, first, &fields, now)?;
    Ok(())
}
