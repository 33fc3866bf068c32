//! Clinic settings (admins).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Admins, Auth};
use super::{client_ip, render, render_invalid, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::clinic::{self, ClinicInput, RetentionInput};
use crate::usecases::locations::{self, Saved};

#[derive(Template)]
#[template(path = "admin/clinic.html")]
struct ClinicPage {
    ctx: PageCtx,
    form: ClinicInput,
    errors: FieldErrors,
    zones: clinic::ZoneChoices,
    /// Every location; with more than one, the page names the first, whose details it sets.
    locations: Vec<clinic::Location>,
    first_location: String,
    /// The pending emails this save would move, when the admin is asked to confirm.
    moves: Option<i64>,
}

impl ClinicPage {
    async fn new(
        state: &AppState,
        ctx: PageCtx,
        form: ClinicInput,
        errors: FieldErrors,
    ) -> AppResult<ClinicPage> {
        let (locations, first) = state
            .db(|conn| Ok((clinic::locations(conn)?, clinic::get(conn)?.location)))
            .await?;
        Ok(ClinicPage {
            ctx,
            form,
            errors,
            zones: clinic::time_zone_choices(),
            locations,
            first_location: first,
            moves: None,
        })
    }
    fn emergency_hint(&self) -> String {
        super::locations::emergency_hint(&self.form.site.time_zone)
    }
}

pub(super) async fn clinic_form(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = state.db(clinic::form).await?;
    render(&ClinicPage::new(&state, ctx, form, FieldErrors::default()).await?)
}

pub(super) async fn clinic_submit(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<ClinicInput>,
) -> AppResult<HttpResponse> {
    let (actor, input) = (auth.user().actor(&client_ip(&req)), form.0);
    let (submitted, protocol, at) = (input.clone(), state.protocol.clone(), state.timing());
    match state
        .db(move |conn| locations::save_clinic(conn, &protocol, &actor, &submitted, at))
        .await
    {
        Ok(Saved::Done { retimed }) => Ok(redirect_with_flash(
            &state,
            "/admin/clinic",
            FlashKind::Success,
            &super::locations::saved_message("Clinic settings saved.", retimed),
        )),
        Ok(Saved::Confirm { moves }) => {
            let page = ClinicPage::new(&state, ctx, input, FieldErrors::default()).await?;
            render(&ClinicPage {
                moves: Some(moves),
                ..page
            })
        }
        Err(AppError::Invalid(errors)) => {
            render_invalid(&ClinicPage::new(&state, ctx, input, errors).await?)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/retention.html")]
struct RetentionPage {
    ctx: PageCtx,
    form: RetentionInput,
    errors: FieldErrors,
}

pub(super) async fn retention_form(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let current = state.db(clinic::retention).await?;
    render(&RetentionPage {
        ctx,
        form: RetentionInput::from(&current),
        errors: FieldErrors::default(),
    })
}

pub(super) async fn retention_submit(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<RetentionInput>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (actor, input) = (auth.user().actor(&client_ip(&req)), form.0);
    let submitted = input.clone();
    match state
        .db(move |conn| clinic::save_retention(conn, &actor, &submitted, now))
        .await
    {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            "/admin/retention",
            FlashKind::Success,
            "Retention settings saved. Housekeeping applies them within the hour.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&RetentionPage {
            ctx,
            form: input,
            errors,
        }),
        Err(e) => Err(e),
    }
}
