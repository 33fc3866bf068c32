//! Use cases for people and access: first-run setup, log-in, sessions,
//! managing users, passwords. Each runs in one transaction on a blocking
//! thread (the web layer calls them through `web::block`). Those that hash
//! or verify a password are async and take the pool and the hashing gate
//! instead: argon2 takes tens of milliseconds and 19 MiB, so it runs on the
//! blocking pool with no connection checked out (and no write lock held),
//! a few at a time (`usecases::gate`), and a burst of log-ins can neither
//! drain the pool nor grow the process without bound.

use chrono::{Duration, NaiveDateTime};

use crate::auth::tokens::{Keys, Purpose};
use crate::auth::{self, password, tokens, Role};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::gate::Gate;
use crate::usecases::sites::Sites;
use crate::usecases::store::{self, users::NewUser, users::UserRow, write_tx, DbConn, Pool};

mod passwords;
mod signin;

pub use passwords::*;
pub use signin::*;

/// Runs `f` on the blocking pool with a connection checked out only for it.
async fn with_conn<T: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || f(&mut *pool.get()?))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// Hashes `password` on the blocking pool, under the gate.
async fn hash_gated(gate: &Gate, password: &str) -> AppResult<String> {
    let password = password.to_string();
    gate.run(move || password::hash(&password)).await
}

/// A signed-in user as the rest of the app sees them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

impl User {
    fn from_row(row: UserRow) -> AppResult<User> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| anyhow::anyhow!("user {} has unknown role {:?}", row.id, row.role))?;
        Ok(User {
            id: row.id,
            email: row.email,
            name: row.name,
            role,
            active: row.active,
        })
    }

    pub fn actor(&self, ip: &str) -> Actor {
        Actor {
            id: Some(self.id),
            label: self.email.clone(),
            ip: ip.to_string(),
        }
    }
}

// --- first run ---------------------------------------------------------------

const SETUP_TOKEN_KEY: &str = "setup_token_hash";

/// While no user exists, makes a fresh one-time setup token (only its hash is
/// stored) and returns it; `None` once someone has an account.
#[tracing::instrument(skip_all)]
pub fn issue_setup_token(conn: &mut DbConn) -> AppResult<Option<String>> {
    write_tx(conn, |conn| {
        if store::users::count(conn)? > 0 {
            store::settings::delete(conn, SETUP_TOKEN_KEY)?;
            return Ok(None);
        }
        let token = tokens::random_token();
        store::settings::put(conn, SETUP_TOKEN_KEY, &tokens::hash_token(&token))?;
        Ok(Some(token))
    })
}

/// Whether `token` is the live setup token.
#[tracing::instrument(skip_all)]
pub fn setup_token_is_valid(conn: &mut DbConn, token: &str) -> AppResult<bool> {
    let stored = store::settings::get(conn, SETUP_TOKEN_KEY)?;
    Ok(stored.is_some_and(|h| h == tokens::hash_token(token)) && store::users::count(conn)? == 0)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewUserInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_confirm: String,
    /// "password" (set one now) or "link" (send a one-time set-password link).
    #[serde(default)]
    pub password_mode: String,
}

struct ValidNewUser {
    name: String,
    email: String,
    role: Role,
    password_hash: Option<String>,
}

/// Whether the new user gets a password now (rather than a set-password link).
fn wants_password(input: &NewUserInput, require_password: bool) -> bool {
    require_password || input.password_mode != "link"
}

/// The new user's password hashed, when they get one now.
async fn new_user_hash(
    gate: &Gate,
    input: &NewUserInput,
    require_password: bool,
) -> AppResult<Option<String>> {
    match wants_password(input, require_password) {
        true => Ok(Some(hash_gated(gate, &input.password).await?)),
        false => Ok(None),
    }
}

/// `password_hash` is `input.password` hashed, when [`wants_password`].
fn validate_new_user(
    conn: &mut DbConn,
    input: &NewUserInput,
    password_hash: Option<String>,
) -> AppResult<ValidNewUser> {
    let mut errors = FieldErrors::default();
    let name = crate::usecases::fields::single_line(&mut errors, "name", &input.name, 200);
    if name.is_empty() {
        errors.add("name", "Enter the person's name.");
    }
    let email = auth::normalize_email(&input.email);
    if !crate::usecases::fields::is_sendable_email(&email) {
        errors.add("email", "Enter an email address like name@clinic.com.");
    } else if store::users::find_by_email(conn, &email)?.is_some() {
        errors.add("email", "Someone already has an account with this email.");
    }
    let role = Role::parse(&input.role);
    if role.is_none() {
        errors.add("role", "Choose a role.");
    }
    if password_hash.is_some() {
        if let Err(message) = auth::check_new_password(&input.password, &input.password_confirm) {
            errors.add("password", message);
        }
    }
    errors.into_result()?;
    Ok(ValidNewUser {
        name,
        email,
        role: role.expect("validated"),
        password_hash,
    })
}

fn insert_user(conn: &mut DbConn, user: &ValidNewUser, now: NaiveDateTime) -> AppResult<i64> {
    Ok(store::users::insert(
        conn,
        &NewUser {
            email: &user.email,
            name: &user.name,
            role: user.role.as_str(),
            password_hash: user.password_hash.as_deref(),
            active: true,
            created_at: now,
            updated_at: now,
        },
    )?)
}

/// Creates the first admin from the setup link; the link dies with it.
#[tracing::instrument(skip_all)]
pub async fn complete_setup(
    pool: &Pool,
    gate: &Gate,
    token: &str,
    input: &NewUserInput,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let hash = new_user_hash(gate, input, true).await?;
    let (token, input, ip) = (token.to_string(), input.clone(), ip.to_string());
    with_conn(pool, move |conn| {
        write_tx(conn, |conn| {
            if !setup_token_is_valid(conn, &token)? {
                return Err(AppError::NotFound);
            }
            let input = NewUserInput {
                role: Role::Admin.as_str().into(),
                ..input
            };
            let user = validate_new_user(conn, &input, hash)?;
            let id = insert_user(conn, &user, now)?;
            store::settings::delete(conn, SETUP_TOKEN_KEY)?;
            let actor = Actor::anonymous(&user.email, &ip);
            audit(
                conn,
                &actor,
                "user.created",
                &user.email,
                "first admin, via the setup link",
                now,
            )?;
            Ok(id)
        })
    })
    .await
}

/// What an admin gets back after adding a user.
pub struct AddedUser {
    pub id: i64,
    /// Whether they got a set-password link (shown on their page, see
    /// [`open_password_link`]) rather than a password.
    pub with_link: bool,
}

/// Set-password links stay valid this long.
pub const PASSWORD_LINK_HOURS: i64 = 72;

#[tracing::instrument(skip_all)]
pub async fn add_user(
    pool: &Pool,
    gate: &Gate,
    keys: &Keys,
    actor: &Actor,
    input: &NewUserInput,
    now: NaiveDateTime,
) -> AppResult<AddedUser> {
    let hash = new_user_hash(gate, input, false).await?;
    let (actor, input, keys) = (actor.clone(), input.clone(), keys.clone());
    with_conn(pool, move |conn| {
        write_tx(conn, |conn| {
            let user = validate_new_user(conn, &input, hash)?;
            let id = insert_user(conn, &user, now)?;
            let with_link = user.password_hash.is_none();
            if with_link {
                new_password_link(conn, &keys, id, now)?;
            }
            let how = if with_link {
                "with a set-password link"
            } else {
                "with an initial password"
            };
            audit(
                conn,
                &actor,
                "user.created",
                &user.email,
                &format!("role {}, {how}", user.role),
                now,
            )?;
            Ok(AddedUser { id, with_link })
        })
    })
    .await
}

/// Issues a set-password link. The database keeps a random nonce and the
/// hash of the link's token, which is the nonce signed with the app's key:
/// the admin's page can show the link again until it is used (it never
/// travels in a cookie), and a copy of the database alone cannot make it.
fn new_password_link(
    conn: &mut DbConn,
    keys: &Keys,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<()> {
    let nonce = tokens::random_token();
    let token = keys.sign(Purpose::PasswordLink, &nonce);
    store::users::insert_password_token(
        conn,
        &tokens::hash_token(&token),
        &nonce,
        user_id,
        now + Duration::hours(PASSWORD_LINK_HOURS),
    )?;
    Ok(())
}

/// A set-password link not yet used, as the admin's page shows it.
pub struct OpenLink {
    pub token: String,
    pub expires_at: NaiveDateTime,
}

impl OpenLink {
    /// The link itself, on the app at `base_url`.
    pub fn url(&self, base_url: &str) -> String {
        format!("{base_url}/set-password/{}", self.token)
    }

    /// Until when it works, as the admin's page and the email say it.
    pub fn expires(&self, l: crate::dates::Locale) -> String {
        format!(
            "{}, {} UTC",
            l.date(self.expires_at),
            l.time(self.expires_at)
        )
    }
}

/// Whether the user has a password (none yet: they were added with a link, or it was reset).
#[tracing::instrument(skip_all, fields(id = user_id))]
pub fn has_password(conn: &mut DbConn, user_id: i64) -> AppResult<bool> {
    Ok(store::users::find(conn, user_id)?
        .ok_or(AppError::NotFound)?
        .password_hash
        .is_some())
}

/// The user's newest set-password link that is still good, if any.
#[tracing::instrument(skip_all, fields(id = user_id))]
pub fn open_password_link(
    conn: &mut DbConn,
    keys: &Keys,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<Option<OpenLink>> {
    Ok(
        store::users::open_password_token(conn, user_id, now)?.map(|(nonce, expires_at)| {
            OpenLink {
                token: keys.sign(Purpose::PasswordLink, &nonce),
                expires_at,
            }
        }),
    )
}

#[tracing::instrument(skip_all)]
pub fn list_users(conn: &mut DbConn) -> AppResult<Vec<User>> {
    store::users::list(conn)?
        .into_iter()
        .map(User::from_row)
        .collect()
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn get_user(conn: &mut DbConn, id: i64) -> AppResult<User> {
    store::users::find(conn, id)?
        .ok_or(AppError::NotFound)
        .and_then(User::from_row)
}

/// The locations a user works at: admins see every location, and so does a user assigned
/// to none (a single-site clinic assigns nobody).
pub fn sites_of(conn: &mut DbConn, user: &User) -> AppResult<Sites> {
    if user.role == Role::Admin {
        return Ok(Sites::All);
    }
    Ok(match store::users::locations_of(conn, user.id)? {
        ids if ids.is_empty() => Sites::All,
        ids => Sites::Only(ids),
    })
}

/// Each user's assigned locations, by user id (users assigned to none are left out).
pub fn assignments(conn: &mut DbConn) -> AppResult<std::collections::BTreeMap<i64, Vec<i64>>> {
    let mut by_user = std::collections::BTreeMap::<i64, Vec<i64>>::new();
    for (user, location) in store::users::all_assignments(conn)? {
        by_user.entry(user).or_default().push(location);
    }
    Ok(by_user)
}

/// Assigns a user to these locations (ids the caller took from the clinic's list; none:
/// every location), audited.
#[tracing::instrument(skip_all, fields(id = id))]
pub fn set_locations(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    locations: &[i64],
    names: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let target = get_user(conn, id)?;
        store::users::set_locations(conn, id, locations)?;
        let detail = match names {
            "" => "every location".to_string(),
            names => names.to_string(),
        };
        audit(
            conn,
            actor,
            "user.locations_set",
            &target.email,
            &detail,
            now,
        )
    })
}

/// Refuses changes that would leave the clinic without an active admin.
fn ensure_admin_remains(conn: &mut DbConn, target: &User) -> AppResult<()> {
    if target.role == Role::Admin && target.active && store::users::count_active_admins(conn)? <= 1
    {
        return Err(AppError::invalid(
            "role",
            "This is the only active admin. Make someone else an admin first.",
        ));
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn change_role(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    role: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let role = Role::parse(role).ok_or_else(|| AppError::invalid("role", "Choose a role."))?;
    write_tx(conn, |conn| {
        let target = get_user(conn, id)?;
        if target.role == role {
            return Ok(());
        }
        ensure_admin_remains(conn, &target)?;
        store::users::set_role(conn, id, role.as_str(), now)?;
        audit(
            conn,
            actor,
            "user.role_changed",
            &target.email,
            &format!("{} → {role}", target.role),
            now,
        )
    })
}

#[tracing::instrument(skip_all, fields(id = id))]
pub fn set_active(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    active: bool,
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let target = get_user(conn, id)?;
        if target.active == active {
            return Ok(());
        }
        if !active {
            ensure_admin_remains(conn, &target)?;
            store::users::delete_sessions_of(conn, id)?;
            // An unused set-password link must not outlive the account.
            store::users::use_password_tokens(conn, id, now)?;
        }
        store::users::set_active(conn, id, active, now)?;
        let action = if active {
            "user.reactivated"
        } else {
            "user.deactivated"
        };
        audit(conn, actor, action, &target.email, "", now)
    })
}

/// Adds a user from the command line (no actor but the operator).
#[tracing::instrument(skip_all)]
pub fn add_user_from_cli(
    conn: &mut DbConn,
    input: &NewUserInput,
    now: NaiveDateTime,
) -> AppResult<i64> {
    // Hashed before the write transaction, so the writer lock is not held
    // for it (the command line has a connection of its own to hold).
    let hash = wants_password(input, true).then(|| password::hash(&input.password));
    write_tx(conn, |conn| {
        let user = validate_new_user(conn, input, hash)?;
        let id = insert_user(conn, &user, now)?;
        store::settings::delete(conn, SETUP_TOKEN_KEY)?;
        let actor = Actor::anonymous("command line", "-");
        audit(
            conn,
            &actor,
            "user.created",
            &user.email,
            &format!("role {}, from the command line", user.role),
            now,
        )?;
        Ok(id)
    })
}

/// What [`prune_spent`] deleted.
pub struct Spent {
    pub sessions: usize,
    pub login_attempts: usize,
    pub password_tokens: usize,
}

/// Deletes sessions idle since `idle_before` or begun before
/// `started_before`, log-in attempts before `attempts_before`, and password
/// links used or expired by `now`: none can be used again.
pub fn prune_spent(
    conn: &mut DbConn,
    now: NaiveDateTime,
    idle_before: NaiveDateTime,
    started_before: NaiveDateTime,
    attempts_before: NaiveDateTime,
) -> AppResult<Spent> {
    use store::users;
    Ok(Spent {
        sessions: users::delete_sessions_seen_before(conn, idle_before)?
            + users::delete_sessions_created_before(conn, started_before)?,
        login_attempts: users::delete_attempts_before(conn, attempts_before)?,
        password_tokens: users::delete_spent_password_tokens(conn, now)?,
    })
}
