//! Use cases for the clinic's own details.

use chrono::NaiveDateTime;

use crate::accounts::{audit, Actor};
use crate::auth;
use crate::error::{AppResult, FieldErrors};
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
            // The first migration's sender, `aftercare@localhost`, is neither an
            // address patients can reply to nor one the form accepts: until the
            // clinic is configured the form asks for a real one instead.
            sender_email: if c.configured {
                c.sender_email.clone()
            } else {
                String::new()
            },
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
    let text = |s: &str| s.trim().to_string();
    let name = text(&input.name);
    if name.is_empty() {
        errors.add("name", "Enter the clinic's name as patients know it.");
    }
    let email = auth::normalize_email(&input.email);
    if !email.is_empty() && !auth::is_plausible_email(&email) {
        errors.add(
            "email",
            "Enter an email address like hello@clinic.com, or leave it empty.",
        );
    }
    let sender_email = auth::normalize_email(&input.sender_email);
    if !auth::is_plausible_email(&sender_email) {
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
    for (field, value) in [
        ("phone", &input.phone),
        ("address", &input.address),
        ("opening_hours", &input.opening_hours),
        ("out_of_hours", &input.out_of_hours),
    ] {
        if value.chars().count() > 500 {
            errors.add(field, "Use at most 500 characters.");
        }
    }
    errors.into_result()?;
    Ok(ClinicRow {
        name,
        phone: text(&input.phone),
        email,
        address: text(&input.address),
        opening_hours: text(&input.opening_hours),
        out_of_hours: text(&input.out_of_hours),
        time_zone,
        send_hour,
        sender_email,
        configured: true,
    })
}

#[tracing::instrument(skip_all)]
pub fn get(conn: &mut DbConn) -> AppResult<Clinic> {
    Ok(store::clinic::get(conn)?)
}

#[tracing::instrument(skip_all)]
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
    fn the_first_form_offers_no_sender_but_keeps_a_configured_one() {
        // As the first migration leaves the clinic row.
        let fresh = Clinic {
            name: "Our clinic".into(),
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            opening_hours: String::new(),
            out_of_hours: "If you are worried out of hours, call your local urgent care line."
                .into(),
            time_zone: "Europe/London".into(),
            send_hour: 9,
            sender_email: "aftercare@localhost".into(),
            configured: false,
        };
        let offered = ClinicInput::from(&fresh);
        assert_eq!(offered.sender_email, "");
        let typed = ClinicInput {
            sender_email: "aftercare@glow.example".into(),
            ..offered
        };
        assert!(validate(&typed).is_ok(), "everything else offered is valid");

        let configured = Clinic {
            configured: true,
            sender_email: "hello@glow.example".into(),
            ..fresh
        };
        assert_eq!(
            ClinicInput::from(&configured).sender_email,
            "hello@glow.example"
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
