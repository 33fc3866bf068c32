//! Passwords: an admin's reset (a one-time link), the user's new password
//! from that link, and a signed-in user changing their own.

use chrono::NaiveDateTime;

use super::signin::{check_password, release, PasswordCheck};
use super::{
    get_user, hash_gated, new_password_link, open_password_link, with_conn, ActiveSession,
    LoginOutcome, User,
};
use crate::auth::tokens::Keys;
use crate::auth::{self, tokens};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::gate::Gate;
use crate::usecases::store::{self, write_tx, DbConn, Pool};
use crate::{mail, mail::Mailer};

/// An admin resets someone's password: the old password stops working and
/// their sessions end at once (a reset is often made because a password
/// leaked), and a one-time link, shown on their page, lets them choose a
/// new one.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn reset_password_link(
    conn: &mut DbConn,
    keys: &Keys,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let target = get_user(conn, id)?;
        store::users::use_password_tokens(conn, id, now)?;
        store::users::clear_password_hash(conn, id, now)?;
        store::users::delete_sessions_of(conn, id)?;
        // The reset is how a locked-out user gets back in.
        store::users::clear_failures(conn, &target.email, None)?;
        new_password_link(conn, keys, id, now)?;
        audit(
            conn,
            actor,
            "user.password_reset",
            &target.email,
            "old password ended; set-password link issued; sessions ended",
            now,
        )
    })
}

/// Who account emails come from: the clinic's name and its sending address.
pub struct Sender {
    pub name: String,
    pub email: String,
    /// How the clinic writes dates (the link's expiry).
    pub locale: crate::dates::Locale,
}

/// What became of emailing someone their set-password link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEmail {
    /// Handed to the mail server, addressed to them.
    Sent { to: String },
    /// Not sent, and why: the admin must give them the link another way.
    Failed { to: String, reason: String },
    /// They have no open link (used, or expired): nothing to send.
    NoOpenLink,
}

/// Emails user `user_id` their open set-password link, at their own address only, and
/// audits whether it went (never the link itself). The send happens with no connection
/// held; a failure is returned, not swallowed, so the admin's page can say it.
#[tracing::instrument(skip_all, fields(id = user_id))]
#[allow(clippy::too_many_arguments)]
pub async fn email_password_link(
    pool: &Pool,
    mailer: &Mailer,
    keys: &Keys,
    sender: &Sender,
    base_url: &str,
    actor: &Actor,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<LinkEmail> {
    let keys = keys.clone();
    let (person, link) = with_conn(pool, move |conn| {
        Ok((
            get_user(conn, user_id)?,
            open_password_link(conn, &keys, user_id, now)?,
        ))
    })
    .await?;
    let Some(link) = link else {
        return Ok(LinkEmail::NoOpenLink);
    };
    let email = mail::account::compose_password_link(
        &sender.name,
        &person.name,
        &link.url(base_url),
        &link.expires(sender.locale),
    );
    let envelope = mail::Envelope {
        from_name: &sender.name,
        from_email: &sender.email,
        reply_to: None,
        to_name: &person.name,
        to_email: &person.email,
        subject: &email.subject,
        message_id: &mail::message_id("password-link", &sender.email),
        unsubscribe_url: None,
    };
    let sent = match mail::build_message(&envelope, email.text, email.html) {
        Ok(message) => mailer.send(message).await.map_err(|e| e.message),
        Err(e) => Err(format!("the email could not be made: {e}")),
    };
    let to = person.email.clone();
    let (outcome, action, detail) = match sent {
        Ok(()) => (
            LinkEmail::Sent { to: to.clone() },
            "user.password_link_emailed",
            "the set-password link, to their own address".to_string(),
        ),
        Err(reason) => (
            LinkEmail::Failed {
                to: to.clone(),
                reason: reason.clone(),
            },
            "user.password_link_email_failed",
            reason,
        ),
    };
    let actor = actor.clone();
    with_conn(pool, move |conn| {
        audit(conn, &actor, action, &to, &detail, now)
    })
    .await?;
    Ok(outcome)
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
    gate: &Gate,
    token: &str,
    new_password: &str,
    confirm: &str,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    auth::check_new_password(new_password, confirm)
        .map_err(|m| AppError::invalid("password", m))?;
    let hash = hash_gated(gate, new_password).await?;
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
/// The current password is checked as sign-in checks it (`check_password`):
/// wrong ones count as failed sign-ins for the account from this address,
/// lock it the same way, and are audited.
#[tracing::instrument(skip_all)]
pub async fn change_own_password(
    pool: &Pool,
    gate: &Gate,
    session: &ActiveSession,
    change: &PasswordChange,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let checked = check_password(
        pool,
        gate,
        &session.user.email,
        ip,
        &change.current,
        "user.password_change_failed",
        now,
    )
    .await?;
    let mut errors = FieldErrors::default();
    let attempt_id = match checked {
        PasswordCheck::Right { attempt_id, .. } => Some(attempt_id),
        PasswordCheck::Wrong => {
            errors.add("current_password", "This is not your current password.");
            None
        }
        PasswordCheck::Refused(LoginOutcome::Locked { minutes, .. }) => {
            errors.add(
                "current_password",
                format!(
                    "Too many wrong passwords: your account is locked for {}. \
                     Try again then, or ask a clinic admin to reset your password.",
                    crate::words::counted(minutes, "minute")
                ),
            );
            None
        }
        PasswordCheck::Refused(_) => {
            errors.add(
                "current_password",
                "There have been too many failed attempts from this computer. Wait 15 minutes and try again.",
            );
            None
        }
    };
    if let Err(message) = auth::check_new_password(&change.new, &change.confirm) {
        errors.add("password", message);
    }
    let attempt_id = match (attempt_id, errors.into_result()) {
        (Some(attempt_id), Ok(())) => attempt_id,
        (reserved, refused) => {
            if let Some(attempt_id) = reserved {
                release(pool, attempt_id).await?;
            }
            return Err(refused.err().unwrap_or_else(|| {
                AppError::invalid("current_password", "This is not your current password.")
            }));
        }
    };
    let hash = match hash_gated(gate, &change.new).await {
        Ok(hash) => hash,
        Err(e) => {
            release(pool, attempt_id).await?;
            return Err(e);
        }
    };
    let (session, ip) = (session.clone(), ip.to_string());
    with_conn(pool, move |conn| {
        write_tx(conn, |conn| {
            let user = &session.user;
            store::users::delete_attempt(conn, attempt_id)?;
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
