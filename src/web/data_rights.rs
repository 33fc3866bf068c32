//! A patient's requests about their data (admins): the export, and the erasure with its
//! confirmation page.

use crate::words::counted;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Admins, Auth};
use super::{client_ip, render, render_invalid, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::data_rights::{self, EraseInput, ErasePreview};

/// Everything held about the patient, as a JSON file to download. Never cached: it holds
/// their health data.
pub(super) async fn export(
    req: HttpRequest,
    auth: Auth<Admins>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (id, now) = (id.into_inner(), state.now());
    let actor = auth.user().actor(&client_ip(&req));
    let json = state
        .db(move |conn| data_rights::export(conn, &actor, id, now))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"patient-{id}-export.json\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(json))
}

#[derive(Template)]
#[template(path = "patients/erase.html")]
struct ErasePage {
    ctx: PageCtx,
    preview: ErasePreview,
    form: EraseInput,
    errors: FieldErrors,
}

impl ErasePage {
    fn confirm_label(&self) -> String {
        format!(
            "To confirm, type the patient's name: {}",
            self.preview.patient.name
        )
    }
}

pub(super) async fn erase_form(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let preview = state
        .db(move |conn| data_rights::erase_preview(conn, id))
        .await?;
    render(&ErasePage {
        ctx,
        preview,
        form: EraseInput::default(),
        errors: FieldErrors::default(),
    })
}

pub(super) async fn erase(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<EraseInput>,
) -> AppResult<HttpResponse> {
    let (id, now, input) = (id.into_inner(), state.now(), form.0);
    let actor = auth.user().actor(&client_ip(&req));
    let typed = input.clone();
    match state
        .db(move |conn| data_rights::erase(conn, &actor, id, &typed, now))
        .await
    {
        Ok(erased) => {
            let done = format!(
                "The patient's data was erased: {} cancelled, {} deleted; \
                 {} kept without their identity.",
                counted(erased.cancelled_emails, "pending email"),
                counted(erased.photos, "photo"),
                counted(erased.treatments, "treatment")
            );
            let (kind, message) = match erased.purged {
                Ok(()) => (FlashKind::Success, done),
                Err(reason) => (
                    FlashKind::Error,
                    format!(
                        "{done} But the database file could not be rewritten ({reason}), so \
                         removed text may remain in its free space until it is compacted \
                         (VACUUM) or reused."
                    ),
                ),
            };
            Ok(redirect_with_flash(
                &state,
                &format!("/patients/{id}"),
                kind,
                &message,
            ))
        }
        Err(AppError::Invalid(errors)) => {
            let preview = state
                .db(move |conn| data_rights::erase_preview(conn, id))
                .await?;
            render_invalid(&ErasePage {
                ctx,
                preview,
                form: input,
                errors,
            })
        }
        Err(e) => Err(e),
    }
}
