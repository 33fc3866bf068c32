//! Use cases for the clinic's own details.

use crate::words::counted;
use chrono::NaiveDateTime;

use crate::auth;
use crate::dates::Locale;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::fields;
use crate::usecases::sheet_inputs;
use crate::usecases::store::{self, clinic::RetentionRow, write_tx, DbConn};

pub use crate::documents::clinic::{
    default_emergency_number, emergency_number, tel_href, Clinic, Zone,
};

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
    #[serde(default)]
    pub emergency_number: String,
    /// Working days to answer a check-in that waits for a reply; empty is the default.
    #[serde(default)]
    pub reply_days: String,
    /// "en-GB" or "en-US"; empty is en-GB.
    #[serde(default)]
    pub locale: String,
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
            time_zone: c.time_zone.name().to_string(),
            send_hour: c.send_hour.to_string(),
            // The first migration's sender, `aftercare@localhost`, is neither an
            // address patients can reply to nor one the form accepts: until the
            // clinic is configured the form asks for a real one instead.
            sender_email: if c.configured {
                c.sender_email.clone()
            } else {
                String::new()
            },
            emergency_number: c.emergency_number.clone(),
            locale: c.locale.as_str().to_string(),
            reply_days: DEFAULT_REPLY_DAYS.to_string(),
        }
    }
}

/// The clinic settings form as saved: the details and the reply time.
pub fn form(conn: &mut DbConn) -> AppResult<ClinicInput> {
    let clinic = get(conn)?;
    Ok(ClinicInput {
        reply_days: reply_days(conn)?.to_string(),
        ..ClinicInput::from(&clinic)
    })
}

/// The reply time's default and limits, in working days (Monday to Friday).
pub const DEFAULT_REPLY_DAYS: i32 = 1;
pub const REPLY_DAYS: std::ops::RangeInclusive<i32> = 1..=10;

/// How many working days the clinic takes to answer a check-in that waits for a reply:
/// when one is not acknowledged by then, the clinic gets one reminder email.
/// How the clinic writes dates and times.
pub fn locale(conn: &mut DbConn) -> AppResult<Locale> {
    Locale::try_from(store::clinic::locale(conn)?)
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))
}

pub fn reply_days(conn: &mut DbConn) -> AppResult<i32> {
    Ok(store::clinic::reply_days(conn)?)
}

fn validate_reply_days(errors: &mut FieldErrors, text: &str) -> i32 {
    let text = text.trim();
    if text.is_empty() {
        return DEFAULT_REPLY_DAYS;
    }
    match text.parse::<i32>() {
        Ok(days) if REPLY_DAYS.contains(&days) => days,
        _ => {
            errors.add(
                "reply_days",
                format!(
                    "Enter a whole number of working days from {} to {}, like 1.",
                    REPLY_DAYS.start(),
                    REPLY_DAYS.end()
                ),
            );
            DEFAULT_REPLY_DAYS
        }
    }
}

/// Short numbers by the place they work in: its emergency numbers, then its other short health
/// and help lines. Only 3-digit numbers, the kind a patient dials from memory.
const SHORT_NUMBERS: &[(&str, &[&str])] = &[
    ("the UK", &["999", "112", "111", "101"]),
    ("the US and Canada", &["911", "988", "211", "311"]),
    ("Australia", &["000", "112"]),
    ("New Zealand", &["111", "112"]),
    ("the EU", &["112"]),
    ("Japan", &["119", "110"]),
    ("South Korea", &["119", "112"]),
    ("China", &["120", "110", "119"]),
    ("Singapore", &["995", "999"]),
    ("Hong Kong", &["999", "112"]),
    ("Malaysia", &["999", "112"]),
    ("Brazil", &["192", "190", "193"]),
];

/// The places where a short number works.
fn places_of(number: &str) -> Vec<&'static str> {
    SHORT_NUMBERS
        .iter()
        .filter(|(_, numbers)| numbers.contains(&number))
        .map(|(place, _)| *place)
        .collect()
}

/// The 3-digit numbers a text names on their own ("Call 111."), not the groups of a longer
/// phone number ("020 7946 0000").
fn short_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut digits = String::new();
    for (i, &ch) in chars.iter().enumerate() {
        // A space or hyphen between two digits joins the groups of one number.
        let joins = matches!(ch, ' ' | '-')
            && !digits.is_empty()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else if !joins {
            if digits.len() == 3 {
                numbers.push(digits.clone());
            }
            digits.clear();
        }
    }
    if digits.len() == 3 {
        numbers.push(digits);
    }
    numbers
}

/// Why an out-of-hours line does not fit the emergency number, if it names a short number
/// used only in other places than that number (review L13: a sheet said "Call 911" beside
/// "Out of hours: Call 111", a UK number that does not work in the US).
fn out_of_hours_mismatch(out_of_hours: &str, emergency: &str) -> Option<String> {
    let emergency_places = places_of(emergency);
    if emergency_places.is_empty() {
        return None;
    }
    short_numbers(out_of_hours).into_iter().find_map(|number| {
        let places = places_of(&number);
        let shared = places.iter().any(|p| emergency_places.contains(p));
        (!places.is_empty() && !shared).then(|| {
            format!(
                "This advice names {number}, a number for {}, but the emergency number {emergency} \
                 is for {}. Change one of them so both work where your patients are.",
                places.join(" or "),
                emergency_places.join(" or ")
            )
        })
    })
}

/// The zones most clinics pick, shown first in the picker, nearest first for
/// the UK and Irish clinics the app began with, then North America and
/// Australasia (a clinic decision: the picker's order, not a clinical fact).
pub const COMMON_TIME_ZONES: [&str; 18] = [
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Vancouver",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Perth",
    "Pacific/Auckland",
];

/// The picker's zones: the common ones, then every other IANA zone
/// alphabetically, each once.
pub struct ZoneChoices {
    pub common: Vec<&'static str>,
    pub others: Vec<&'static str>,
}

pub fn time_zone_choices() -> ZoneChoices {
    ZoneChoices {
        common: COMMON_TIME_ZONES.to_vec(),
        others: chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .filter(|name| !COMMON_TIME_ZONES.contains(name))
            .collect(),
    }
}

fn validate(input: &ClinicInput) -> AppResult<(Clinic, i32)> {
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
    let time_zone = Zone::try_from(input.time_zone.trim().to_string()).unwrap_or_else(|_| {
        errors.add(
            "time_zone",
            "Choose a time zone from the list, like Europe/London.",
        );
        Zone(chrono_tz::UTC)
    });
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
    let emergency_number =
        fields::single_line(&mut errors, "emergency_number", &input.emergency_number, 20);
    if !emergency_number
        .chars()
        .all(|ch| ch.is_ascii_digit() || matches!(ch, ' ' | '+' | '-'))
    {
        errors.add(
            "emergency_number",
            "Use digits only, like 999 or 112, or leave it empty to use the number for your time zone.",
        );
    }
    if errors.msg("emergency_number").is_empty() {
        let number = match emergency_number.trim() {
            "" => default_emergency_number(time_zone.name()),
            own => own,
        };
        if let Some(problem) = out_of_hours_mismatch(&out_of_hours, number) {
            errors.add("out_of_hours", problem);
        }
    }
    let reply_days = validate_reply_days(&mut errors, &input.reply_days);
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
    errors.into_result()?;
    let row = Clinic {
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
        emergency_number,
        locale,
    };
    Ok((row, reply_days))
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
    let (row, reply_days) = validate(input)?;
    write_tx(conn, |conn| {
        store::clinic::save(conn, &row, reply_days, now)?;
        audit(
            conn,
            actor,
            "clinic.updated",
            &row.name,
            &format!(
                "time zone {}, send hour {}, reply time {reply_days} working day(s)",
                row.time_zone, row.send_hour
            ),
            now,
        )
    })?;
    sheet_inputs::changed();
    Ok(())
}

// --- how long records are kept --------------------------------------------------

/// How long records are kept, in days; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The audit log, by the age of each entry.
    pub audit_retention_days: Option<i32>,
    /// Finished reminder emails, counted from their plan's last one.
    pub email_retention_days: Option<i32>,
    /// Check-in photos, by when the patient sent them.
    pub photo_retention_days: i32,
}

impl From<RetentionRow> for Retention {
    fn from(row: RetentionRow) -> Retention {
        Retention {
            audit_retention_days: row.audit_retention_days,
            email_retention_days: row.email_retention_days,
            photo_retention_days: row.photo_retention_days,
        }
    }
}

impl From<Retention> for RetentionRow {
    fn from(kept: Retention) -> RetentionRow {
        RetentionRow {
            audit_retention_days: kept.audit_retention_days,
            email_retention_days: kept.email_retention_days,
            photo_retention_days: kept.photo_retention_days,
        }
    }
}

/// The limits of each retention setting, in days.
pub const AUDIT_DAYS: std::ops::RangeInclusive<i32> = 365..=36_500;
pub const EMAIL_DAYS: std::ops::RangeInclusive<i32> = 30..=36_500;
pub const PHOTO_DAYS: std::ops::RangeInclusive<i32> = 1..=3_650;

/// The retention form as typed. Empty keeps the audit log or email records for ever.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RetentionInput {
    #[serde(default)]
    pub audit_retention_days: String,
    #[serde(default)]
    pub email_retention_days: String,
    #[serde(default)]
    pub photo_retention_days: String,
}

impl From<&Retention> for RetentionInput {
    fn from(r: &Retention) -> Self {
        let days = |d: Option<i32>| d.map(|d| d.to_string()).unwrap_or_default();
        RetentionInput {
            audit_retention_days: days(r.audit_retention_days),
            email_retention_days: days(r.email_retention_days),
            photo_retention_days: r.photo_retention_days.to_string(),
        }
    }
}

/// A number of days within `range`, or `None` for an empty field when `forever` allows it.
fn days_field(
    errors: &mut FieldErrors,
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<i32>,
    forever: bool,
) -> Option<i32> {
    let text = text.trim();
    if text.is_empty() && forever {
        return None;
    }
    match text.parse::<i32>() {
        Ok(days) if range.contains(&days) => Some(days),
        _ => {
            let keep = if forever {
                ", or leave it empty to keep them for ever"
            } else {
                ""
            };
            errors.add(
                field,
                format!(
                    "Enter a whole number of days from {} to {}{keep}.",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

fn validate_retention(input: &RetentionInput) -> AppResult<Retention> {
    let mut errors = FieldErrors::default();
    let audit = days_field(
        &mut errors,
        "audit_retention_days",
        &input.audit_retention_days,
        AUDIT_DAYS,
        true,
    );
    let email = days_field(
        &mut errors,
        "email_retention_days",
        &input.email_retention_days,
        EMAIL_DAYS,
        true,
    );
    let photos = days_field(
        &mut errors,
        "photo_retention_days",
        &input.photo_retention_days,
        PHOTO_DAYS,
        false,
    );
    errors.into_result()?;
    Ok(Retention {
        audit_retention_days: audit,
        email_retention_days: email,
        photo_retention_days: photos.expect("validated"),
    })
}

/// How long the audit log, email records and check-in photos are kept.
pub fn retention(conn: &mut DbConn) -> AppResult<Retention> {
    Ok(store::clinic::retention(conn)?.into())
}

#[tracing::instrument(skip_all)]
pub fn save_retention(
    conn: &mut DbConn,
    actor: &Actor,
    input: &RetentionInput,
    now: NaiveDateTime,
) -> AppResult<()> {
    let row = validate_retention(input)?;
    let days = |d: Option<i32>| d.map_or("for ever".to_string(), |d| counted(d, "day"));
    write_tx(conn, |conn| {
        store::clinic::save_retention(conn, &row.into(), now)?;
        audit(
            conn,
            actor,
            "retention.updated",
            "retention",
            &format!(
                "audit log {}, email records {}, photos {}",
                days(row.audit_retention_days),
                days(row.email_retention_days),
                days(Some(row.photo_retention_days))
            ),
            now,
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_phone_number_becomes_a_tel_link_of_its_digits() {
        use super::tel_href;
        assert_eq!(tel_href("020 7946 0000"), "tel:02079460000");
        assert_eq!(tel_href(" +44 (0)20 7946-0000 "), "tel:+442079460000");
        assert_eq!(tel_href("(310) 555-0100"), "tel:3105550100");
        assert_eq!(tel_href("+1 310 555 0100"), "tel:+13105550100");
    }

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
        let (row, reply_days) = validate(&input()).unwrap();
        assert_eq!((row.time_zone.name(), row.send_hour), ("Europe/London", 9));
        assert_eq!(reply_days, DEFAULT_REPLY_DAYS, "empty is the default");
    }

    #[test]
    fn the_emergency_number_defaults_by_time_zone_and_can_be_set() {
        assert_eq!(default_emergency_number("Europe/London"), "999");
        assert_eq!(default_emergency_number("America/New_York"), "911");
        assert_eq!(default_emergency_number("Australia/Sydney"), "000");
        assert_eq!(default_emergency_number("Europe/Paris"), "112");
        assert_eq!(default_emergency_number("Asia/Kolkata"), "112");
        let (mut row, _) = validate(&input()).unwrap();
        assert_eq!(emergency_number(&row), "999");
        row.emergency_number = "112".into();
        assert_eq!(emergency_number(&row), "112");
    }

    #[test]
    fn an_out_of_hours_line_must_fit_the_emergency_number() {
        assert_eq!(short_numbers("Call 111, or 020 7946 0000 (9-5)"), ["111"]);
        assert_eq!(short_numbers("NHS 111 or 999"), ["111", "999"]);
        let with = |out_of_hours: &str, number: &str, zone: &str| ClinicInput {
            out_of_hours: out_of_hours.into(),
            emergency_number: number.into(),
            time_zone: zone.into(),
            ..input()
        };
        // A UK line in the US, set or by the zone's default: refused beside the field.
        for bad in [
            with("Call 111.", "911", "Europe/London"),
            with("Call 111.", "", "America/New_York"),
            with("Ring 999 if it gets worse", "000", "Australia/Sydney"),
        ] {
            let Err(crate::error::AppError::Invalid(errors)) = validate(&bad) else {
                panic!(
                    "{:?} with {:?} was accepted",
                    bad.out_of_hours, bad.emergency_number
                )
            };
            assert!(errors.msg("out_of_hours").starts_with("This advice names"));
        }
        // Numbers of one place, 112 with a UK line, and numbers the app does not know, pass.
        for good in [
            with("Call NHS 111.", "", "Europe/London"),
            with("Call NHS 111.", "112", "Europe/London"),
            with(
                "Call 988 or our line 020 7946 0000",
                "911",
                "America/New_York",
            ),
            with(
                "Call the clinic's answering service.",
                "911",
                "America/New_York",
            ),
            with("Call 123.", "911", "America/New_York"),
        ] {
            assert!(validate(&good).is_ok(), "{:?}", good.out_of_hours);
        }
    }

    #[test]
    fn an_emergency_number_with_letters_is_a_field_error() {
        let bad = ClinicInput {
            emergency_number: "call 999".into(),
            ..input()
        };
        let Err(crate::error::AppError::Invalid(errors)) = validate(&bad) else {
            panic!("expected field errors")
        };
        assert!(errors.get("emergency_number").is_some());
        let good = ClinicInput {
            emergency_number: " 112 ".into(),
            ..input()
        };
        assert_eq!(validate(&good).unwrap().0.emergency_number, "112");
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
            time_zone: Zone(chrono_tz::Europe::London),
            send_hour: 9,
            sender_email: "aftercare@localhost".into(),
            configured: false,
            emergency_number: String::new(),
            locale: Default::default(),
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
    fn retention_is_a_number_of_days_in_range_or_for_ever_where_allowed() {
        let typed = |audit: &str, email: &str, photos: &str| RetentionInput {
            audit_retention_days: audit.into(),
            email_retention_days: email.into(),
            photo_retention_days: photos.into(),
        };
        let kept = validate_retention(&typed(" 2190 ", "", "90")).unwrap();
        assert_eq!(
            (
                kept.audit_retention_days,
                kept.email_retention_days,
                kept.photo_retention_days
            ),
            (Some(2190), None, 90)
        );
        let Err(crate::error::AppError::Invalid(errors)) =
            validate_retention(&typed("30", "ten", ""))
        else {
            panic!("expected field errors")
        };
        assert!(errors
            .msg("audit_retention_days")
            .contains("from 365 to 36500"));
        assert!(errors.msg("email_retention_days").contains("for ever"));
        assert!(errors
            .msg("photo_retention_days")
            .contains("from 1 to 3650"));
        assert!(!errors.msg("photo_retention_days").contains("for ever"));
    }

    #[test]
    fn the_reply_time_is_a_number_of_working_days_in_range() {
        for (typed, days) in [(" 2 ", 2), ("10", 10), ("", 1)] {
            let form = ClinicInput {
                reply_days: typed.into(),
                ..input()
            };
            assert_eq!(validate(&form).unwrap().1, days, "{typed:?}");
        }
        for typed in ["0", "11", "one", "1.5", "-1"] {
            let form = ClinicInput {
                reply_days: typed.into(),
                ..input()
            };
            let Err(crate::error::AppError::Invalid(errors)) = validate(&form) else {
                panic!("{typed:?} should be refused")
            };
            assert!(
                errors.msg("reply_days").contains("from 1 to 10"),
                "{typed:?}"
            );
        }
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
