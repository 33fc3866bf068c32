//! The aftercare sheet as people read it: the stored plan, formatted with
//! real weekdays and dates. Pure formatting; the same view feeds the printed
//! sheet and the patient's online copy.

use askama::Template;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use crate::care::protocol::{format_mm, EMERGENCY_NUMBER};
use crate::care::{ClockChange, Plan, RedFlagGroup};
use crate::dates::{iso_utc, Locale};
use crate::documents::clinic::{self, Clinic};

pub struct Sheet {
    pub clinic: Clinic,
    pub patient_name: String,
    pub treated_on: String,
    pub areas: Vec<String>,
    pub band: String,
    pub phases: Vec<SheetPhase>,
    pub actives: Vec<SheetActive>,
    pub area_notes: Vec<(String, Vec<String>)>,
    /// Empty for plans made before the Tonight list existed (protocol version 1).
    pub tonight: Vec<String>,
    /// "What is normal"; empty for version 1 plans.
    pub normal: Vec<String>,
    /// ("Thu 4 Jun, 10:00", its instant in RFC 3339 UTC, items): what to avoid until then.
    /// Shown once here rather than in every phase it covers, which keeps the printed sheet short.
    pub avoid_until: Vec<(String, String, Vec<String>)>,
    /// The treatment's date and the clinic's zone, for the online sheet's day count.
    pub treated_date: String,
    pub time_zone: String,
    /// Why times after a clock change read shifted (see [`clock_notes`]).
    pub clock_notes: Vec<String>,
    /// Version 1 plans: one list of red flags.
    pub red_flags_intro: String,
    pub red_flags: Vec<String>,
    /// Later plans: red flags by urgency, with the clinic's emergency number filled in.
    pub red_flag_groups: Vec<FlagGroup>,
    /// "This plan supports, and does not replace, …"; empty for version 1 plans.
    pub disclaimer: String,
    pub next_session: String,
    pub next_session_note: String,
    /// The patient's own link to this sheet online.
    pub online_url: String,
    pub protocol: String,
    /// The link as a QR code (inline SVG), beside it on paper; empty for the
    /// sheet as version 1 printed it (see [`with_handover`]).
    pub qr_svg: String,
    /// The calendar files (.ics) for the next-session window and the actives.
    pub next_session_ics: Option<String>,
    pub actives_ics: Option<String>,
    /// "From your practitioner"; empty when there is none.
    pub patient_note: String,
    /// Add-on and consideration notes: (label, notes).
    pub session_notes: Vec<(String, Vec<String>)>,
    /// Texts marked "Adjusted for you": changed restrictions' items and active names, and the
    /// items that add-ons and considerations added.
    pub adjusted: Vec<String>,
}

/// What the sheet adds to hand it over: the QR code of its link, and its
/// calendar files.
pub fn with_handover(mut sheet: Sheet) -> Sheet {
    sheet.qr_svg = qr_svg(&sheet.online_url);
    sheet.next_session_ics = Some(super::calendar::next_session_url(&sheet.online_url));
    if !sheet.actives.is_empty() {
        sheet.actives_ics = Some(super::calendar::actives_url(&sheet.online_url));
    }
    sheet
}

/// The link as a QR code, inline SVG without the XML declaration. Medium error
/// correction survives a folded or smudged sheet; a link too long to encode
/// (it never is: about 80 characters) gives no code rather than an error.
pub fn qr_svg(url: &str) -> String {
    use qrcode::render::svg;
    let Ok(code) = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M) else {
        return String::new();
    };
    let svg = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .min_dimensions(96, 96)
        .build();
    match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    }
}

impl Sheet {
    /// Whether this text gets the "Adjusted for you" mark.
    pub fn marked(&self, text: &str) -> bool {
        self.adjusted.iter().any(|a| a == text)
    }
    /// Whether any text of a list gets the mark (a timed list is adjusted as a whole).
    pub fn marked_list(&self, texts: &[String]) -> bool {
        texts.iter().any(|t| self.marked(t))
    }
}

/// The texts an adjusted plan marks "Adjusted for you", shared by the sheet and the emails.
pub fn adjusted_texts(plan: &Plan) -> Vec<String> {
    let mut texts = plan.added_items.clone();
    for a in &plan.adjusted {
        if a.items.is_empty() {
            texts.push(a.label.clone());
        } else {
            texts.extend(a.items.iter().cloned());
        }
    }
    texts
}

pub struct SheetPhase {
    pub name: String,
    pub when: String,
    /// When it starts and ends (RFC 3339, UTC): the online sheet finds today's phase by them.
    pub starts: String,
    pub ends: String,
    pub skin: String,
    pub do_items: Vec<String>,
    pub avoid_items: Vec<String>,
}

/// A group of red flags as shown: `urgency` is the group's id, used as a style hook.
pub struct FlagGroup {
    pub urgency: &'static str,
    pub title: String,
    pub items: Vec<String>,
}

/// Red-flag groups with the clinic's emergency number in their titles; shared by the sheet and
/// the emails.
pub fn flag_groups(groups: &[RedFlagGroup], clinic: &Clinic) -> Vec<FlagGroup> {
    let number = clinic::emergency_number(clinic);
    groups
        .iter()
        .map(|g| FlagGroup {
            urgency: g.urgency.id(),
            title: g.title.replace(EMERGENCY_NUMBER, &number),
            items: g.items.clone(),
        })
        .collect()
}

/// The sheet's body alone (the part both the staff and the patient pages include), for tests
/// and snapshots.
#[derive(Template)]
#[template(path = "sheet/_body.html")]
pub struct SheetBody<'a> {
    pub sheet: &'a Sheet,
}

pub struct SheetActive {
    pub name: String,
    pub from: String,
    pub how: String,
}

/// Whether the sheet shows a phase's times, not only its days: short phases only.
fn shows_times(start: NaiveDateTime, end: NaiveDateTime) -> bool {
    end - start <= Duration::hours(48)
}

/// Short phases show times; longer ones show the days.
fn phase_span(start: NaiveDateTime, end: NaiveDateTime, l: Locale) -> String {
    if shows_times(start, end) {
        if start.date() == end.date() {
            format!("{} – {}", l.short_moment(start), l.time(end))
        } else {
            format!("{} – {}", l.short_moment(start), l.short_moment(end))
        }
    } else {
        format!(
            "{} – {}",
            l.short_date(start.date()),
            l.short_date(end.date())
        )
    }
}

/// The clock changes a reader can see (review L9): those before a time the sheet shows (a short
/// phase's start or end, or an "Avoid for the first days" end), as (when the clocks changed,
/// a short note saying why the times after it read shifted). Shared by the sheet and emails.
pub fn clock_notes(plan: &Plan, l: Locale) -> Vec<(DateTime<Utc>, String)> {
    let timed = plan
        .phases
        .iter()
        .filter(|p| shows_times(p.starts_at.local, p.ends_at.local))
        .flat_map(|p| [p.starts_at.utc, p.ends_at.utc])
        .chain(plan.avoid_until.iter().map(|a| a.until.utc));
    let last_timed = timed.max();
    plan.clock_changes
        .iter()
        .filter(|c| last_timed.is_some_and(|last| c.at.utc < last))
        .map(|c| (c.at.utc, clock_note(c, l)))
        .collect()
}

fn clock_note(change: &ClockChange, l: Locale) -> String {
    let (way, shift) = if change.minutes > 0 {
        ("forward", "later")
    } else {
        ("back", "earlier")
    };
    let amount = match change.minutes.abs() {
        60 => "an hour".to_string(),
        30 => "half an hour".to_string(),
        minutes => crate::words::counted(minutes, "minute"),
    };
    format!(
        "{}: the clocks go {way} {amount}, so the times after that read {amount} {shift}. \
         Each stage still lasts just as long.",
        l.short_date(change.at.local.date())
    )
}

pub fn build(plan: &Plan, clinic: &Clinic, patient_name: &str, online_url: String) -> Sheet {
    let l = clinic.locale;
    Sheet {
        clinic: clinic.clone(),
        patient_name: patient_name.to_string(),
        treated_on: format!(
            "{} at {}",
            l.long_date(plan.treated_at.local),
            l.time(plan.treated_at.local)
        ),
        areas: plan
            .areas
            .iter()
            .map(|a| format!("{} ({} mm)", a.label, format_mm(a.depth_mm)))
            .collect(),
        band: plan.band.label.clone(),
        phases: plan
            .phases
            .iter()
            .map(|p| SheetPhase {
                name: p.name.clone(),
                when: phase_span(p.starts_at.local, p.ends_at.local, l),
                starts: iso_utc(p.starts_at.utc),
                ends: iso_utc(p.ends_at.utc),
                skin: p.skin.clone(),
                do_items: p.do_items.clone(),
                avoid_items: p
                    .avoid_items
                    .iter()
                    .filter(|i| !plan.avoid_until.iter().any(|a| a.items.contains(i)))
                    .cloned()
                    .collect(),
            })
            .collect(),
        avoid_until: plan
            .avoid_until
            .iter()
            .map(|a| {
                let label = l.short_moment(a.until.local);
                (label, iso_utc(a.until.utc), a.items.clone())
            })
            .collect(),
        treated_date: plan.treated_at.local.date().to_string(),
        time_zone: plan.time_zone.name().to_string(),
        clock_notes: clock_notes(plan, l)
            .into_iter()
            .map(|(_, note)| note)
            .collect(),
        actives: plan
            .actives
            .iter()
            .map(|a| SheetActive {
                name: a.name.clone(),
                from: l.long_date(a.from),
                how: a.how.clone(),
            })
            .collect(),
        area_notes: plan
            .area_notes
            .iter()
            .map(|n| (n.label.clone(), n.notes.clone()))
            .collect(),
        tonight: plan.tonight.clone(),
        normal: plan.normal_texts(),
        red_flags_intro: plan.red_flags.intro.clone(),
        red_flags: plan.red_flags.items.clone(),
        red_flag_groups: flag_groups(&plan.red_flags.groups, clinic),
        disclaimer: plan.disclaimer.clone(),
        next_session: format!(
            "between {} and {}",
            l.long_date(plan.next_session.from),
            l.long_date(plan.next_session.to)
        ),
        next_session_note: plan.next_session.note.clone(),
        online_url,
        protocol: format!("{} v{}", plan.protocol_name, plan.protocol_version),
        qr_svg: String::new(),
        next_session_ics: None,
        actives_ics: None,
        patient_note: plan.tailoring.patient_note.clone(),
        session_notes: plan
            .session_notes
            .iter()
            .map(|n| (n.label.clone(), n.notes.clone()))
            .collect(),
        adjusted: adjusted_texts(plan),
    }
}

/// The clinic, patient and links the version 1 fixtures (tests/fixtures/v1) were rendered with.
#[cfg(test)]
pub(crate) mod fixture {
    use super::Clinic;

    pub const PATIENT: &str = "Maya Patel";
    pub const SHEET_URL: &str = "https://clinic.example/s/TOKEN";
    pub const UNSUBSCRIBE_URL: &str = "https://clinic.example/u/TOKEN";

    pub fn clinic() -> Clinic {
        Clinic {
            name: "Glow Clinic".into(),
            location: String::new(),
            location_id: 1,
            reply_to: String::new(),
            reply_days: 1,
            phone: "020 7946 0000".into(),
            email: "hello@glow.example".into(),
            address: "1 High Street, London".into(),
            opening_hours: "Mon–Fri 9–6".into(),
            out_of_hours: "Call 111.".into(),
            time_zone: crate::documents::clinic::Zone(chrono_tz::Europe::London),
            send_hour: 9,
            sender_email: "aftercare@glow.example".into(),
            configured: true,
            emergency_number: String::new(),
            locale: Default::default(),
        }
    }

    /// A plan stored under protocol version 1, and its sheet as version 1 rendered it.
    pub fn v1(name: &str) -> (crate::care::Plan, String) {
        let read = |ext: &str| {
            let path = format!(
                "{}/tests/fixtures/v1/plan-v1-{name}.{ext}",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let plan = serde_json::from_str(&read("json")).unwrap();
        (plan, read("sheet.html"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::care::{compute_plan, Protocol, TreatedArea, TreatmentInput};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn render(plan: &Plan, clinic: &Clinic) -> String {
        let sheet = build(
            plan,
            clinic,
            fixture::PATIENT,
            fixture::SHEET_URL.to_string(),
        );
        SheetBody { sheet: &sheet }.render().unwrap()
    }

    fn ten_am_plan() -> Plan {
        let input = TreatmentInput {
            tailoring: Default::default(),
            areas: vec![TreatedArea {
                area_id: "cheeks".into(),
                depth_mm: 1.0,
            }],
            treated_at: at("2026-06-01 10:00"),
            time_zone: "Europe/London".into(),
            send_hour: 9,
        };
        compute_plan(&Protocol::default_protocol(), &input).unwrap()
    }

    #[test]
    fn phase_spans_read_naturally() {
        assert_eq!(
            phase_span(at("2026-11-24 14:30"), at("2026-11-24 20:30"), Locale::EnGb),
            "Tue 24 Nov, 14:30 – 20:30"
        );
        assert_eq!(
            phase_span(at("2026-11-24 14:30"), at("2026-11-25 14:30"), Locale::EnGb),
            "Tue 24 Nov, 14:30 – Wed 25 Nov, 14:30"
        );
        assert_eq!(
            phase_span(at("2026-11-27 14:30"), at("2026-12-01 14:30"), Locale::EnGb),
            "Fri 27 Nov – Tue 1 Dec"
        );
    }

    #[test]
    fn a_sheet_made_under_version_1_reprints_byte_for_byte() {
        for name in ["standard", "abdomen"] {
            let (plan, printed) = fixture::v1(name);
            assert_eq!(render(&plan, &fixture::clinic()), printed, "{name}");
        }
    }

    #[test]
    fn a_morning_treatments_sheet_has_the_tonight_list_what_is_normal_and_the_version() {
        let html = render(&ten_am_plan(), &fixture::clinic());
        for part in [
            "<h2 id=\"tonight-h\">Tonight</h2>",
            "<li>Sleep on a clean pillowcase.</li>",
            "<h2 id=\"normal-h\">What is normal</h2>",
            "<li>Redness and warmth, like a mild sunburn. It should fade by the end of day 2.</li>",
            "Aftercare microneedling protocol v4.",
            "This plan supports your practitioner&#39;s advice. It does not replace it.",
        ] {
            assert!(html.contains(part), "missing {part:?}");
        }
    }

    #[test]
    fn timed_avoid_lists_show_once_with_their_end_not_in_every_phase() {
        let plan = ten_am_plan();
        let html = render(&plan, &fixture::clinic());
        // Standard band: heat and sweat until 72 h after 10:00 on 1 June.
        assert!(html.contains(
            "<p data-until=\"2026-06-04T09:00:00Z\"><strong>Until Thu 4 Jun, 10:00:</strong> Hot showers, saunas and steam rooms."
        ));
        assert_eq!(
            html.matches("Hot showers, saunas and steam rooms.").count(),
            1
        );
        // The plan's phases still carry them, for the emails of those days.
        assert!(plan.phases[2]
            .avoid_items
            .contains(&"Hot showers, saunas and steam rooms.".to_string()));
    }

    #[test]
    fn the_emergency_red_flags_carry_the_clinics_number() {
        let plan = ten_am_plan();
        let html = render(&plan, &fixture::clinic());
        assert!(html.contains("Call 999 straight away if you have:"));
        let abroad = Clinic {
            time_zone: crate::documents::clinic::Zone(chrono_tz::Europe::Paris),
            ..fixture::clinic()
        };
        assert!(render(&plan, &abroad).contains("Call 112 straight away if you have:"));
        let own = Clinic {
            emergency_number: "911".into(),
            ..fixture::clinic()
        };
        let html = render(&plan, &own);
        assert!(html.contains("Call 911 straight away if you have:"));
        assert!(!html.contains("{emergency_number}"));
    }
}
