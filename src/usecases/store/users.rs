//! Users, their sessions, log-in attempts and one-time password links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::insert_returning_id;
use super::schema::{login_attempts, password_tokens, sessions, user_locations, users};
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub active: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: Option<&'a str>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn insert(conn: &mut DbConn, new: &NewUser) -> QueryResult<i64> {
    insert_returning_id!(
        conn,
        diesel::insert_into(users::table).values(new),
        users::id
    )
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    users::table
        .order((users::active.desc(), users::name.asc()))
        .select(UserRow::as_select())
        .load(conn)
}

/// The locations a user is assigned to (none: every location).
pub fn locations_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<i64>> {
    user_locations::table
        .filter(user_locations::user_id.eq(user_id))
        .select(user_locations::location_id)
        .order(user_locations::location_id)
        .load(conn)
}

/// Every assignment, as (user, location), for the users list.
pub fn all_assignments(conn: &mut DbConn) -> QueryResult<Vec<(i64, i64)>> {
    user_locations::table
        .select((user_locations::user_id, user_locations::location_id))
        .load(conn)
}

pub fn set_locations(conn: &mut DbConn, user_id: i64, locations: &[i64]) -> QueryResult<()> {
    diesel::delete(user_locations::table.filter(user_locations::user_id.eq(user_id)))
        .execute(conn)?;
    for &location in locations {
        diesel::insert_into(user_locations::table)
            .values((
                user_locations::user_id.eq(user_id),
                user_locations::location_id.eq(location),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn count_active_admins(conn: &mut DbConn) -> QueryResult<i64> {
    users::table
        .filter(
            users::role
                .eq(crate::auth::Role::Admin.as_str())
                .and(users::active.eq(true)),
        )
        .count()
        .get_result(conn)
}

pub fn set_role(conn: &mut DbConn, id: i64, role: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .execute(conn)
}

pub fn set_active(
    conn: &mut DbConn,
    id: i64,
    active: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::active.eq(active), users::updated_at.eq(now)))
        .execute(conn)
}

pub fn set_password_hash(
    conn: &mut DbConn,
    id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
}

/// Ends a user's password: nothing signs in as them until they set a new one.
pub fn clear_password_hash(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(None::<String>),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

// --- sessions -------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

pub fn insert_session(
    conn: &mut DbConn,
    token_hash: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)
}

pub fn find_session(
    conn: &mut DbConn,
    token_hash: &str,
) -> QueryResult<Option<(SessionRow, UserRow)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .get_result(conn)
        .optional()
}

pub fn touch_session(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
}

pub fn delete_session(conn: &mut DbConn, token_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash))).execute(conn)
}

/// Ends every session of a user, e.g. when deactivated or their password is reset.
pub fn delete_sessions_of(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Ends a user's other sessions (after they change their own password).
pub fn delete_other_sessions(
    conn: &mut DbConn,
    user_id: i64,
    keep_hash: &str,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::token_hash.ne(keep_hash)),
    )
    .execute(conn)
}

pub fn delete_sessions_seen_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::last_seen_at.lt(cutoff))).execute(conn)
}

// --- log-in attempts --------------------------------------------------------

/// Records an attempt; its id.
pub fn record_attempt(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    succeeded: bool,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    insert_returning_id!(
        conn,
        diesel::insert_into(login_attempts::table).values((
            login_attempts::email.eq(email),
            login_attempts::ip.eq(ip),
            login_attempts::succeeded.eq(succeeded),
            login_attempts::at.eq(now),
        )),
        login_attempts::id
    )
}

/// Forgets one attempt (a failure reserved for a password that was right).
pub fn delete_attempt(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.find(id)).execute(conn)
}

/// Serialises the throttle's read-then-record for the rest of the write
/// transaction, so parallel attempts each see the others' failures. SQLite's
/// `BEGIN IMMEDIATE` (behind the process's writer lock) already does; on
/// PostgreSQL a transaction-scoped advisory lock does it.
pub fn lock_attempts(conn: &mut DbConn) -> QueryResult<()> {
    /// "loginatt" in ASCII: any number, the same in every instance.
    const ATTEMPTS_LOCK: i64 = 0x6c6f_6769_6e61_7474;
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Pg(c) => diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(ATTEMPTS_LOCK)
            .execute(c)
            .map(|_| ()),
    }
}

/// Failed attempts for an email since `since`, newest first (their times).
/// An account's failed log-ins since `since`: when, and from which address.
pub fn failures_for_email(
    conn: &mut DbConn,
    email: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::at.ge(since))
        .order(login_attempts::at.desc())
        .select((login_attempts::at, login_attempts::ip))
        .load(conn)
}

pub fn failures_for_ip(conn: &mut DbConn, ip: &str, since: NaiveDateTime) -> QueryResult<i64> {
    login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::at.ge(since))
        .count()
        .get_result(conn)
}

/// Clears an account's failures: those from one address (a successful
/// log-in from it), or all of them (a password reset).
pub fn clear_failures(conn: &mut DbConn, email: &str, ip: Option<&str>) -> QueryResult<usize> {
    let failures = login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::succeeded.eq(false))
        .into_boxed();
    let failures = match ip {
        Some(ip) => failures.filter(login_attempts::ip.eq(ip)),
        None => failures,
    };
    let ids: Vec<i64> = failures.select(login_attempts::id).load(conn)?;
    diesel::delete(login_attempts::table.filter(login_attempts::id.eq_any(ids))).execute(conn)
}

// --- one-time password links -----------------------------------------------

pub fn insert_password_token(
    conn: &mut DbConn,
    token_hash: &str,
    nonce: &str,
    user_id: i64,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(password_tokens::table)
        .values((
            password_tokens::token_hash.eq(token_hash),
            password_tokens::nonce.eq(nonce),
            password_tokens::user_id.eq(user_id),
            password_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// The nonce and expiry of a user's newest link still good at `now`.
pub fn open_password_token(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<(String, NaiveDateTime)>> {
    password_tokens::table
        .inner_join(users::table)
        .filter(password_tokens::user_id.eq(user_id))
        .filter(password_tokens::used_at.is_null())
        .filter(password_tokens::expires_at.gt(now))
        .filter(users::active.eq(true))
        .filter(password_tokens::nonce.is_not_null())
        .order(password_tokens::id.desc())
        .select((
            password_tokens::nonce.assume_not_null(),
            password_tokens::expires_at,
        ))
        .first(conn)
        .optional()
}

/// The user a still-valid, unused link belongs to.
pub fn find_password_token(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<UserRow>> {
    password_tokens::table
        .inner_join(users::table)
        .filter(password_tokens::token_hash.eq(token_hash))
        .filter(password_tokens::used_at.is_null())
        .filter(password_tokens::expires_at.gt(now))
        .filter(users::active.eq(true))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

/// Marks every open link of a user used (one link set, all older ones dead).
pub fn use_password_tokens(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        password_tokens::table
            .filter(password_tokens::user_id.eq(user_id))
            .filter(password_tokens::used_at.is_null()),
    )
    .set(password_tokens::used_at.eq(now))
    .execute(conn)
}

// --- housekeeping -----------------------------------------------------------

pub fn delete_sessions_created_before(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::created_at.lt(cutoff))).execute(conn)
}

pub fn delete_attempts_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::at.lt(cutoff))).execute(conn)
}

/// Deletes links already used or past their expiry.
pub fn delete_spent_password_tokens(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        password_tokens::table.filter(
            password_tokens::used_at
                .is_not_null()
                .or(password_tokens::expires_at.le(now)),
        ),
    )
    .execute(conn)
}
