//! Passwords: an admin's reset (a one-time link), the user's new password
//! from that link, and a signed-in user changing their own.

use chrono::NaiveDateTime;

use super::{
    get_user, hash_off_thread, new_password_link, off_thread, with_conn, ActiveSession, User,
};
use crate::auth::{self, password, tokens};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::store::{self, write_tx, DbConn, Pool};
use crate::usecases::audit::{audit, Actor};

/// An admin resets someone's password: their sessions end, and a one-time
/// link lets them choose a new one.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn reset_password_link(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> AppResult<String> {
    write_tx(conn, |conn| {
        let target = get_user(conn, id)?;
        store::users::use_password_tokens(conn, id, now)?;
        store::users::delete_sessions_of(conn, id)?;
        // The reset is how a locked-out user gets back in.
        store::users::clear_failures(conn, &target.email, None)?;
        let token = new_password_link(conn, id, now)?;
        audit(
            conn,
            actor,
            "user.password_reset",
            &target.email,
            "set-password link issued; sessions ended",
            now,
        )?;
        Ok(token)
    })
}

#[tracing::instrument(skip_all)]
pub fn password_link_user(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> AppResult<User> {
    store::users::find_password_token(conn, &tokens::hash_token(token), now)?
        .ok_or(AppError::NotFound)
        .and_then(User::from_row)
}

#[tracing::instrument(skip_all)]
pub async fn use_password_link(
    pool: &Pool,
    token: &str,
    new_password: &str,
    confirm: &str,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    auth::check_new_password(new_password, confirm)
        .map_err(|m| AppError::invalid("password", m))?;
    let hash = hash_off_thread(new_password).await?;
    let (token, ip) = (token.to_string(), ip.to_string());
    with_conn(pool, move |conn| {
        write_tx(conn, |conn| {
            let user = password_link_user(conn, &token, now)?;
            store::users::set_password_hash(conn, user.id, &hash, now)?;
            store::users::use_password_tokens(conn, user.id, now)?;
            store::users::delete_sessions_of(conn, user.id)?;
            store::users::clear_failures(conn, &user.email, None)?;
            audit(
                conn,
                &user.actor(&ip),
                "user.password_changed",
                &user.email,
                "via a one-time link",
                now,
            )
        })
    })
    .await
}

pub struct PasswordChange {
    pub current: String,
    pub new: String,
    pub confirm: String,
}

/// A signed-in user changes their own password; their other sessions end.
#[tracing::instrument(skip_all)]
pub async fn change_own_password(
    pool: &Pool,
    session: &ActiveSession,
    change: &PasswordChange,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let user_id = session.user.id;
    let stored = with_conn(pool, move |conn| {
        let row = store::users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
        Ok(row.password_hash)
    })
    .await?;
    let current = change.current.clone();
    let current_ok =
        off_thread(move || Ok(stored.is_some_and(|h| password::verify(&h, &current)))).await?;
    let mut errors = FieldErrors::default();
    if !current_ok {
        errors.add("current_password", "This is not your current password.");
    }
    if let Err(message) = auth::check_new_password(&change.new, &change.confirm) {
        errors.add("password", message);
    }
    errors.into_result()?;
    let hash = hash_off_thread(&change.new).await?;
    let (session, ip) = (session.clone(), ip.to_string());
    with_conn(pool, move |conn| {
        write_tx(conn, |conn| {
            let user = &session.user;
            store::users::set_password_hash(conn, user.id, &hash, now)?;
            store::users::delete_other_sessions(conn, user.id, &session.token_hash)?;
            audit(
                conn,
                &user.actor(&ip),
                "user.password_changed",
                &user.email,
                "by the user",
                now,
            )
        })
    })
    .await
}
