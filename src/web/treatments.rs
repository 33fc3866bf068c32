//! Recording, viewing, editing and deleting treatments; the printable sheet
//! and the patient's own link.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::csrf::{CsrfForm, EmptyForm};
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Auth, Clinicians, SignedIn};
use super::sheet_cache::{self, Kind, Rendered};
use super::{client_ip, render, render_invalid, AppState};
use crate::care::Protocol;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::Actor;
use crate::usecases::calendar;
use crate::usecases::patients::{self, Patient};
use crate::usecases::sheet::{self, Sheet};
use crate::usecases::treatments::{self, SheetVersion, TreatmentForm, TreatmentView};

/// The area choices for the form: (id, label).
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

/// The choices, with defaults computed for the areas typed so far.
/// A length as the form's hints give it: hours over three days also in days ("168 hours
/// (7 days)"), which is how practitioners think of them.
fn amount(value: u32, unit: &str) -> String {
    match (unit, value) {
        ("hours", v) if v > 72 && v % 24 == 0 => format!("{v} hours ({} days)", v / 24),
        ("hours", v) if v > 72 => format!("{v} hours (about {:.1} days)", f64::from(v) / 24.0),
        (unit, v) => format!("{v} {unit}"),
    }
}

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
            let n = |v: u32| amount(v, a.unit);
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
                unit: a.unit,
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

pub(super) async fn new_form(
    _auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (patient, clinic) = state
        .db(move |conn| treatments::form_context(conn, id))
        .await?;
    let tz = clinic.zone();
    let local_now = state.clock.now().with_timezone(&tz).naive_local();
    let form = TreatmentForm::blank(local_now, &patient);
    render(&FormPage {
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
    time_zone: String,
) -> AppResult<HttpResponse> {
    render_invalid(&FormPage {
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

pub(super) async fn record(
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
    let form = super::treatment_form::read(&pairs);
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
            let (patient, clinic) = state
                .db(move |conn| treatments::form_context(conn, patient_id))
                .await?;
            let zone = clinic.time_zone.name().to_string();
            form_again(ctx, &state, patient, None, form, errors, zone)
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn edit_form(
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
        time_zone: treatment.time_zone,
    })
}

pub(super) async fn edit(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = super::treatment_form::read(&form.0);
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
                treatment.time_zone,
            )
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "treatments/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    view: TreatmentView,
}

pub(super) async fn delete_form(
    auth: Auth<Clinicians>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (id, user) = (id.into_inner(), auth.user().clone());
    let view = state
        .db(move |conn| {
            treatments::for_editing(conn, &user, id)?;
            treatments::view(conn, id)
        })
        .await?;
    render(&DeletePage { ctx, view })
}

pub(super) async fn delete(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (id, user, ip) = (id.into_inner(), auth.user().clone(), client_ip(&req));
    let patient_id = state
        .db(move |conn| treatments::delete(conn, &user, &ip, id, now))
        .await?;
    Ok(redirect_with_flash(
        &state,
        &format!("/patients/{patient_id}"),
        FlashKind::Success,
        "Treatment deleted. It stays in the audit log.",
    ))
}

#[derive(Template)]
#[template(path = "treatments/show.html")]
struct ShowPage {
    ctx: PageCtx,
    view: TreatmentView,
    link: String,
    may_change: bool,
    reminders: Vec<crate::usecases::reminders::ReminderView>,
    /// Names this page's "Send the sheet now" click, so sending its form twice
    /// queues one email.
    click: String,
    checkins: Vec<crate::usecases::checkins::CheckinView>,
}

impl ShowPage {
    fn mm(&self, depth: &f64) -> String {
        crate::care::protocol::format_mm(*depth)
    }
}

pub(super) async fn show(
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let at = state.timing();
    let (view, reminders, checkins) = state
        .db(move |conn| {
            let (view, reminders) = treatments::page(conn, id, at)?;
            let tz = treatments::zone(&view.treatment)?;
            let l = view.clinic.locale;
            let checkins = crate::usecases::checkins::timeline(conn, id, (tz, l))?;
            Ok((view, reminders, checkins))
        })
        .await?;
    let user = auth.user();
    // An erased patient's treatments are kept as they stood.
    let may_change = treatments::may_change(user, &view.treatment) && !view.patient.is_erased();
    render(&ShowPage {
        ctx,
        link: state.links.sheet(id),
        view,
        reminders,
        checkins,
        may_change,
        click: crate::auth::tokens::random_token()[..16].to_string(),
    })
}

#[derive(Template)]
#[template(path = "sheet/staff.html")]
struct StaffSheetPage<'a> {
    ctx: PageCtx,
    /// The sheet's body as the cache keeps it (not copied).
    body: &'a str,
    patient_name: &'a str,
    treatment_id: i64,
    /// Opened by "Record and print": the page asks for the print dialog.
    print: bool,
}

/// A treatment's sheet for the web: its current versions first (three small
/// reads), then the rendering kept for them, or a new one. The audit row is
/// written either way, before anything is shown; it is committed while the
/// page is looked up, not before (BENCHMARKS.md, the staff sheet's p99).
async fn opened_sheet(
    state: &AppState,
    id: i64,
    kind: Kind,
    actor: Actor,
    action: &'static str,
) -> AppResult<std::sync::Arc<Rendered>> {
    let now = state.now();
    let reader = match kind {
        Kind::Patient => treatments::Reader::Patient,
        Kind::StaffBody => treatments::Reader::Staff,
    };
    let version = state
        .db(move |conn| treatments::sheet_version(conn, id, reader))
        .await?;
    let audited = state
        .audit
        .enqueue(treatments::sheet_opened(actor, action, id, now))?;
    let page = match state.sheets.get(id, kind, version) {
        Some(page) => page,
        None => render_sheet(state, id, kind, version).await?,
    };
    audited.committed().await?;
    Ok(page)
}

/// Renders a treatment's sheet and keeps it for `version`.
pub(super) async fn render_sheet(
    state: &AppState,
    id: i64,
    kind: Kind,
    version: SheetVersion,
) -> AppResult<std::sync::Arc<Rendered>> {
    let view = state.db(move |conn| treatments::view(conn, id)).await?;
    let sheet = sheet::with_handover(sheet::build(
        &view.plan,
        &view.clinic,
        &view.patient.name,
        state.links.sheet(id),
    ));
    let name = sheet.patient_name.clone();
    let html = match kind {
        Kind::Patient => PatientSheetPage {
            sheet,
            checkin: state.links.checkin(id),
        }
        .render(),
        Kind::StaffBody => sheet::SheetBody { sheet: &sheet }.render(),
    }
    .map_err(|e| AppError::Internal(anyhow::anyhow!("template error: {e}")))?;
    Ok(state
        .sheets
        .put(id, kind, version, Rendered::new(html, name)))
}

/// 304 when the client's copy is this one; else the page with its ETag. Both
/// say to ask again each time (`no-cache`): an edit must show at once, and
/// each view is audited.
pub(super) fn conditional(req: &HttpRequest, etag: &str, body: Option<Bytes>) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| sheet_cache::matches(v, etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    match body {
        Some(body) if !fresh => response.content_type("text/html; charset=utf-8").body(body),
        _ => response.finish(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SheetQuery {
    #[serde(default)]
    print: Option<String>,
}

pub(super) async fn staff_sheet(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<SheetQuery>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let actor = auth.user().actor(&client_ip(&req));
    let kind = Kind::StaffBody;
    let body = opened_sheet(&state, id, kind, actor, "sheet.opened_by_staff").await?;
    let print = query.print.is_some();
    // The layout differs by who is signed in (name, role, the form token), and
    // a flash is shown once: the tag covers the first, and a flash goes uncached.
    let user = auth.user();
    let who = format!(
        "{}|{}|{}|{}|{print}|{}",
        body.etag,
        user.id,
        user.name,
        user.role.label(),
        ctx.csrf_token
    );
    let etag = (ctx.flash.is_none()).then(|| sheet_cache::etag_of(who.as_bytes()));
    if let Some(etag) = &etag {
        if req.headers().contains_key(header::IF_NONE_MATCH) {
            let fresh = conditional(&req, etag, None);
            if fresh.status() == actix_web::http::StatusCode::NOT_MODIFIED {
                return Ok(fresh);
            }
        }
    }
    let html = StaffSheetPage {
        ctx,
        body: std::str::from_utf8(&body.html)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("a cached sheet is not UTF-8: {e}")))?,
        patient_name: &body.patient_name,
        treatment_id: id,
        print,
    }
    .render()
    .map_err(|e| AppError::Internal(anyhow::anyhow!("template error: {e}")))?;
    Ok(match etag {
        Some(etag) => conditional(&req, &etag, Some(Bytes::from(html))),
        None => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
    })
}

#[derive(Template)]
#[template(path = "sheet/patient.html")]
pub struct PatientSheetPage {
    pub sheet: Sheet,
    /// The patient's "How is your skin today?" page.
    pub checkin: String,
}

/// The patient's calendar files, beside their sheet link (the same token).
pub(super) async fn patient_calendar(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (token, file) = path.into_inner();
    let id = state.links.open_sheet(&token).ok_or(AppError::NotFound)?;
    let which = match file.as_str() {
        calendar::NEXT_SESSION_FILE => calendar::next_session,
        calendar::ACTIVES_FILE => calendar::actives,
        _ => return Err(AppError::NotFound),
    };
    let view = state
        .db(move |conn| treatments::view_for_patient(conn, id))
        .await?;
    let origin = calendar::Origin {
        treatment_id: id,
        clinic_name: &view.clinic.name,
        sender: &view.clinic.sender_email,
    };
    let ics = which(&view.plan, &origin);
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::ETAG, sheet_cache::etag_of(ics.as_bytes())))
        .body(ics))
}

#[derive(serde::Deserialize)]
pub(super) struct SendForm {
    /// The click's nonce, from the treatment page.
    click: String,
}

/// "Send the sheet now": emails the patient their link at once, through the
/// outbox (the worker sends it within seconds).
pub(super) async fn send_sheet(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<SendForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (actor, click, at) = (
        auth.user().actor(&client_ip(&req)),
        form.0.click,
        state.timing(),
    );
    let result = state
        .db(move |conn| treatments::send_sheet_now(conn, &actor, id, &click, at))
        .await;
    let (kind, message) = sent_message(result)?;
    Ok(redirect_with_flash(
        &state,
        &format!("/treatments/{id}"),
        kind,
        &message,
    ))
}

/// The flash after "send the sheet now": where it goes, or why it does not.
fn sent_message(result: AppResult<Option<String>>) -> AppResult<(FlashKind, String)> {
    match result {
        Ok(Some(to)) => Ok((
            FlashKind::Success,
            format!("The sheet's link is on its way to {to}. It shows in the outbox."),
        )),
        Ok(None) => Ok((
            FlashKind::Success,
            "That email was already queued.".to_string(),
        )),
        Err(AppError::Invalid(errors)) => {
            Ok((FlashKind::Error, errors.msg("send_now").to_string()))
        }
        Err(e) => Err(e),
    }
}
