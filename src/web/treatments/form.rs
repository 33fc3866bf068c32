//! The treatment form: a new treatment recorded (and, if asked, its sheet sent or printed at
//! once), a treatment edited, and the form shown again as typed with each error beside its
//! field.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::send::sent_message;
use crate::care::Protocol;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::clinic::Clinic;
use crate::usecases::patients::{self, Patient};
use crate::usecases::treatments::{self, TreatmentForm};
use crate::web::csrf::CsrfForm;
use crate::web::flash::{redirect_with_flash, FlashKind};
use crate::web::page::PageCtx;
use crate::web::session::{Auth, Clinicians};
use crate::web::{client_ip, render, render_invalid, treatment_form, AppState};

/// An area the form offers, with its usual depth range for the warning typed depths get
/// (static/app.js; the server confirms it either way).
struct AreaChoice {
    id: String,
    label: String,
    usual: Option<(String, String)>,
}

fn area_choices(protocol: &Protocol) -> Vec<AreaChoice> {
    let mm = crate::care::protocol::format_mm;
    protocol
        .areas()
        .iter()
        .map(|a| AreaChoice {
            id: a.id.clone(),
            label: a.label.clone(),
            usual: a.typical_mm.map(|[low, high]| (mm(low), mm(high))),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "treatments/form.html")]
struct FormPage {
    ctx: PageCtx,
    patient: Patient,
    /// The form's depths outside their areas' usual range ("" when none): the value of the
    /// "Yes, this depth is right" box.
    unusual: String,
    /// `None` when recording a new treatment.
    treatment_id: Option<i64>,
    form: TreatmentForm,
    errors: FieldErrors,
    areas: Vec<AreaChoice>,
    time_zone: String,
    tailor: TailorChoices,
    /// Where a new treatment may be recorded: a choice on the form only when there are several.
    locations: Vec<Clinic>,
}

/// What the "Adjust for this session" section offers, from the protocol.
struct TailorChoices {
    adjust: Vec<AdjustRow>,
    add_ons: Vec<(String, String)>,
    considerations: Vec<(String, String)>,
}

struct AdjustRow {
    /// The form field, `adjust_<key>`.
    field: String,
    key: String,
    label: String,
    unit: &'static str,
    /// "Default 72 hours; choose 48 to 168." (every band's when the areas are not known yet)
    hint: String,
}

/// A length as the form's hints give it: hours over three days also in days ("168 hours
/// (7 days)"), which is how practitioners think of them.
fn amount(value: u32, unit: &str) -> String {
    match (unit, value) {
        ("hours", v) if v > 72 && v % 24 == 0 => format!("{v} hours ({} days)", v / 24),
        ("hours", v) if v > 72 => format!("{v} hours (about {:.1} days)", f64::from(v) / 24.0),
        (unit, v) => format!("{v} {unit}"),
    }
}

/// The choices, with defaults computed for the areas typed so far.
fn tailor_choices(protocol: &Protocol, form: &TreatmentForm) -> TailorChoices {
    let areas: Vec<crate::care::TreatedArea> = form
        .rows
        .iter()
        .filter_map(|r| {
            let depth = r.depth.replace(',', ".").parse::<f64>().ok()?;
            Some(crate::care::TreatedArea {
                area_id: r.area.clone(),
                depth_mm: depth,
            })
        })
        .collect();
    let adjust = crate::care::adjustables(protocol, &areas)
        .into_iter()
        .map(|a| {
            let n = |v: u32| amount(v, a.unit.as_str());
            let hint = match a.ranges.as_slice() {
                [(_, default, min, max)] => {
                    format!(
                        "Default {}; choose {} to {}.",
                        n(*default),
                        n(*min),
                        n(*max)
                    )
                }
                ranges => {
                    ranges
                        .iter()
                        .map(|(band, default, min, max)| {
                            format!(
                                "{band}: default {}, {} to {}",
                                n(*default),
                                n(*min),
                                n(*max)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(". ")
                        + "."
                }
            };
            AdjustRow {
                field: format!("adjust_{}", a.key),
                key: a.key,
                label: a.label,
                unit: a.unit.as_str(),
                hint,
            }
        })
        .collect();
    let pairs = |list: &[crate::care::protocol::Tailor]| {
        list.iter()
            .map(|t| (t.id.clone(), t.label.clone()))
            .collect()
    };
    TailorChoices {
        adjust,
        add_ons: pairs(protocol.add_ons()),
        considerations: pairs(protocol.considerations()),
    }
}

impl FormPage {
    fn row_field(&self, name: &str, index: &usize) -> String {
        format!("{name}_{index}")
    }
    fn zone_hint(&self) -> String {
        format!("Clinic time ({})", self.time_zone)
    }
    fn adjust_value(&self, key: &str) -> &str {
        self.form.adjust.get(key).map_or("", String::as_str)
    }
    fn has_add_on(&self, id: &str) -> bool {
        self.form.add_ons.iter().any(|a| a == id)
    }
    fn has_consideration(&self, id: &str) -> bool {
        self.form.considerations.iter().any(|c| c == id)
    }
    /// The section opens by itself when something in it is set or wrong.
    fn tailor_open(&self) -> bool {
        self.form.adjust.values().any(|v| !v.is_empty())
            || !self.form.add_ons.is_empty()
            || !self.form.considerations.is_empty()
            || !self.form.patient_note.is_empty()
            || self
                .tailor
                .adjust
                .iter()
                .any(|a| !self.errors.msg(&a.field).is_empty())
    }
    fn action(&self) -> String {
        match self.treatment_id {
            Some(id) => format!("/treatments/{id}/edit"),
            None => "/treatments".into(),
        }
    }
}

pub(in crate::web) async fn new_form(
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (id, user) = (id.into_inner(), auth.user().clone());
    let (patient, locations) = state
        .db(move |conn| treatments::form_context(conn, &user, id))
        .await?;
    let clinic = locations.first().cloned().ok_or(AppError::NotFound)?;
    let tz = clinic.zone();
    let local_now = state.clock.now().with_timezone(&tz).naive_local();
    let form = TreatmentForm {
        location: clinic.location_id.to_string(),
        ..TreatmentForm::blank(local_now, &patient)
    };
    render(&FormPage {
        locations,
        ctx,
        patient,
        unusual: String::new(),
        treatment_id: None,
        tailor: tailor_choices(&state.protocol, &form),
        form,
        errors: FieldErrors::default(),
        areas: area_choices(&state.protocol),
        time_zone: clinic.time_zone.name().to_string(),
    })
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// After saving: the treatment page, with a flash.
fn saved(state: &AppState, id: i64, done: &str) -> HttpResponse {
    saved_to(state, &format!("/treatments/{id}"), done)
}

/// After saving: to `location`, with a flash.
fn saved_to(state: &AppState, location: &str, done: &str) -> HttpResponse {
    redirect_with_flash(state, location, FlashKind::Success, done)
}

/// The form again, as typed, with each error beside its field (422).
fn form_again(
    ctx: PageCtx,
    state: &AppState,
    patient: Patient,
    treatment_id: Option<i64>,
    form: TreatmentForm,
    errors: FieldErrors,
    (time_zone, locations): (String, Vec<Clinic>),
) -> AppResult<HttpResponse> {
    render_invalid(&FormPage {
        locations,
        ctx,
        patient,
        unusual: treatments::unusual_depths(&state.protocol, &form),
        treatment_id,
        tailor: tailor_choices(&state.protocol, &form),
        form: form.with_spare_rows(),
        errors,
        areas: area_choices(&state.protocol),
        time_zone,
    })
}

/// What recording or editing hands its use case, owned for the blocking pool.
struct Submission {
    user: User,
    ip: String,
    protocol: std::sync::Arc<Protocol>,
    form: TreatmentForm,
    at: crate::usecases::reminders::Timing,
}

impl Submission {
    fn new(req: &HttpRequest, user: &User, state: &AppState, form: &TreatmentForm) -> Submission {
        Submission {
            user: user.clone(),
            ip: client_ip(req),
            protocol: state.protocol.clone(),
            form: form.clone(),
            at: state.timing(),
        }
    }
}

pub(in crate::web) async fn record(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let pairs = form.0;
    let patient_id: i64 = field(&pairs, "patient_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            AppError::BadRequest("The form does not say which patient this is for.".into())
        })?;
    let form = treatment_form::read(&pairs);
    let s = Submission::new(&req, auth.user(), &state, &form);
    let result = state
        .db(move |conn| {
            treatments::record(conn, &s.protocol, &s.user, &s.ip, patient_id, &s.form, s.at)
        })
        .await;
    match result {
        Ok(id) => {
            let mut done = "Treatment recorded.".to_string();
            if field(&pairs, "send_now").is_some() {
                // The form's option: one email per recorded treatment.
                let (actor, at) = (auth.user().actor(&client_ip(&req)), state.timing());
                let sent = state
                    .db(move |conn| treatments::send_sheet_now(conn, &actor, id, "record", at))
                    .await;
                done = format!("{done} {}", sent_message(sent)?.1);
            }
            if field(&pairs, "then") == Some("print") {
                // Record and print: straight to the sheet, which opens the print dialog.
                return Ok(saved_to(
                    &state,
                    &format!("/treatments/{id}/sheet?print=1"),
                    &done,
                ));
            }
            Ok(saved(
                &state,
                id,
                &format!("{done} The aftercare sheet is ready to print."),
            ))
        }
        Err(AppError::Invalid(errors)) => {
            let user = auth.user().clone();
            let (patient, locations) = state
                .db(move |conn| treatments::form_context(conn, &user, patient_id))
                .await?;
            let chosen = locations
                .iter()
                .find(|c| c.location_id.to_string() == form.location)
                .or(locations.first());
            let zone = chosen.map_or("UTC", |c| c.time_zone.name()).to_string();
            form_again(ctx, &state, patient, None, form, errors, (zone, locations))
        }
        Err(e) => Err(e),
    }
}

pub(in crate::web) async fn edit_form(
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (id, user) = (id.into_inner(), auth.user().clone());
    let (treatment, form, patient) = state
        .db(move |conn| {
            let (t, form) = treatments::for_editing(conn, &user, id)?;
            let patient = patients::get_unless_erased(conn, t.patient_id)?;
            Ok((t, form, patient))
        })
        .await?;
    let unusual = treatments::unusual_depths(&state.protocol, &form);
    // The stored depths were confirmed when recorded: editing the rest asks no new tick.
    let form = TreatmentForm {
        depth_confirmed: unusual.clone(),
        ..form
    };
    render(&FormPage {
        ctx,
        patient,
        unusual,
        treatment_id: Some(id),
        tailor: tailor_choices(&state.protocol, &form),
        form,
        errors: FieldErrors::default(),
        areas: area_choices(&state.protocol),
        time_zone: treatment.time_zone.name().to_string(),
        locations: vec![],
    })
}

pub(in crate::web) async fn edit(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = treatment_form::read(&form.0);
    let s = Submission::new(&req, auth.user(), &state, &form);
    match state
        .db(move |conn| treatments::edit(conn, &s.protocol, &s.user, &s.ip, id, &s.form, s.at))
        .await
    {
        Ok(()) => Ok(saved(
            &state,
            id,
            "Treatment saved; the plan and dates are updated.",
        )),
        Err(AppError::Invalid(errors)) => {
            let (treatment, patient) = state
                .db(move |conn| {
                    let t = treatments::get(conn, id)?;
                    let p = patients::get(conn, t.patient_id)?;
                    Ok((t, p))
                })
                .await?;
            form_again(
                ctx,
                &state,
                patient,
                Some(id),
                form,
                errors,
                (treatment.time_zone.name().to_string(), vec![]),
            )
        }
        Err(e) => Err(e),
    }
}
