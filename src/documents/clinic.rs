//! The clinic as its documents show it: name, contact lines, time zone, how dates read,
//! and the numbers a patient is told to call.

/// The clinic's IANA time zone, parsed once when the row is read: a zone the
/// database holds but chrono-tz does not know is an error, never UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(name: String) -> Result<Zone, String> {
        name.parse()
            .map(Zone)
            .map_err(|_| format!("unknown time zone {name:?}"))
    }
}

/// The clinic as one of its locations shows it on a sheet, an email or a page: the clinic's
/// name and how its dates read, with the location's contact lines, zone, send hour and sender.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Clinic {
    pub name: String,
    /// The location's name when the clinic has several (patients are told where they were
    /// treated); empty for a single-site clinic, whose documents name only the clinic.
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub location_id: i64,
    pub phone: String,
    /// The location's address for patients and staff: alerts go to it, and replies too
    /// unless `reply_to` names another.
    pub email: String,
    pub address: String,
    pub opening_hours: String,
    pub out_of_hours: String,
    pub time_zone: Zone,
    pub send_hour: i32,
    pub sender_email: String,
    /// Where patients' replies go; empty: `email`.
    #[serde(default)]
    pub reply_to: String,
    /// Working days the location takes to answer a check-in that waits for a reply.
    #[serde(default = "one_day")]
    pub reply_days: i32,
    pub configured: bool,
    /// Empty: the number for the clinic's time zone (see [`emergency_number`]).
    pub emergency_number: String,
    /// How its dates and times read (older copies of this row, as JSON, lack it: en-GB).
    #[serde(default)]
    pub locale: crate::dates::Locale,
}

fn one_day() -> i32 {
    1
}

impl Clinic {
    /// The clinic's time zone (parsed once, when the row was read).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.tz()
    }

    /// The name patients know the place by: "Glow Clinic, Soho" when the clinic has several
    /// locations, else the clinic's name (also when a location is named as the clinic is, as
    /// the first one is after an upgrade).
    pub fn display_name(&self) -> String {
        match self.location.trim() {
            site if site.is_empty() || site.eq_ignore_ascii_case(self.name.trim()) => {
                self.name.clone()
            }
            site => format!("{}, {site}", self.name),
        }
    }

    /// Where patients' replies to an email go, if anywhere.
    pub fn reply_address(&self) -> Option<&str> {
        [self.reply_to.as_str(), self.email.as_str()]
            .into_iter()
            .find(|a| !a.is_empty())
    }

    /// The clinic's phone as a link a patient taps to call.
    pub fn phone_href(&self) -> String {
        tel_href(&self.phone)
    }
}

/// A `tel:` link for a number as people write it: its digits, and a leading `+` (RFC 3966
/// has no room for the spaces and brackets of "+44 (0)20 7946 0000"; the "(0)" of a UK
/// number written for callers abroad is dropped, since it is never dialled after +44).
pub fn tel_href(number: &str) -> String {
    let number = number.trim();
    let international = number.starts_with('+');
    let number = if international {
        number.replacen("(0)", "", 1)
    } else {
        number.to_string()
    };
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!("tel:{}{digits}", if international { "+" } else { "" })
}

/// The number patients call for an emergency (the red flags' first group): the clinic's own
/// setting, or else the usual number where the clinic's time zone is.
pub fn emergency_number(clinic: &Clinic) -> String {
    match clinic.emergency_number.trim() {
        "" => default_emergency_number(clinic.time_zone.name()).to_string(),
        own => own.to_string(),
    }
}

/// The emergency number by time zone, for the places a clinic is most likely to be. A zone
/// names a region, not a country, so this is only a default: the clinic settings form shows it
/// and lets an admin set the right one. 112 reaches emergency services from any mobile phone in
/// the EU and many other countries, hence the fallback.
pub fn default_emergency_number(time_zone: &str) -> &'static str {
    const BY_ZONE: &[(&str, &str)] = &[
        ("Europe/London", "999"),
        ("Europe/Belfast", "999"),
        ("Europe/Guernsey", "999"),
        ("Europe/Jersey", "999"),
        ("Europe/Isle_of_Man", "999"),
        ("Asia/Hong_Kong", "999"),
        ("Asia/Kuala_Lumpur", "999"),
        ("Asia/Singapore", "995"),
        ("Asia/Tokyo", "119"),
        ("Asia/Seoul", "119"),
        ("Asia/Shanghai", "120"),
        ("Pacific/Auckland", "111"),
        ("Pacific/Chatham", "111"),
        ("Pacific/Honolulu", "911"),
        ("America/Sao_Paulo", "192"),
    ];
    const BY_REGION: &[(&str, &str)] = &[
        ("America/", "911"),
        ("US/", "911"),
        ("Canada/", "911"),
        ("Australia/", "000"),
    ];
    BY_ZONE
        .iter()
        .find(|(zone, _)| *zone == time_zone)
        .or_else(|| {
            BY_REGION
                .iter()
                .find(|(region, _)| time_zone.starts_with(region))
        })
        .map_or("112", |(_, number)| number)
}

#[cfg(test)]
mod tests {
    use crate::documents::sheet::fixture;

    #[test]
    fn a_location_is_named_after_the_clinic_only_when_it_adds_something() {
        let at = |site: &str| super::Clinic {
            location: site.into(),
            ..fixture::clinic()
        };
        assert_eq!(at("").display_name(), "Glow Clinic");
        assert_eq!(at("Soho").display_name(), "Glow Clinic, Soho");
        // The first location after an upgrade carries the clinic's own name.
        assert_eq!(at(" glow clinic ").display_name(), "Glow Clinic");
    }

    #[test]
    fn replies_go_to_the_reply_to_else_the_locations_email() {
        let with = |reply_to: &str, email: &str| super::Clinic {
            reply_to: reply_to.into(),
            email: email.into(),
            ..fixture::clinic()
        };
        assert_eq!(with("", "").reply_address(), None);
        assert_eq!(
            with("", "front@x.example").reply_address(),
            Some("front@x.example")
        );
        assert_eq!(
            with("care@x.example", "front@x.example").reply_address(),
            Some("care@x.example")
        );
    }
}
