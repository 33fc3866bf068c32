//! The sheet as staff open it to print: the cached sheet inside the page layout, with its
//! own ETag (the layout differs by who is signed in), and the print dialog after "Record and
//! print".

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{conditional, opened_sheet};
use crate::error::{AppError, AppResult};
use crate::web::page::PageCtx;
use crate::web::session::{Auth, SignedIn};
use crate::web::sheet_cache::{self, Kind};
use crate::web::{client_ip, AppState};

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

#[derive(serde::Deserialize)]
pub(in crate::web) struct SheetQuery {
    #[serde(default)]
    print: Option<String>,
}

pub(in crate::web) async fn staff_sheet(
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
