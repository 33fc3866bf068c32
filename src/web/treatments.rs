//! Recording, viewing, editing and deleting treatments; the printable sheet
//! and the patient's own link.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::csrf::CsrfForm;
use super::flash::flash_cookie;
use super::page::PageCtx;
use super::session::{Auth, Clinicians, SignedIn};
use super::{client_ip, render, render_invalid, AppState};
use crate::care::Protocol;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::User;
use crate::usecases::audit::Actor;
use crate::usecases::patients::{self, Patient};
use crate::usecases::sheet::{self, Sheet};
use crate::usecases::treatments::{self, TreatmentForm, TreatmentView};

/// The area choices for the form: (id, label).
fn area_choices(protocol: &Protocol) -> Vec<(String, String)> {
    protocol
        .areas()
        .iter()
        .map(|a| (a.id.clone(), a.label.clone()))
        .collect()
}

#[derive(Template)]
#[template(path = "treatments/form.html")]
struct FormPage {
    ctx: PageCtx,
    patient: Patient,
    /// `None` when recording a new treatment.
    treatment_id: Option<i64>,
    form: TreatmentForm,
    errors: FieldErrors,
    areas: Vec<(String, String)>,
    time_zone: String,
}

impl FormPage {
    fn row_field(&self, name: &str, index: &usize) -> String {
        format!("{name}_{index}")
    }
    fn zone_hint(&self) -> String {
        format!("Clinic time ({})", self.time_zone)
    }
    fn action(&self) -> String {
        match self.treatment_id {
            Some(id) => format!("/treatments/{id}/edit"),
            None => "/treatments".into(),
        }
    }
}

#[get("/patients/{id}/treatments/new")]
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
    render(&FormPage {
        ctx,
        patient,
        treatment_id: None,
        form: TreatmentForm::blank(local_now),
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

/// After saving: the treatment page, with any depth warnings.
fn saved(state: &AppState, id: i64, warnings: &[String], done: &str) -> HttpResponse {
    let (kind, message) = if warnings.is_empty() {
        ("success", done.to_string())
    } else {
        (
            "error",
            format!("{done} Please check: {}", warnings.join(" ")),
        )
    };
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/treatments/{id}")))
        .cookie(flash_cookie(state, kind, &message))
        .finish()
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
        treatment_id,
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

#[post("/treatments")]
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
        Ok((id, warnings)) => Ok(saved(
            &state,
            id,
            &warnings,
            "Treatment recorded. The aftercare sheet is ready to print.",
        )),
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

#[get("/treatments/{id}/edit")]
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
            let patient = patients::get(conn, t.patient_id)?;
            Ok((t, form, patient))
        })
        .await?;
    render(&FormPage {
        ctx,
        patient,
        treatment_id: Some(id),
        form,
        errors: FieldErrors::default(),
        areas: area_choices(&state.protocol),
        time_zone: treatment.time_zone,
    })
}

#[post("/treatments/{id}/edit")]
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
        Ok(warnings) => Ok(saved(
            &state,
            id,
            &warnings,
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

#[get("/treatments/{id}/delete")]
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

#[derive(serde::Deserialize)]
struct EmptyForm {}

#[post("/treatments/{id}/delete")]
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
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/patients/{patient_id}")))
        .cookie(flash_cookie(
            &state,
            "success",
            "Treatment deleted. It stays in the audit log.",
        ))
        .finish())
}

#[derive(Template)]
#[template(path = "treatments/show.html")]
struct ShowPage {
    ctx: PageCtx,
    view: TreatmentView,
    link: String,
    may_change: bool,
    reminders: Vec<crate::usecases::reminders::ReminderView>,
    checkins: Vec<crate::usecases::checkins::CheckinView>,
}

impl ShowPage {
    fn mm(&self, depth: &f64) -> String {
        crate::care::protocol::format_mm(*depth)
    }
}

#[get("/treatments/{id}")]
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
            let checkins = crate::usecases::checkins::timeline(conn, id, tz)?;
            Ok((view, reminders, checkins))
        })
        .await?;
    let user = auth.user();
    let may_change = treatments::may_change(user, &view.treatment);
    render(&ShowPage {
        ctx,
        link: state.links.sheet(id),
        view,
        reminders,
        checkins,
        may_change,
    })
}

#[derive(Template)]
#[template(path = "sheet/staff.html")]
struct StaffSheetPage {
    ctx: PageCtx,
    sheet: Sheet,
    treatment_id: i64,
}

/// Loads a treatment's sheet, and records who opened it before it is shown.
async fn opened_sheet(
    state: &AppState,
    id: i64,
    actor: Actor,
    action: &'static str,
) -> AppResult<Sheet> {
    let now = state.now();
    let view = state.db(move |conn| treatments::view(conn, id)).await?;
    state
        .audit
        .record(treatments::sheet_opened(actor, action, id, now))
        .await?;
    Ok(sheet::build(
        &view.plan,
        &view.clinic,
        &view.patient.name,
        state.links.sheet(id),
    ))
}

#[get("/treatments/{id}/sheet")]
pub(super) async fn staff_sheet(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let actor = auth.user().actor(&client_ip(&req));
    let sheet = opened_sheet(&state, id, actor, "sheet.opened_by_staff").await?;
    render(&StaffSheetPage {
        ctx,
        sheet,
        treatment_id: id,
    })
}

#[derive(Template)]
#[template(path = "sheet/patient.html")]
pub struct PatientSheetPage {
    pub sheet: Sheet,
    /// The patient's "How is your skin today?" page.
    pub checkin: String,
}

#[get("/s/{token}")]
pub(super) async fn patient_sheet(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = state.links.open_sheet(&token).ok_or(AppError::NotFound)?;
    let actor = Actor::anonymous("patient (sheet link)", &client_ip(&req));
    let sheet = opened_sheet(&state, id, actor, "sheet.opened_by_patient").await?;
    let checkin = state.links.checkin(id);
    let mut response = render(&PatientSheetPage { sheet, checkin })?;
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-robots-tag"),
        actix_web::http::header::HeaderValue::from_static("noindex, nofollow"),
    );
    Ok(response)
}
