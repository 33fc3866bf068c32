//! A location's contact lines, zone, send hour and sender, as its form sets them: checked
//! field by field, with the emergency number and the out-of-hours advice made to agree.

use crate::auth;
use crate::error::FieldErrors;
use crate::usecases::fields;

pub use crate::documents::clinic::{default_emergency_number, Clinic, Zone};

/// A location's details as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SiteInput {
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
    /// Where replies go; empty: the location's email.
    #[serde(default)]
    pub reply_to: String,
    #[serde(default)]
    pub emergency_number: String,
    /// Working days to answer a check-in that waits for a reply; empty is the default.
    #[serde(default)]
    pub reply_days: String,
}

impl From<&Clinic> for SiteInput {
    fn from(c: &Clinic) -> Self {
        SiteInput {
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
            reply_to: c.reply_to.clone(),
            emergency_number: c.emergency_number.clone(),
            reply_days: c.reply_days.to_string(),
        }
    }
}

/// A location's details, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub phone: String,
    pub email: String,
    pub address: String,
    pub opening_hours: String,
    pub out_of_hours: String,
    pub time_zone: Zone,
    pub send_hour: i32,
    pub sender_email: String,
    pub reply_to: String,
    pub emergency_number: String,
    pub reply_days: i32,
}

/// The reply time's default and limits, in working days (Monday to Friday).
pub const DEFAULT_REPLY_DAYS: i32 = 1;
pub const REPLY_DAYS: std::ops::RangeInclusive<i32> = 1..=10;

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

/// Checks a location's details, adding each problem to `errors` beside its field.
pub fn validate(errors: &mut FieldErrors, input: &SiteInput) -> Site {
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
    let reply_to = auth::normalize_email(&input.reply_to);
    if !reply_to.is_empty() && !fields::is_sendable_email(&reply_to) {
        errors.add(
            "reply_to",
            "Enter the address replies should go to, like hello@clinic.com, or leave it empty.",
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
    let phone = fields::single_line(errors, "phone", &input.phone, 60);
    let opening_hours = fields::single_line(errors, "opening_hours", &input.opening_hours, 300);
    let address = fields::multi_line(errors, "address", &input.address, 500);
    let out_of_hours = fields::multi_line(errors, "out_of_hours", &input.out_of_hours, 500);
    let emergency_number =
        fields::single_line(errors, "emergency_number", &input.emergency_number, 20);
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
    let reply_days = validate_reply_days(errors, &input.reply_days);
    Site {
        phone,
        email,
        address,
        opening_hours,
        out_of_hours,
        time_zone,
        send_hour,
        sender_email,
        reply_to,
        emergency_number,
        reply_days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::clinic::{emergency_number, tel_href};
    use crate::error::AppResult;

    #[test]
    fn a_phone_number_becomes_a_tel_link_of_its_digits() {
        assert_eq!(tel_href("020 7946 0000"), "tel:02079460000");
        assert_eq!(tel_href(" +44 (0)20 7946-0000 "), "tel:+442079460000");
        assert_eq!(tel_href("(310) 555-0100"), "tel:3105550100");
        assert_eq!(tel_href("+1 310 555 0100"), "tel:+13105550100");
    }

    /// The details checked, or the field errors.
    fn check(input: &SiteInput) -> AppResult<Site> {
        let mut errors = FieldErrors::default();
        let site = super::validate(&mut errors, input);
        errors.into_result().map(|()| site)
    }

    fn input() -> SiteInput {
        SiteInput {
            time_zone: "Europe/London".into(),
            send_hour: "9".into(),
            sender_email: "aftercare@glow.example".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_is_valid() {
        let site = check(&input()).unwrap();
        assert_eq!(
            (site.time_zone.name(), site.send_hour),
            ("Europe/London", 9)
        );
        assert_eq!(site.reply_days, DEFAULT_REPLY_DAYS, "empty is the default");
    }

    #[test]
    fn the_emergency_number_defaults_by_time_zone_and_can_be_set() {
        assert_eq!(default_emergency_number("Europe/London"), "999");
        assert_eq!(default_emergency_number("America/New_York"), "911");
        assert_eq!(default_emergency_number("Australia/Sydney"), "000");
        assert_eq!(default_emergency_number("Europe/Paris"), "112");
        assert_eq!(default_emergency_number("Asia/Kolkata"), "112");
        let site = check(&input()).unwrap();
        let mut clinic = crate::documents::clinic::Clinic {
            time_zone: site.time_zone,
            emergency_number: site.emergency_number,
            ..crate::documents::sheet::fixture::clinic()
        };
        assert_eq!(emergency_number(&clinic), "999");
        clinic.emergency_number = "112".into();
        assert_eq!(emergency_number(&clinic), "112");
    }

    #[test]
    fn an_out_of_hours_line_must_fit_the_emergency_number() {
        assert_eq!(short_numbers("Call 111, or 020 7946 0000 (9-5)"), ["111"]);
        assert_eq!(short_numbers("NHS 111 or 999"), ["111", "999"]);
        let with = |out_of_hours: &str, number: &str, zone: &str| SiteInput {
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
            let Err(crate::error::AppError::Invalid(errors)) = check(&bad) else {
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
            assert!(check(&good).is_ok(), "{:?}", good.out_of_hours);
        }
    }

    #[test]
    fn an_emergency_number_with_letters_is_a_field_error() {
        let bad = SiteInput {
            emergency_number: "call 999".into(),
            ..input()
        };
        let Err(crate::error::AppError::Invalid(errors)) = check(&bad) else {
            panic!("expected field errors")
        };
        assert!(errors.get("emergency_number").is_some());
        let good = SiteInput {
            emergency_number: " 112 ".into(),
            ..input()
        };
        assert_eq!(check(&good).unwrap().emergency_number, "112");
    }

    #[test]
    fn the_first_form_offers_no_sender_but_keeps_a_configured_one() {
        // As the first migration leaves the clinic row.
        let fresh = Clinic {
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            opening_hours: String::new(),
            out_of_hours: "If you are worried out of hours, call your local urgent care line."
                .into(),
            sender_email: "aftercare@localhost".into(),
            configured: false,
            ..crate::documents::sheet::fixture::clinic()
        };
        let offered = SiteInput::from(&fresh);
        assert_eq!(offered.sender_email, "");
        let typed = SiteInput {
            sender_email: "aftercare@glow.example".into(),
            ..offered
        };
        assert!(check(&typed).is_ok(), "everything else offered is valid");

        let configured = Clinic {
            configured: true,
            sender_email: "hello@glow.example".into(),
            ..fresh
        };
        assert_eq!(
            SiteInput::from(&configured).sender_email,
            "hello@glow.example"
        );
    }

    #[test]
    fn the_reply_time_is_a_number_of_working_days_in_range() {
        for (typed, days) in [(" 2 ", 2), ("10", 10), ("", 1)] {
            let form = SiteInput {
                reply_days: typed.into(),
                ..input()
            };
            assert_eq!(check(&form).unwrap().reply_days, days, "{typed:?}");
        }
        for typed in ["0", "11", "one", "1.5", "-1"] {
            let form = SiteInput {
                reply_days: typed.into(),
                ..input()
            };
            let Err(crate::error::AppError::Invalid(errors)) = check(&form) else {
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
        let bad = SiteInput {
            time_zone: "Mars/Olympus".into(),
            send_hour: "24".into(),
            ..input()
        };
        let Err(crate::error::AppError::Invalid(errors)) = check(&bad) else {
            panic!("expected field errors")
        };
        assert!(errors.get("time_zone").is_some());
        assert!(errors.get("send_hour").is_some());
    }
}
