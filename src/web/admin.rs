//! Clinic admin: people and their access, and the audit log.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::csrf::{CsrfForm, EmptyForm};
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Admins, Auth};
use super::{client_ip, render, render_invalid, AppState};
use crate::auth::Role;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::{self, NewUserInput, User};
use crate::usecases::audit::AuditPage;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<User>,
}

pub(super) async fn users(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let users = state.db(accounts::list_users).await?;
    render(&UsersPage { ctx, users })
}

#[derive(Template)]
#[template(path = "admin/new_user.html")]
struct NewUserPage {
    ctx: PageCtx,
    form: NewUserInput,
    errors: FieldErrors,
    roles: [Role; 3],
}

pub(super) async fn new_user_form(_auth: Auth<Admins>, ctx: PageCtx) -> AppResult<HttpResponse> {
    render(&NewUserPage {
        ctx,
        form: NewUserInput {
            role: Role::Practitioner.as_str().into(),
            password_mode: "link".into(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
        roles: Role::ALL,
    })
}

pub(super) async fn new_user_submit(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    form: CsrfForm<NewUserInput>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let actor = auth.user().actor(&client_ip(&req));
    let input = form.0;
    match accounts::add_user(
        &state.pool,
        &state.hashing,
        &state.keys,
        &actor,
        &input,
        now,
    )
    .await
    {
        Ok(added) => {
            let message = if added.with_link {
                format!(
                    "{} was added. Give them the one-time link below to choose a password.",
                    input.name.trim()
                )
            } else {
                format!(
                    "{} was added with the password you chose.",
                    input.name.trim()
                )
            };
            Ok(redirect_with_flash(
                &state,
                &format!("/admin/users/{}", added.id),
                FlashKind::Success,
                &message,
            ))
        }
        Err(AppError::Invalid(errors)) => render_invalid(&NewUserPage {
            ctx,
            form: input,
            errors,
            roles: Role::ALL,
        }),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    ctx: PageCtx,
    person: User,
    roles: [Role; 3],
    is_self: bool,
    errors: FieldErrors,
    /// Their set-password link while it is good: shown here, from the
    /// server, never carried in a cookie.
    link: Option<PasswordLink>,
}

struct PasswordLink {
    url: String,
    expires: String,
}

/// The person, with their open set-password link if any.
async fn person_and_link(state: &AppState, id: i64) -> AppResult<(User, Option<PasswordLink>)> {
    let (now, keys) = (state.now(), state.keys.clone());
    let (person, link) = state
        .db(move |conn| {
            let person = accounts::get_user(conn, id)?;
            let link = accounts::open_password_link(conn, &keys, id, now)?;
            Ok((person, link))
        })
        .await?;
    let link = link.map(|l| PasswordLink {
        url: format!("{}/set-password/{}", state.settings.base_url, l.token),
        expires: format!(
            "{}, {} UTC",
            crate::dates::date(l.expires_at),
            crate::dates::time(l.expires_at)
        ),
    });
    Ok((person, link))
}

pub(super) async fn user_detail(
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (person, link) = person_and_link(&state, id.into_inner()).await?;
    render(&UserPage {
        is_self: person.id == auth.user().id,
        ctx,
        person,
        roles: Role::ALL,
        errors: FieldErrors::default(),
        link,
    })
}

/// Shows the user page again with the reason a change was refused.
pub(super) async fn refused(
    state: &AppState,
    auth: &Auth<Admins>,
    ctx: PageCtx,
    id: i64,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let (person, link) = person_and_link(state, id).await?;
    render_invalid(&UserPage {
        is_self: person.id == auth.user().id,
        ctx,
        person,
        roles: Role::ALL,
        errors,
        link,
    })
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    #[serde(default)]
    role: String,
}

pub(super) async fn user_role(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<RoleForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (id, actor, role) = (
        id.into_inner(),
        auth.user().actor(&client_ip(&req)),
        form.0.role,
    );
    match state
        .db(move |conn| accounts::change_role(conn, &actor, id, &role, now))
        .await
    {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            &format!("/admin/users/{id}"),
            FlashKind::Success,
            "Role saved.",
        )),
        Err(AppError::Invalid(errors)) => refused(&state, &auth, ctx, id, errors).await,
        Err(e) => Err(e),
    }
}

async fn set_active(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: i64,
    active: bool,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let actor = auth.user().actor(&client_ip(&req));
    match state
        .db(move |conn| accounts::set_active(conn, &actor, id, active, now))
        .await
    {
        Ok(()) => {
            let message = if active {
                "The account is active again."
            } else {
                "The account is deactivated and signed out everywhere."
            };
            Ok(redirect_with_flash(
                &state,
                &format!("/admin/users/{id}"),
                FlashKind::Success,
                message,
            ))
        }
        Err(AppError::Invalid(errors)) => refused(&state, &auth, ctx, id, errors).await,
        Err(e) => Err(e),
    }
}

/// Deactivate or reactivate a user.
pub(super) async fn user_active(
    req: HttpRequest,
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    _form: CsrfForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let (id, change) = path.into_inner();
    set_active(req, auth, ctx, state, id, change == "reactivate").await
}

pub(super) async fn user_password_link(
    req: HttpRequest,
    auth: Auth<Admins>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (id, actor) = (id.into_inner(), auth.user().actor(&client_ip(&req)));
    let keys = state.keys.clone();
    state
        .db(move |conn| accounts::reset_password_link(conn, &keys, &actor, id, now))
        .await?;
    Ok(redirect_with_flash(
        &state,
        &format!("/admin/users/{id}"),
        FlashKind::Success,
        "Password reset: the old password no longer works and their sessions have ended. Give them the one-time link below.",
    ))
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditLogPage {
    ctx: PageCtx,
    log: AuditPage,
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<i64>,
}

pub(super) async fn audit(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let page = query.page.unwrap_or(1);
    let log = state
        .db(move |conn| crate::usecases::audit::audit_page(conn, page))
        .await?;
    render(&AuditLogPage { ctx, log })
}
