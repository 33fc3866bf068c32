//! The clinic's locations (admins): the list with each one's pending mail, a new location,
//! a location's details (a new zone or send hour asks first, saying how many pending emails
//! move), closing, opening again and deleting.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Admins, Auth};
use super::{client_ip, render, render_invalid, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::clinic::{self, Location};
use crate::usecases::locations::{self, LocationInput, Saved};

#[derive(Template)]
#[template(path = "admin/locations.html")]
struct ListPage {
    ctx: PageCtx,
    /// Each location with its pending reminder emails.
    locations: Vec<(Location, i64)>,
}

pub(super) async fn list(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let locations = state.db(clinic::locations_with_pending).await?;
    render(&ListPage { ctx, locations })
}

#[derive(Template)]
#[template(path = "admin/location.html")]
struct FormPage {
    ctx: PageCtx,
    /// `None` for a new location.
    location: Option<Location>,
    form: LocationInput,
    errors: FieldErrors,
    zones: clinic::ZoneChoices,
    /// The pending emails this save would move, when the admin is asked to confirm.
    moves: Option<i64>,
}

impl FormPage {
    fn new(ctx: PageCtx, location: Option<Location>, form: LocationInput) -> FormPage {
        FormPage {
            ctx,
            location,
            form,
            errors: FieldErrors::default(),
            zones: clinic::time_zone_choices(),
            moves: None,
        }
    }
    fn action(&self) -> String {
        match &self.location {
            Some(l) => format!("/admin/locations/{}", l.id),
            None => "/admin/locations".into(),
        }
    }
    fn emergency_hint(&self) -> String {
        emergency_hint(&self.form.site.time_zone)
    }
}

pub(super) async fn new_form(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = state.db(locations::new_form).await?;
    render(&FormPage::new(ctx, None, form))
}

pub(super) async fn create(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<LocationInput>,
) -> AppResult<HttpResponse> {
    let (actor, input, now) = (auth.user().actor(&client_ip(&req)), form.0, state.now());
    let submitted = input.clone();
    match state
        .db(move |conn| locations::create(conn, &actor, &submitted, now))
        .await
    {
        Ok(id) => Ok(redirect_with_flash(
            &state,
            &format!("/admin/locations/{id}"),
            FlashKind::Success,
            "Location added. Assign staff to it from their user pages.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&FormPage {
            errors,
            ..FormPage::new(ctx, None, input)
        }),
        Err(e) => Err(e),
    }
}

pub(super) async fn edit_form(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (location, form) = state
        .db(move |conn| Ok((clinic::location(conn, id)?, locations::form(conn, id)?)))
        .await?;
    render(&FormPage::new(ctx, Some(location), form))
}

pub(super) async fn save(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<LocationInput>,
) -> AppResult<HttpResponse> {
    let (id, actor, input) = (id.into_inner(), auth.user().actor(&client_ip(&req)), form.0);
    let (submitted, protocol, at) = (input.clone(), state.protocol.clone(), state.timing());
    let saved = state
        .db(move |conn| locations::save(conn, &protocol, &actor, id, &submitted, at))
        .await;
    let page = |location, errors, moves| FormPage {
        errors,
        moves,
        ..FormPage::new(ctx, Some(location), input)
    };
    match saved {
        Ok(Saved::Done { retimed }) => {
            let done = saved_message("Location saved.", retimed);
            let to = format!("/admin/locations/{id}");
            Ok(redirect_with_flash(&state, &to, FlashKind::Success, &done))
        }
        Ok(Saved::Confirm { moves }) => {
            let location = state.db(move |conn| clinic::location(conn, id)).await?;
            render(&page(location, FieldErrors::default(), Some(moves)))
        }
        Err(AppError::Invalid(errors)) => {
            let location = state.db(move |conn| clinic::location(conn, id)).await?;
            render_invalid(&page(location, errors, None))
        }
        Err(e) => Err(e),
    }
}

/// The emergency number field's hint: it names the default, so an admin sees which number
/// patients get when the field is empty.
pub(super) fn emergency_hint(time_zone: &str) -> String {
    format!(
        "Patients are told to call it for a severe allergic reaction. Leave it empty to use {}, the usual number for {}.",
        clinic::default_emergency_number(time_zone),
        time_zone
    )
}

/// What a saved location (or the clinic settings, its first location) says, with how many
/// treatments' pending emails a new zone or send hour moved.
pub(super) fn saved_message(saved: &str, retimed: usize) -> String {
    match retimed {
        0 => format!("{saved} New sheets and emails use it."),
        n => format!(
            "{saved} The pending emails of {} now follow the new time.",
            crate::words::counted(n as i64, "treatment")
        ),
    }
}

/// Closes, opens again or deletes a location; a refusal shows the location's page again with
/// the reason beside the button (422).
pub(super) async fn change(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    _form: CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let ((id, what), actor, now) = (
        path.into_inner(),
        auth.user().actor(&client_ip(&req)),
        state.now(),
    );
    let (done, to) = match what.as_str() {
        "close" => (
            "Location closed: it takes no new treatments.",
            format!("/admin/locations/{id}"),
        ),
        "reopen" => ("Location open again.", format!("/admin/locations/{id}")),
        "delete" => ("Location deleted.", "/admin/locations".to_string()),
        _ => return Err(AppError::NotFound),
    };
    let result = state
        .db(move |conn| match what.as_str() {
            "delete" => locations::delete(conn, &actor, id, now),
            closing => locations::set_closed(conn, &actor, id, closing == "close", now),
        })
        .await;
    match result {
        Ok(()) => Ok(redirect_with_flash(&state, &to, FlashKind::Success, done)),
        Err(AppError::Invalid(errors)) => {
            let (location, form) = state
                .db(move |conn| Ok((clinic::location(conn, id)?, locations::form(conn, id)?)))
                .await?;
            render_invalid(&FormPage {
                errors,
                ..FormPage::new(ctx, Some(location), form)
            })
        }
        Err(e) => Err(e),
    }
}
