//! An admin's work on the clinic's locations: adding one, changing one (a new zone or send
//! hour re-times its pending emails, after showing how many will move), closing one (no new
//! treatments there) and deleting one that has never had a treatment.

use chrono::NaiveDateTime;

use crate::care::Protocol;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::clinic::{self, Clinic, ClinicInput, Site, SiteInput};
use crate::usecases::reminders::Timing;
use crate::usecases::store::{write_tx, DbConn};
use crate::usecases::{fields, sheet_inputs, treatments};

/// A location's form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LocationInput {
    #[serde(default)]
    pub name: String,
    #[serde(flatten)]
    pub site: SiteInput,
    /// How many pending emails the admin was told this save moves (the confirmation of a
    /// new zone or send hour); empty before they were told.
    #[serde(default)]
    pub moves: String,
}

/// The form for a new location: the first location's zone, hour and sender to start from.
pub fn new_form(conn: &mut DbConn) -> AppResult<LocationInput> {
    let first = clinic::get(conn)?;
    Ok(LocationInput {
        name: String::new(),
        site: SiteInput {
            time_zone: first.time_zone.name().to_string(),
            send_hour: first.send_hour.to_string(),
            sender_email: first.sender_email,
            reply_days: first.reply_days.to_string(),
            ..SiteInput::default()
        },
        moves: String::new(),
    })
}

/// A location's form as saved.
pub fn form(conn: &mut DbConn, id: i64) -> AppResult<LocationInput> {
    let location = clinic::location(conn, id)?;
    let shown = clinic::for_location(conn, id)?;
    Ok(LocationInput {
        name: location.name,
        site: SiteInput::from(&shown),
        moves: String::new(),
    })
}

fn validate(input: &LocationInput) -> AppResult<(String, Site)> {
    let mut errors = FieldErrors::default();
    let name = fields::single_line(&mut errors, "name", &input.name, 120);
    if name.is_empty() {
        errors.add(
            "name",
            "Enter the location's name as patients know it, like Soho or Manhattan.",
        );
    }
    let site = clinic::site::validate(&mut errors, &input.site);
    errors.into_result()?;
    Ok((name, site))
}

#[tracing::instrument(skip_all)]
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    input: &LocationInput,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let (name, site) = validate(input)?;
    let id = write_tx(conn, |conn| {
        let id = clinic::insert_location(conn, name.clone(), &site, now)?;
        let detail = format!("time zone {}, send hour {}", site.time_zone, site.send_hour);
        audit(conn, actor, "location.created", &name, &detail, now)?;
        Ok::<_, AppError>(id)
    })?;
    sheet_inputs::changed();
    Ok(id)
}

/// What saving a location came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Saved; this many treatments' pending emails were re-timed.
    Done { retimed: usize },
    /// Not saved: the new zone or send hour moves this many pending emails, which the
    /// admin has not yet been shown. The form asks again, saying so.
    Confirm { moves: i64 },
}

/// Inside a save's transaction: how many pending emails a new zone or send hour of
/// location `id` moves (with the location as it was), or the question to ask first when
/// the admin has not been shown that count (`typed`).
fn moves(
    conn: &mut DbConn,
    id: i64,
    site: &Site,
    typed: &str,
) -> AppResult<Result<(Clinic, i64), Saved>> {
    let before = clinic::for_location(conn, id)?;
    let retime = before.time_zone != site.time_zone || before.send_hour != site.send_hour;
    let moves = if retime {
        treatments::pending_at(conn, id)?
    } else {
        0
    };
    Ok(if moves > 0 && typed.trim() != moves.to_string() {
        Err(Saved::Confirm { moves })
    } else {
        Ok((before, moves))
    })
}

/// Inside a save's transaction, after it: re-times location `id`'s pending emails when a
/// new zone or send hour moves them, and says what changed for the audit log.
fn retime(
    conn: &mut DbConn,
    protocol: &Protocol,
    (id, before, moves): (i64, &Clinic, i64),
    at: Timing,
) -> AppResult<(usize, String)> {
    let after = clinic::for_location(conn, id)?;
    let retimed = if moves > 0 {
        treatments::retime_location(conn, protocol, &after, at)?
    } else {
        0
    };
    let detail = format!(
        "time zone {} → {}, send hour {} → {}, reply time {} working day(s); \
         {moves} pending email(s) of {retimed} treatment(s) re-timed",
        before.time_zone, after.time_zone, before.send_hour, after.send_hour, after.reply_days
    );
    Ok((retimed, detail))
}

/// Saves a location. A new zone or send hour re-times the location's pending emails in
/// the same transaction, once the admin has seen how many will move (`input.moves`).
#[tracing::instrument(skip_all, fields(location = id))]
pub fn save(
    conn: &mut DbConn,
    protocol: &Protocol,
    actor: &Actor,
    id: i64,
    input: &LocationInput,
    at: Timing,
) -> AppResult<Saved> {
    let (name, site) = validate(input)?;
    let saved = write_tx(conn, |conn| {
        let (before, moves) = match moves(conn, id, &site, &input.moves)? {
            Ok(counted) => counted,
            Err(ask) => return Ok(ask),
        };
        clinic::update_location(conn, id, name.clone(), &site, at.now)?;
        let (retimed, detail) = retime(conn, protocol, (id, &before, moves), at)?;
        audit(conn, actor, "location.updated", &name, &detail, at.now)?;
        Ok::<_, AppError>(Saved::Done { retimed })
    })?;
    if matches!(saved, Saved::Done { .. }) {
        sheet_inputs::changed();
    }
    Ok(saved)
}

/// Saves the clinic settings (what the locations share, and the first location's details),
/// re-timing the first location's pending emails as [`save`] does.
#[tracing::instrument(skip_all)]
pub fn save_clinic(
    conn: &mut DbConn,
    protocol: &Protocol,
    actor: &Actor,
    input: &ClinicInput,
    at: Timing,
) -> AppResult<Saved> {
    let settings = clinic::validate(input)?;
    let saved = write_tx(conn, |conn| {
        let first = clinic::get(conn)?.location_id;
        let (before, moves) = match moves(conn, first, &settings.site, &input.moves)? {
            Ok(counted) => counted,
            Err(ask) => return Ok(ask),
        };
        clinic::save_settings(conn, &settings, at.now)?;
        let (retimed, detail) = retime(conn, protocol, (first, &before, moves), at)?;
        audit(
            conn,
            actor,
            "clinic.updated",
            &settings.name,
            &detail,
            at.now,
        )?;
        Ok::<_, AppError>(Saved::Done { retimed })
    })?;
    if matches!(saved, Saved::Done { .. }) {
        sheet_inputs::changed();
    }
    Ok(saved)
}

/// Closes a location (no new treatments there; its patients' care goes on) or opens it again.
#[tracing::instrument(skip_all, fields(location = id))]
pub fn set_closed(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    closed: bool,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let location = clinic::location(conn, id)?;
        let open_others = clinic::locations(conn)?
            .iter()
            .filter(|l| !l.closed && l.id != id)
            .count();
        if closed && open_others == 0 {
            return Err(AppError::invalid(
                "close",
                "This is the only open location. Open or add another before closing it.",
            ));
        }
        clinic::set_location_closed(conn, id, closed, now)?;
        let action = if closed {
            "location.closed"
        } else {
            "location.reopened"
        };
        audit(conn, actor, action, &location.name, "", now)
    })
}

/// Deletes a location no treatment was ever recorded at (one with treatments can only close).
#[tracing::instrument(skip_all, fields(location = id))]
pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64, now: NaiveDateTime) -> AppResult<()> {
    write_tx::<_, AppError>(conn, |conn| {
        let location = clinic::location(conn, id)?;
        let treatments = clinic::location_treatments(conn, id)?;
        if treatments > 0 {
            return Err(AppError::invalid(
                "delete",
                &format!(
                    "{} has {} on record, so it cannot be deleted. Close it instead: it then \
                     takes no new treatments.",
                    location.name,
                    crate::words::counted(treatments, "treatment")
                ),
            ));
        }
        if clinic::locations(conn)?.len() == 1 {
            return Err(AppError::invalid(
                "delete",
                "A clinic needs at least one location.",
            ));
        }
        clinic::delete_location(conn, id)?;
        audit(conn, actor, "location.deleted", &location.name, "", now)
    })?;
    sheet_inputs::changed();
    Ok(())
}
