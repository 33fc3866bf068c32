//! Finding, adding and editing patients (every signed-in role).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Auth, SignedIn};
use super::{client_ip, render, render_invalid, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::patients::{self, PatientInput, SearchPage};
use crate::usecases::treatments::{self, PatientPage};

#[derive(Template)]
#[template(path = "patients/list.html")]
struct ListPage {
    ctx: PageCtx,
    result: SearchPage,
}

impl ListPage {
    fn page_link(&self, page: i64) -> String {
        format!(
            "/patients?{}",
            serde_urlencoded::to_string([
                ("q", self.result.query.as_str()),
                ("page", &page.to_string())
            ])
            .unwrap_or_default()
        )
    }
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

pub(super) async fn list(
    _auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> AppResult<HttpResponse> {
    let SearchQuery { q, page } = query.into_inner();
    let result = state
        .db(move |conn| patients::search(conn, &q, page.unwrap_or(1)))
        .await?;
    render(&ListPage { ctx, result })
}

#[derive(Template)]
#[template(path = "patients/form.html")]
struct FormPage {
    ctx: PageCtx,
    /// `None` for a new patient.
    id: Option<i64>,
    form: PatientInput,
    errors: FieldErrors,
}

pub(super) async fn new_form(_auth: Auth<SignedIn>, ctx: PageCtx) -> AppResult<HttpResponse> {
    render(&FormPage {
        ctx,
        id: None,
        form: PatientInput::default(),
        errors: FieldErrors::default(),
    })
}

fn saved_redirect(
    state: &AppState,
    id: i64,
    same_email: &[patients::Patient],
    done: &str,
) -> HttpResponse {
    let (kind, message) = if same_email.is_empty() {
        (FlashKind::Success, done.to_string())
    } else {
        let names: Vec<String> = same_email
            .iter()
            .map(|p| format!("{} (#{})", p.name, p.id))
            .collect();
        (FlashKind::Error, format!("{done} Note: another patient has the same email: {}. Check this is not a duplicate.", names.join(", ")))
    };
    redirect_with_flash(state, &format!("/patients/{id}"), kind, &message)
}

pub(super) async fn create(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<PatientInput>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (user, ip, input) = (auth.user().clone(), client_ip(&req), form.0);
    let submitted = input.clone();
    let today = state.clinic_today().await?;
    match state
        .db(move |conn| patients::create(conn, &user, &ip, &submitted, today, now))
        .await
    {
        Ok(saved) => Ok(saved_redirect(
            &state,
            saved.id,
            &saved.same_email,
            "Patient added.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&FormPage {
            ctx,
            id: None,
            form: input,
            errors,
        }),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "patients/show.html")]
struct ShowPage {
    ctx: PageCtx,
    page: PatientPage,
}

pub(super) async fn show(
    _auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let page = state
        .db(move |conn| treatments::patient_page(conn, id))
        .await?;
    render(&ShowPage { ctx, page })
}

pub(super) async fn edit_form(
    _auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let patient = state
        .db(move |conn| patients::get_unless_erased(conn, id))
        .await?;
    render(&FormPage {
        ctx,
        id: Some(id),
        form: PatientInput::from(&patient),
        errors: FieldErrors::default(),
    })
}

pub(super) async fn update(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<PatientInput>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (id, user, ip, input) = (
        id.into_inner(),
        auth.user().clone(),
        client_ip(&req),
        form.0,
    );
    let submitted = input.clone();
    let today = state.clinic_today().await?;
    match state
        .db(move |conn| patients::update(conn, &user, &ip, id, &submitted, today, now))
        .await
    {
        Ok(saved) => Ok(saved_redirect(
            &state,
            id,
            &saved.same_email,
            "Patient saved.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&FormPage {
            ctx,
            id: Some(id),
            form: input,
            errors,
        }),
        Err(e) => Err(e),
    }
}
