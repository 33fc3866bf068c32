//! Signing in and out, and the session each request resumes. The throttle
//! itself is `auth::lockout`.

use chrono::{Duration, NaiveDateTime};

use super::{off_thread, with_conn, User};
use crate::auth::{self, lockout, password, tokens};
use crate::error::{AppError, AppResult};
use crate::store::{self, write_tx, DbConn, Pool};
use crate::usecases::audit::{audit, Actor};

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

    /// With one more failure, now.
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

#[tracing::instrument(skip_all)]
pub async fn log_in(
    pool: &Pool,
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
    let (check_email, check_ip) = (email.clone(), ip.clone());
    let checked = with_conn(pool, move |conn| {
        let (email, ip) = (&check_email, &check_ip);
        let window_start = now - Duration::minutes(lockout::IP_WINDOW_MINUTES);
        if store::users::failures_for_ip(conn, ip, window_start)? >= lockout::IP_THRESHOLD {
            return Ok(Err(LoginOutcome::Throttled));
        }
        let failures = store::users::failures_for_email(conn, email, now - lockout::lookback())?;
        let failures = Failures::new(&failures, ip);
        if let Some(outcome) = failures.locked(now) {
            let actor = Actor::anonymous(email, ip);
            audit(conn, &actor, "login.refused_locked", email, "", now)?;
            return Ok(Err(outcome));
        }
        Ok(Ok((failures, store::users::find_by_email(conn, email)?)))
    })
    .await?;
    let (failures, row) = match checked {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };

    // Verify outside any transaction and with no connection held.
    let password_given = attempt.password.to_string();
    let (row, verified) = off_thread(move || {
        let verified = match &row {
            Some(row) if row.password_hash.is_some() => password::verify(
                row.password_hash.as_deref().unwrap_or_default(),
                &password_given,
            ),
            _ => {
                password::verify_against_dummy(&password_given);
                false
            }
        };
        Ok((row, verified))
    })
    .await?;

    let replaces_session = attempt.replaces_session.map(tokens::hash_token);
    with_conn(pool, move |conn| {
        let ip = &ip;
        let actor = Actor::anonymous(&email, ip);
        match row {
            Some(row) if verified && row.active => {
                let user = User::from_row(row)?;
                let token = tokens::random_token();
                write_tx(conn, |conn| {
                    if let Some(old) = &replaces_session {
                        store::users::delete_session(conn, old)?;
                    }
                    store::users::record_attempt(conn, &email, ip, true, now)?;
                    store::users::clear_failures(conn, &email, Some(ip))?;
                    store::users::insert_session(conn, &tokens::hash_token(&token), user.id, now)?;
                    audit(conn, &user.actor(ip), "login.succeeded", &email, "", now)
                })?;
                Ok(LoginOutcome::SignedIn { token, user })
            }
            // The right password is not a guess: it counts towards no lock.
            Some(_) if verified => {
                audit(conn, &actor, "login.refused_deactivated", &email, "", now)?;
                Ok(LoginOutcome::Deactivated)
            }
            _ => {
                write_tx(conn, |conn| {
                    store::users::record_attempt(conn, &email, ip, false, now)?;
                    audit(conn, &actor, "login.failed", &email, "", now)?;
                    if failures.clone().and_one_at(now).locked(now).is_some() {
                        let why = "too many failed attempts";
                        audit(conn, &actor, "login.locked", &email, why, now)?;
                    }
                    Ok::<_, AppError>(())
                })?;
                Ok(LoginOutcome::Invalid)
            }
        }
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
