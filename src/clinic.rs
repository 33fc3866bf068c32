//! Use cases for the clinic's own details.

use chrono::NaiveDateTime;

use crate::accounts::{audit, Actor};
use crate::auth;
use crate::error::{AppResult, FieldErrors};
use crate::fields;
use crate::store::{self, clinic::ClinicRow, write_tx, DbConn};

pub use crate::store::clinic::ClinicRow as Clinic;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ClinicInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub opening_hours: String,
    #[serde(default)]
    pub out_of_hours: String,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub send_hour: String,
    #[serde(default)]
    pub sender_email: String,
}

impl From<&Clinic> for ClinicInput {
    fn from(c: &Clinic) -> Self {
        ClinicInput {
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            address: c.address.clone(),
            opening_hours: c.opening_hours.clone(),
            out_of_hours: c.out_of_hours.clone(),
            time_zone: c.time_zone.clone(),
            send_hour: c.send_hour.to_string(),
            sender_email: c.sender_email.clone(),
        }
    }
}

/// The clinic's time zone. Saving validates it, so UTC is only a guard
/// against a hand-edited database.
pub fn zone(clinic: &Clinic) -> chrono_tz::Tz {
    clinic.time_zone.parse().unwrap_or(chrono_tz::UTC)
}

/// Every IANA zone name, for the picker.
pub fn time_zones() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

fn validate(input: &ClinicInput) -> AppResult<ClinicRow> {
    let mut errors = FieldErrors::default();
    // The name is the From of every email and heads every sheet.
    let name = fields::single_line(&mut errors, "name", &input.name, 120);
    if name.is_empty() {
        errors.add("name", "Enter the clinic's name as patients know it.");
    }
    let email = auth::normalize_email(&input.email);
    if !email.is_empty() && !fields::is_sendable_email(&email) {
        errors.add(
            "email",
            "Enter an email address like hello@clinic.com, or leave it empty.",
        );
    }
    let sender_email = auth::normalize_email(&input.sender_email);
    if !fields::is_sendable_email(&sender_email) {
        errors.add(
            "sender_email",
            "Enter the address reminder emails come from, like aftercare@clinic.com.",
        );
    }
    let time_zone = input.time_zone.trim().to_string();
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        errors.add(
            "time_zone",
            "Choose a time zone from the list, like Europe/London.",
        );
    }
    let send_hour = match input.send_hour.trim().parse::<i32>() {
        Ok(h) if (0..=23).contains(&h) => h,
        _ => {
            errors.add("send_hour", "Choose an hour from 0 to 23.");
            0
        }
    };
    let phone = fields::single_line(&mut errors, "phone", &input.phone, 60);
    let opening_hours =
        fields::single_line(&mut errors, "opening_hours", &input.opening_hours, 300);
    let address = fields::multi_line(&mut errors, "address", &input.address, 500);
    let out_of_hours = fields::multi_line(&mut errors, "out_of_hours", &input.out_of_hours, 500);
    errors.into_result()?;
    Ok(ClinicRow {
        name,
        phone,
        email,
        address,
        opening_hours,
        out_of_hours,
        time_zone,
        send_hour,
        sender_email,
        configured: true,
    })
}

pub fn get(conn: &mut DbConn) -> AppResult<Clinic> {
    Ok(store::clinic::get(conn)?)
}

pub fn save(
    conn: &mut DbConn,
    actor: &Actor,
    input: &ClinicInput,
    now: NaiveDateTime,
) -> AppResult<()> {
    let row = validate(input)?;
    write_tx(conn, |conn| {
        store::clinic::save(conn, &row, now)?;
        audit(
            conn,
            actor,
            "clinic.updated",
            &row.name,
            &format!("time zone {}, send hour {}", row.time_zone, row.send_hour),
            now,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ClinicInput {
        ClinicInput {
            name: "Glow Clinic".into(),
            time_zone: "Europe/London".into(),
            send_hour: "9".into(),
            sender_email: "aftercare@glow.example".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_is_valid() {
        let row = validate(&input()).unwrap();
        assert_eq!(
            (row.time_zone.as_str(), row.send_hour),
            ("Europe/London", 9)
        );
    }

    #[test]
    fn unknown_zones_and_hours_are_field_errors() {
        let bad = ClinicInput {
            time_zone: "Mars/Olympus".into(),
            send_hour: "24".into(),
            ..input()
        };
        let Err(crate::error::AppError::Invalid(errors)) = validate(&bad) else {
            panic!("expected field errors")
        };
        assert!(errors.get("time_zone").is_some());
        assert!(errors.get("send_hour").is_some());
    }
}
