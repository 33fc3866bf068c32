//! Treatments on the web. Here: a treatment's sheet as it is opened (its versions read, the
//! audit row written, the rendering kept for them reused) and the patient's own link with its
//! calendar files. In parts: `form` (recording and editing), `page` (the treatment page, and
//! deleting from it), `staff_sheet` (the sheet staff print), `send` ("Send the sheet
//! now") and `fhir` ("Download as FHIR").

mod fhir;
mod form;
mod page;
mod send;
mod staff_sheet;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::sheet_cache::{self, Kind, Rendered};
use super::AppState;
use crate::documents::calendar;
use crate::documents::sheet::{self, Sheet};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::Actor;
use crate::usecases::treatments::{self, SheetVersion};
pub(super) use fhir::download as fhir_download;
pub(super) use form::{edit, edit_form, new_form, record};
pub(super) use page::{delete, delete_form, show};
pub(super) use send::send_sheet;
pub(super) use staff_sheet::staff_sheet;

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
        clinic_name: &view.clinic.display_name(),
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
