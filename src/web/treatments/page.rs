//! A treatment's page (the treatment, its reminders and check-ins, what may be done with
//! it), and deleting the treatment from it, once confirmed.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::error::AppResult;
use crate::usecases::treatments::{self, TreatmentView};
use crate::web::csrf::{CsrfForm, EmptyForm};
use crate::web::flash::{redirect_with_flash, FlashKind};
use crate::web::page::PageCtx;
use crate::web::session::{Auth, Clinicians, Policy, SignedIn};
use crate::web::{client_ip, render, AppState};

#[derive(Template)]
#[template(path = "treatments/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    view: TreatmentView,
}

pub(in crate::web) async fn delete_form(
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

pub(in crate::web) async fn delete(
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
    /// "Download as FHIR": clinicians, while the patient is not erased.
    may_download_fhir: bool,
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

pub(in crate::web) async fn show(
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
            let tz = view.treatment.time_zone;
            let l = view.clinic.locale;
            let checkins = crate::usecases::checkins::timeline(conn, id, (tz, l))?;
            Ok((view, reminders, checkins))
        })
        .await?;
    let user = auth.user();
    // An erased patient's treatments are kept as they stood.
    let may_change = treatments::may_change(user, &view.treatment) && !view.patient.is_erased();
    let may_download_fhir = Clinicians::ROLES.contains(&user.role) && !view.patient.is_erased();
    render(&ShowPage {
        ctx,
        link: state.links.sheet(id),
        view,
        reminders,
        checkins,
        may_change,
        may_download_fhir,
        click: crate::auth::tokens::random_token()[..16].to_string(),
    })
}
