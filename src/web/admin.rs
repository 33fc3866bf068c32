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
use crate::usecases::accounts::{self, LinkEmail, NewUserInput, Sender, User};
use crate::usecases::audit::Actor;
use crate::usecases::audit::{AuditPage, AuditQuery};
use crate::usecases::{clinic, trial};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<User>,
    /// Where each works, by user id; empty when the clinic has one location.
    works_at: BTreeMap<i64, String>,
}

impl UsersPage {
    fn works_at_of(&self, id: &i64) -> &str {
        self.works_at.get(id).map_or("", String::as_str)
    }
}

pub(super) async fn users(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (users, locations, assigned) = state
        .db(|conn| {
            Ok((
                accounts::list_users(conn)?,
                clinic::locations(conn)?,
                accounts::assignments(conn)?,
            ))
        })
        .await?;
    let works_at = match locations.len() {
        0 | 1 => BTreeMap::new(),
        _ => users
            .iter()
            .map(|u| {
                let names = match (u.role, assigned.get(&u.id)) {
                    (Role::Admin, _) | (_, None) => "All locations".to_string(),
                    (_, Some(ids)) => names_of(&locations, |id| ids.contains(&id)),
                };
                (u.id, names)
            })
            .collect(),
    };
    render(&UsersPage {
        ctx,
        users,
        works_at,
    })
}

/// The names of the locations `pick` keeps, in the clinic's order.
fn names_of(locations: &[clinic::Location], pick: impl Fn(i64) -> bool) -> String {
    let names: Vec<&str> = locations
        .iter()
        .filter(|l| pick(l.id))
        .map(|l| l.name.as_str())
        .collect();
    names.join(", ")
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
            let to = format!("/admin/users/{}", added.id);
            if !added.with_link {
                let message = format!(
                    "{} was added with the password you chose.",
                    input.name.trim()
                );
                return Ok(redirect_with_flash(
                    &state,
                    &to,
                    FlashKind::Success,
                    &message,
                ));
            }
            let message = format!("{} was added.", input.name.trim());
            link_given(&state, &actor, added.id, &to, &message).await
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

/// After a set-password link is issued: with a mail server set (not the trial's files), it
/// is emailed to the person, and the flash says whether that worked (a failure shows as an
/// error, so the admin gives the link another way); the link stays on their page either way.
async fn link_given(
    state: &AppState,
    actor: &Actor,
    id: i64,
    to: &str,
    done: &str,
) -> AppResult<HttpResponse> {
    let on_page = "Give them the one-time link below to choose a password.";
    if trial::mail_to_files(&state.settings) {
        return Ok(redirect_with_flash(
            state,
            to,
            FlashKind::Success,
            &format!("{done} {on_page}"),
        ));
    }
    let clinic = state.db(crate::usecases::clinic::get).await?;
    let sender = Sender {
        locale: clinic.locale,
        name: clinic.name,
        email: clinic.sender_email,
    };
    let emailed = match state.settings.mailer() {
        Ok(mailer) => {
            accounts::email_password_link(
                &state.pool,
                &mailer,
                &state.keys,
                &sender,
                &state.settings.base_url,
                actor,
                id,
                state.now(),
            )
            .await?
        }
        Err(e) => LinkEmail::Failed {
            to: String::from("them"),
            reason: format!("{e:#}"),
        },
    };
    Ok(match emailed {
        LinkEmail::Sent { to: address } => redirect_with_flash(state, to, FlashKind::Success,
            &format!("{done} Their one-time link to choose a password was emailed to {address}; it is also below."),
        ),
        LinkEmail::Failed { to: address, reason } => redirect_with_flash(state, to, FlashKind::Error,
            &format!("{done} Their one-time link could not be emailed to {address} ({reason}): give them the link below yourself."),
        ),
        LinkEmail::NoOpenLink => redirect_with_flash(state, to, FlashKind::Success, done),
    })
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
    /// Whether they have a password yet (if not and `link` is none, their link expired).
    has_password: bool,
    /// Whether a new link is emailed to them (a mail server is set).
    emails_links: bool,
    /// The clinic's locations, each with whether they are assigned to it; empty when the
    /// clinic has one location.
    works_at: Vec<(clinic::Location, bool)>,
}

struct PasswordLink {
    url: String,
    expires: String,
}

/// The user page for person `id`, with their open set-password link if any.
async fn user_page(
    state: &AppState,
    auth: &Auth<Admins>,
    ctx: PageCtx,
    id: i64,
    errors: FieldErrors,
) -> AppResult<UserPage> {
    let (now, keys) = (state.now(), state.keys.clone());
    let (person, link, has_password, works_at) = state
        .db(move |conn| {
            let person = accounts::get_user(conn, id)?;
            let link = accounts::open_password_link(conn, &keys, id, now)?;
            let locations = clinic::locations(conn)?;
            let assigned = accounts::assignments(conn)?.remove(&id).unwrap_or_default();
            let works_at = match locations.len() {
                0 | 1 => Vec::new(),
                _ => locations
                    .into_iter()
                    .map(|l| {
                        let on = assigned.contains(&l.id);
                        (l, on)
                    })
                    .collect(),
            };
            Ok((person, link, accounts::has_password(conn, id)?, works_at))
        })
        .await?;
    let link = link.map(|l| PasswordLink {
        url: l.url(&state.settings.base_url),
        expires: l.expires(ctx.locale),
    });
    Ok(UserPage {
        is_self: person.id == auth.user().id,
        ctx,
        person,
        roles: Role::ALL,
        errors,
        link,
        has_password,
        emails_links: !trial::mail_to_files(&state.settings),
        works_at,
    })
}

/// Assigns a user to the locations ticked (`location_<id>`); ids that are not the clinic's
/// locations are ignored, and none ticked means every location.
pub(super) async fn user_locations(
    req: HttpRequest,
    auth: Auth<Admins>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let (now, id) = (state.now(), id.into_inner());
    let actor = auth.user().actor(&client_ip(&req));
    let ticked: Vec<i64> = form
        .0
        .iter()
        .filter_map(|(name, _)| name.strip_prefix("location_")?.parse().ok())
        .collect();
    state
        .db(move |conn| {
            let locations = clinic::locations(conn)?;
            let ids: Vec<i64> = locations
                .iter()
                .map(|l| l.id)
                .filter(|id| ticked.contains(id))
                .collect();
            let names = names_of(&locations, |l| ids.contains(&l));
            accounts::set_locations(conn, &actor, id, &ids, &names, now)
        })
        .await?;
    Ok(redirect_with_flash(
        &state,
        &format!("/admin/users/{id}"),
        FlashKind::Success,
        "Locations saved.",
    ))
}

pub(super) async fn user_detail(
    auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    render(&user_page(&state, &auth, ctx, id.into_inner(), FieldErrors::default()).await?)
}

/// Shows the user page again with the reason a change was refused.
pub(super) async fn refused(
    state: &AppState,
    auth: &Auth<Admins>,
    ctx: PageCtx,
    id: i64,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    render_invalid(&user_page(state, auth, ctx, id, errors).await?)
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
    let reset_by = actor.clone();
    state
        .db(move |conn| accounts::reset_password_link(conn, &keys, &reset_by, id, now))
        .await?;
    link_given(
        &state,
        &actor,
        id,
        &format!("/admin/users/{id}"),
        "A new password link is ready: any old password no longer works and their sessions have ended.",
    )
    .await
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditLogPage {
    ctx: PageCtx,
    log: AuditPage,
    query: AuditQuery,
}

impl AuditLogPage {
    /// The link to page `page` with the same filters.
    fn page_link(&self, page: i64) -> String {
        let query = AuditQuery {
            page: Some(page),
            ..self.query.clone()
        };
        format!(
            "/admin/audit?{}",
            serde_urlencoded::to_string(&query).unwrap_or_default()
        )
    }
}

pub(super) async fn audit(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let asked = query.clone();
    let log = state
        .db(move |conn| {
            let zone = crate::usecases::clinic::get(conn)?.time_zone.tz();
            crate::usecases::audit::audit_page(conn, zone, &asked)
        })
        .await?;
    let invalid = !log.errors.is_empty();
    let page = AuditLogPage { ctx, log, query };
    if invalid {
        render_invalid(&page)
    } else {
        render(&page)
    }
}
