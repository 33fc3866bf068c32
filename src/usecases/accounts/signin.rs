//! Signing in and out, and the session each request resumes. The throttle
//! itself is `auth::lockout`.

use chrono::{Duration, NaiveDateTime};

use super::{with_conn, User};
use crate::auth::{self, lockout, password, tokens};
use crate::error::{AppError, AppResult};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::gate::Gate;
use crate::usecases::store::{self, users::UserRow, write_tx, DbConn, Pool};

pub enum LoginOutcome {
    /// Signed in: the new session's token for the cookie.
    SignedIn { token: String, user: User },
    /// Wrong email or password (deliberately the same).
    Invalid,
    /// The right password for an account an admin has deactivated.
    Deactivated,
    /// Too many failures for this account: from this address, or (when
    /// `everywhere`) from all addresses together. Locked for `minutes` more.
    Locked { minutes: i64, everywhere: bool },
    /// Too many failures from this client address.
    Throttled,
}

/// A log-in attempt, as the form and the connection give it.
pub struct LoginAttempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub ip: &'a str,
    /// The browser's current session, if any: signing in again ends it.
    pub replaces_session: Option<&'a str>,
}

/// An account's recent failed log-ins, all of them and those from the
/// address signing in now (see `auth::lockout`).
#[derive(Clone)]
struct Failures {
    all: Vec<NaiveDateTime>,
    from_here: Vec<NaiveDateTime>,
}

impl Failures {
    fn new(failures: &[(NaiveDateTime, String)], ip: &str) -> Failures {
        Failures {
            all: failures.iter().map(|(at, _)| *at).collect(),
            from_here: failures
                .iter()
                .filter(|(_, from)| from == ip)
                .map(|(at, _)| *at)
                .collect(),
        }
    }

    /// With one more failure, now: this attempt's, reserved before its check.
    fn and_one_at(mut self, now: NaiveDateTime) -> Failures {
        self.all.push(now);
        self.from_here.push(now);
        self
    }

    fn locked(&self, now: NaiveDateTime) -> Option<LoginOutcome> {
        let minutes_until = |t: NaiveDateTime| ((t - now).num_seconds() + 59) / 60;
        if let Some(t) = lockout::PER_ACCOUNT.locked_until(&self.all, now) {
            return Some(LoginOutcome::Locked {
                minutes: minutes_until(t),
                everywhere: true,
            });
        }
        lockout::PER_ACCOUNT_AND_ADDRESS
            .locked_until(&self.from_here, now)
            .map(|t| LoginOutcome::Locked {
                minutes: minutes_until(t),
                everywhere: false,
            })
    }
}

/// What checking a password against the throttle gave.
pub(super) enum PasswordCheck {
    /// Not checked: locked or throttled.
    Refused(LoginOutcome),
    /// Wrong (or no such account): counted as a failure and audited.
    Wrong,
    /// Right. The failure reserved for it (`attempt_id`) is still recorded:
    /// the caller forgets it in its own transaction ([`release`]).
    Right { row: UserRow, attempt_id: i64 },
}

/// Checks `password` for the account `email` from `ip` the way sign-in does,
/// so every place that asks for a password is throttled alike: the limits are
/// checked and a failure recorded for this attempt in one write transaction
/// *before* argon2 runs (under the gate, with no connection held), so
/// parallel guesses each count, and no more are checked than the limits
/// allow. A wrong password keeps its failure and is audited as `failed_action`.
pub(super) async fn check_password(
    pool: &Pool,
    gate: &Gate,
    email: &str,
    ip: &str,
    password: &str,
    failed_action: &'static str,
    now: NaiveDateTime,
) -> AppResult<PasswordCheck> {
    let (email, ip) = (email.to_string(), ip.to_string());
    let (check_email, check_ip) = (email.clone(), ip.clone());
    let reserved = with_conn(pool, move |conn| {
        let (email, ip) = (&check_email, &check_ip);
        write_tx(conn, |conn| {
            store::users::lock_attempts(conn)?;
            let window_start = now - Duration::minutes(lockout::IP_WINDOW_MINUTES);
            if store::users::failures_for_ip(conn, ip, window_start)? >= lockout::IP_THRESHOLD {
                return Ok(Err(LoginOutcome::Throttled));
            }
            let failures =
                store::users::failures_for_email(conn, email, now - lockout::lookback())?;
            let failures = Failures::new(&failures, ip);
            if let Some(outcome) = failures.locked(now) {
                let actor = Actor::anonymous(email, ip);
                audit(conn, &actor, "login.refused_locked", email, "", now)?;
                return Ok(Err(outcome));
            }
            let attempt_id = store::users::record_attempt(conn, email, ip, false, now)?;
            let row = store::users::find_by_email(conn, email)?;
            Ok::<_, AppError>(Ok((attempt_id, failures.and_one_at(now), row)))
        })
    })
    .await?;
    let (attempt_id, failures, row) = match reserved {
        Ok(reserved) => reserved,
        Err(outcome) => return Ok(PasswordCheck::Refused(outcome)),
    };

    let password_given = password.to_string();
    let verified = gate
        .run(move || {
            let verified = match &row {
                Some(UserRow {
                    password_hash: Some(hash),
                    ..
                }) => password::verify(hash, &password_given),
                _ => {
                    password::verify_against_dummy(&password_given);
                    false
                }
            };
            (row, verified)
        })
        .await;
    match verified {
        Ok((Some(row), true)) => return Ok(PasswordCheck::Right { row, attempt_id }),
        Ok(_) => {}
        Err(busy) => {
            // Not checked, so not a failure.
            release(pool, attempt_id).await?;
            return Err(busy);
        }
    }
    with_conn(pool, move |conn| {
        let actor = Actor::anonymous(&email, &ip);
        write_tx(conn, |conn| {
            audit(conn, &actor, failed_action, &email, "", now)?;
            if failures.locked(now).is_some() {
                let why = "too many failed attempts";
                audit(conn, &actor, "login.locked", &email, why, now)?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await?;
    Ok(PasswordCheck::Wrong)
}

/// Forgets the failure reserved for a password that turned out right (or
/// was never checked).
pub(super) async fn release(pool: &Pool, attempt_id: i64) -> AppResult<()> {
    with_conn(pool, move |conn| {
        store::write(conn, |conn| store::users::delete_attempt(conn, attempt_id))?;
        Ok(())
    })
    .await
}

#[tracing::instrument(skip_all)]
pub async fn log_in(
    pool: &Pool,
    gate: &Gate,
    attempt: &LoginAttempt<'_>,
    now: NaiveDateTime,
) -> AppResult<LoginOutcome> {
    // What was typed is kept for the throttle and the audit log, but never
    // more than an address can be, and never a control character.
    let email: String = auth::normalize_email(attempt.email)
        .chars()
        .filter(|c| !crate::usecases::fields::forbidden_in_line(*c))
        .take(crate::usecases::fields::MAX_EMAIL_LEN)
        .collect();
    let ip = attempt.ip.to_string();
    let checked = check_password(
        pool,
        gate,
        &email,
        &ip,
        attempt.password,
        "login.failed",
        now,
    )
    .await?;
    let (row, attempt_id) = match checked {
        PasswordCheck::Refused(outcome) => return Ok(outcome),
        PasswordCheck::Wrong => return Ok(LoginOutcome::Invalid),
        PasswordCheck::Right { row, attempt_id } => (row, attempt_id),
    };
    if !row.active {
        // The right password is not a guess: it counts towards no lock.
        let actor = Actor::anonymous(&email, &ip);
        with_conn(pool, move |conn| {
            write_tx(conn, |conn| {
                store::users::delete_attempt(conn, attempt_id)?;
                audit(conn, &actor, "login.refused_deactivated", &email, "", now)
            })
        })
        .await?;
        return Ok(LoginOutcome::Deactivated);
    }
    let replaces_session = attempt.replaces_session.map(tokens::hash_token);
    with_conn(pool, move |conn| {
        let user = User::from_row(row)?;
        let token = tokens::random_token();
        write_tx(conn, |conn| {
            if let Some(old) = &replaces_session {
                store::users::delete_session(conn, old)?;
            }
            store::users::delete_attempt(conn, attempt_id)?;
            store::users::record_attempt(conn, &email, &ip, true, now)?;
            store::users::clear_failures(conn, &email, Some(&ip))?;
            store::users::insert_session(conn, &tokens::hash_token(&token), user.id, now)?;
            audit(conn, &user.actor(&ip), "login.succeeded", &email, "", now)
        })?;
        Ok(LoginOutcome::SignedIn { token, user })
    })
    .await
}

/// A session that is still good, with its user.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub user: User,
    pub token_hash: String,
}

/// How often `last_seen_at` is refreshed at most; refreshing on every request
/// would turn every page view into a write.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// How stale `last_seen_at` may grow before a request refreshes it: a minute,
/// or half the idle limit when that is shorter, so someone active is never
/// taken for idle.
fn touch_after(idle: Duration) -> Duration {
    Duration::seconds(TOUCH_AFTER_SECONDS).min(idle / 2)
}

#[tracing::instrument(skip_all)]
pub fn resume_session(
    conn: &mut DbConn,
    token: &str,
    idle: Duration,
    max_age: Duration,
    now: NaiveDateTime,
) -> AppResult<Option<ActiveSession>> {
    let token_hash = tokens::hash_token(token);
    let Some((session, row)) = store::users::find_session(conn, &token_hash)? else {
        return Ok(None);
    };
    let expired = now - session.last_seen_at > idle || now - session.created_at > max_age;
    if expired || !row.active {
        store::users::delete_session(conn, &token_hash)?;
        return Ok(None);
    }
    if now - session.last_seen_at > touch_after(idle) {
        store::write(conn, |conn| {
            store::users::touch_session(conn, session.id, now)
        })?;
    }
    Ok(Some(ActiveSession {
        user: User::from_row(row)?,
        token_hash,
    }))
}

#[tracing::instrument(skip_all)]
pub fn log_out(
    conn: &mut DbConn,
    session: &ActiveSession,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        store::users::delete_session(conn, &session.token_hash)?;
        audit(
            conn,
            &session.user.actor(ip),
            "logout",
            &session.user.email,
            "",
            now,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_refreshed_well_within_the_idle_limit() {
        assert_eq!(touch_after(Duration::hours(8)), Duration::seconds(60));
        assert_eq!(touch_after(Duration::seconds(90)), Duration::seconds(45));
        assert_eq!(touch_after(Duration::minutes(5)), Duration::seconds(60));
    }
}
