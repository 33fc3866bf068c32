//! Who is asking: the session cookie, role policies, the page context every
//! template gets, and flash messages.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::csrf::CsrfSeed;
use super::AppState;
use crate::accounts::{self, ActiveSession, User};
use crate::auth::tokens::Purpose;
use crate::auth::Role;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "aftercare_session";
pub const FLASH_COOKIE: &str = "aftercare_flash";

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

pub fn state(req: &HttpRequest) -> AppState {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .get_ref()
        .clone()
}

/// Builds a cookie with our defaults: HttpOnly, SameSite=Lax, Secure on https.
pub fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .finish()
}

pub fn removal_cookie(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, String::new());
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// The request's session, looked up once and cached in the request.
#[derive(Clone)]
struct SessionCache(Option<ActiveSession>);

pub async fn current_session(req: &HttpRequest) -> Result<Option<ActiveSession>, AppError> {
    if let Some(cached) = req.extensions().get::<SessionCache>() {
        return Ok(cached.0.clone());
    }
    let session = match req.cookie(SESSION_COOKIE) {
        None => None,
        Some(cookie) => {
            let state = state(req);
            let token = cookie.value().to_string();
            let now = state.now();
            let idle = chrono::Duration::from_std(state.settings.session_idle).unwrap_or_default();
            let max_age =
                chrono::Duration::from_std(state.settings.session_max_age).unwrap_or_default();
            state
                .db(move |conn| accounts::resume_session(conn, &token, idle, max_age, now))
                .await?
        }
    };
    req.extensions_mut().insert(SessionCache(session.clone()));
    Ok(session)
}

/// Who may use a route. Each handler names its policy in its signature, so
/// the route table and the access rules are read in one place.
pub trait Policy {
    const ROLES: &'static [Role];
}

/// Any signed-in user.
pub struct SignedIn;
impl Policy for SignedIn {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Practitioner, Role::Staff];
}

/// Clinic admins only: users, clinic settings, the protocol, the audit log.
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Those who record treatments: practitioners and admins.
pub struct Clinicians;
impl Policy for Clinicians {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Practitioner];
}

/// The front desk's tools (the outbox): staff and admins.
pub struct FrontDesk;
impl Policy for FrontDesk {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Staff];
}

/// A signed-in user whose role the policy `P` allows. Anonymous requests are
/// sent to the log-in page; other roles get 403.
pub struct Auth<P: Policy> {
    pub session: ActiveSession,
    _policy: PhantomData<P>,
}

impl<P: Policy> Auth<P> {
    pub fn user(&self) -> &User {
        &self.session.user
    }
}

impl<P: Policy + 'static> FromRequest for Auth<P> {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match current_session(&req).await? {
                None => {
                    // After log-in, return to the page asked for; a POST has no page to return to.
                    let next = if req.method() == actix_web::http::Method::GET {
                        req.uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_else(|| "/".into())
                    } else {
                        "/".into()
                    };
                    Err(AppError::LoginRequired { next })
                }
                Some(session) if P::ROLES.contains(&session.user.role) => Ok(Auth {
                    session,
                    _policy: PhantomData,
                }),
                Some(_) => Err(AppError::Forbidden),
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: String,
    pub text: String,
}

/// A one-shot message for the next page, carried in a cookie so it survives
/// the redirect after a POST.
pub fn flash_cookie(state: &AppState, kind: &str, text: &str) -> Cookie<'static> {
    let value = URL_SAFE_NO_PAD.encode(format!("{kind}\n{text}"));
    cookie(state, FLASH_COOKIE, value)
}

fn read_flash(req: &HttpRequest) -> Option<Flash> {
    let raw = URL_SAFE_NO_PAD
        .decode(req.cookie(FLASH_COOKIE)?.value())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (kind, text) = text.split_once('\n')?;
    let kind = if kind == "error" { "error" } else { "success" };
    Some(Flash {
        kind: kind.into(),
        text: text.into(),
    })
}

/// Marks that this response showed the flash, so the cookie middleware clears it.
#[derive(Clone, Copy)]
pub struct FlashShown;

/// What the base layout needs on every page.
pub struct PageCtx {
    pub user: Option<User>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
}

impl PageCtx {
    pub fn is_admin(&self) -> bool {
        self.has_role(&[Role::Admin])
    }
    pub fn can_record(&self) -> bool {
        self.has_role(Clinicians::ROLES)
    }
    pub fn is_front_desk(&self) -> bool {
        self.has_role(FrontDesk::ROLES)
    }
    fn has_role(&self, roles: &[Role]) -> bool {
        self.user.as_ref().is_some_and(|u| roles.contains(&u.role))
    }
}

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = current_session(&req).await?.map(|s| s.user);
            let seed = req
                .extensions()
                .get::<CsrfSeed>()
                .map(|s| s.0.clone())
                .unwrap_or_default();
            let csrf_token = state(&req).keys.sign(Purpose::Csrf, &seed);
            let flash = read_flash(&req);
            if flash.is_some() {
                req.extensions_mut().insert(FlashShown);
            }
            Ok(PageCtx {
                user,
                csrf_token,
                flash,
            })
        })
    }
}
