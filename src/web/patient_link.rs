//! The patient's own link to their sheet, `GET /s/{token}`: no account, the
//! busiest page, and mostly answered `304 Not Modified`.
//!
//! Its fixed work per view is kept small (issue #24, BENCHMARKS.md): the
//! token's signature; the sheet's versions as read for this link less than
//! [`VERSIONS_FRESH_FOR`](sheet_cache::VERSIONS_FRESH_FOR) ago, unless
//! something a sheet shows changed through this process since; the view
//! counted on its hour's audit entry (`AuditWriter::count_view`); the kept
//! page. Only the first view of an hour, and a version read each second, wait
//! for the database.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::sheet_cache::{self, Kind, VersionRead};
use super::treatments::{conditional, render_sheet};
use super::{client_ip, AppState};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::Actor;
use crate::usecases::sheet_inputs;
use crate::usecases::treatments::{self, SheetVersion};

pub(super) async fn patient_sheet(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = state.links.open_sheet(&token).ok_or(AppError::NotFound)?;
    let version = current_version(&state, id).await?;
    let actor = Actor::anonymous("patient (sheet link)", &client_ip(&req));
    let audited = state.audit.count_view(treatments::sheet_opened(
        actor,
        "sheet.opened_by_patient",
        id,
        state.now(),
    ))?;
    let page = match state.sheets.get(id, Kind::Patient, version) {
        Some(page) => page,
        None => render_sheet(&state, id, Kind::Patient, version).await?,
    };
    audited.committed().await?;
    let accepted = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let encoding = sheet_cache::Encoding::chosen(accepted);
    let (body, etag) = page.encoded(encoding);
    let mut response = conditional(&req, &etag, Some(body));
    let headers = response.headers_mut();
    if let Some(name) = encoding.header() {
        // Already compressed: the Compress middleware leaves such a response alone.
        headers.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static(name),
        );
    }
    headers.insert(
        header::VARY,
        header::HeaderValue::from_static("accept-encoding"),
    );
    headers.insert(
        header::HeaderName::from_static("x-robots-tag"),
        header::HeaderValue::from_static("noindex, nofollow"),
    );
    Ok(response)
}

/// The versions the link's sheet is made from: as recently read, or read now
/// (404 when the treatment was deleted or its patient erased).
async fn current_version(state: &AppState, id: i64) -> AppResult<SheetVersion> {
    // Taken before the read: a change committed while it runs makes the read stale at once.
    let read = VersionRead {
        at: state.clock.monotonic(),
        changes: sheet_inputs::changes(),
    };
    if let Some(version) = state.sheets.recent_version(id, read) {
        return Ok(version);
    }
    let version = state
        .db(move |conn| treatments::sheet_version(conn, id, treatments::Reader::Patient))
        .await?;
    state.sheets.remember_version(id, version, read);
    Ok(version)
}
