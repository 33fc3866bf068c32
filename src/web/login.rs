//! Signing in and out, first-run setup, and passwords.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::cookies::{self, AppCookie};
use super::csrf::{self, CsrfForm, EmptyForm};
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Auth, SignedIn};
use super::{client_ip, redirect, render, render_invalid, safe_next, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::accounts::{self, LoginOutcome, NewUserInput};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

pub(super) async fn login_form(
    ctx: PageCtx,
    query: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    let next = safe_next(query.next.as_deref());
    if ctx.user.is_some() {
        return Ok(redirect(&next));
    }
    render(&LoginPage {
        ctx,
        email: String::new(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub(super) async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: PageCtx,
    form: CsrfForm<LoginForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let ip = client_ip(&req);
    let current = cookies::get(&req, &state, AppCookie::Session);
    let attempt = accounts::LoginAttempt {
        email: &form.email,
        password: &form.password,
        ip: &ip,
        replaces_session: current.as_deref(),
    };
    let outcome = accounts::log_in(&state.pool, &state.hashing, &attempt, now).await?;
    let locked_message;
    let message = match outcome {
        LoginOutcome::SignedIn { token, .. } => {
            // A new session id and a new CSRF seed at every sign-in (no fixation).
            return Ok(HttpResponse::SeeOther()
                .insert_header(("Location", next))
                .cookie(cookies::set(&state, AppCookie::Session, token))
                .cookie(csrf::new_seed(&req, &state))
                .finish());
        }
        LoginOutcome::Throttled => {
            return Err(AppError::TooManyRequests(
                "There have been too many failed sign-in attempts from this computer. Wait 15 minutes and try again.".into(),
            ))
        }
        LoginOutcome::Invalid => "Email or password is incorrect.",
        LoginOutcome::Deactivated => {
            "This account has been deactivated. Ask a clinic admin if you need access again."
        }
        LoginOutcome::Locked {
            minutes,
            everywhere,
        } => {
            let place = if everywhere { "" } else { " on this computer" };
            locked_message = format!(
                "Too many failed attempts: this account is locked for {}{place}. \
                 Try again then, or ask a clinic admin to reset your password.",
                crate::words::counted(minutes, "minute")
            );
            &locked_message
        }
    };
    let mut response = render(&LoginPage {
        ctx,
        email: form.email,
        next,
        error: Some(message.into()),
    })?;
    *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
    Ok(response)
}

pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth<SignedIn>,
    _form: CsrfForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let ip = client_ip(&req);
    let session = auth.session.clone();
    state
        .db(move |conn| accounts::log_out(conn, &session, &ip, now))
        .await?;
    let mut response =
        redirect_with_flash(&state, "/login", FlashKind::Success, "You are signed out.");
    for cookie in [
        cookies::removal(&state, AppCookie::Session),
        csrf::new_seed(&req, &state),
    ] {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(response)
}

// --- first run -------------------------------------------------------------

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: PageCtx,
    form: NewUserInput,
    errors: FieldErrors,
}

pub(super) async fn setup_form(
    state: web::Data<AppState>,
    ctx: PageCtx,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    if !state
        .db(move |conn| accounts::setup_token_is_valid(conn, &token))
        .await?
    {
        return Err(AppError::NotFound);
    }
    render(&SetupPage {
        ctx,
        form: NewUserInput::default(),
        errors: FieldErrors::default(),
    })
}

pub(super) async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: PageCtx,
    token: web::Path<String>,
    form: CsrfForm<NewUserInput>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (token, input, ip) = (token.into_inner(), form.0, client_ip(&req));
    match accounts::complete_setup(&state.pool, &state.hashing, &token, &input, &ip, now).await {
        Ok(_) => Ok(redirect_with_flash(
            &state,
            "/login",
            FlashKind::Success,
            "Your admin account is ready. Sign in to continue.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&SetupPage {
            ctx,
            form: input,
            errors,
        }),
        Err(e) => Err(e),
    }
}

// --- passwords ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    ctx: PageCtx,
    name: String,
    errors: FieldErrors,
}

pub(super) async fn set_password_form(
    state: web::Data<AppState>,
    ctx: PageCtx,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let token = token.into_inner();
    let user = state
        .db(move |conn| accounts::password_link_user(conn, &token, now))
        .await?;
    render(&SetPasswordPage {
        ctx,
        name: user.name,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub(super) struct NewPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub(super) async fn set_password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: PageCtx,
    token: web::Path<String>,
    form: CsrfForm<NewPasswordForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (token, form, ip) = (token.into_inner(), form.0, client_ip(&req));
    let lookup_token = token.clone();
    let result = accounts::use_password_link(
        &state.pool,
        &state.hashing,
        &token,
        &form.password,
        &form.password_confirm,
        &ip,
        now,
    )
    .await;
    match result {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            "/login",
            FlashKind::Success,
            "Your password is set. Sign in with it now.",
        )),
        Err(AppError::Invalid(errors)) => {
            let user = state
                .db(move |conn| accounts::password_link_user(conn, &lookup_token, now))
                .await?;
            render_invalid(&SetPasswordPage {
                ctx,
                name: user.name,
                errors,
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "account_password.html")]
struct AccountPasswordPage {
    ctx: PageCtx,
    errors: FieldErrors,
}

pub(super) async fn account_password_form(
    _auth: Auth<SignedIn>,
    ctx: PageCtx,
) -> AppResult<HttpResponse> {
    render(&AccountPasswordPage {
        ctx,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub(super) struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub(super) async fn account_password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    form: CsrfForm<ChangePasswordForm>,
) -> AppResult<HttpResponse> {
    let now = state.now();
    let (form, ip, session) = (form.0, client_ip(&req), auth.session.clone());
    let change = accounts::PasswordChange {
        current: form.current_password,
        new: form.password,
        confirm: form.password_confirm,
    };
    let result =
        accounts::change_own_password(&state.pool, &state.hashing, &session, &change, &ip, now)
            .await;
    match result {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            "/",
            FlashKind::Success,
            "Your password is changed. Your other sessions were signed out.",
        )),
        Err(AppError::Invalid(errors)) => render_invalid(&AccountPasswordPage { ctx, errors }),
        Err(e) => Err(e),
    }
}
