//! The app's cookies: their names and the attributes they all share.
//!
//! Behind https the names carry the `__Host-` prefix, which browsers honour
//! only for a cookie that is `Secure`, has `Path=/` and no `Domain`: a
//! sibling subdomain or a plain-http page cannot plant one of ours.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest};

use super::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppCookie {
    /// The session token (its hash is the server-side session's key).
    Session,
    /// The CSRF seed that form tokens are signed from.
    Csrf,
    /// A signed one-shot message for the page after a redirect.
    Flash,
}

impl AppCookie {
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (AppCookie::Session, false) => "aftercare_session",
            (AppCookie::Session, true) => "__Host-aftercare_session",
            (AppCookie::Csrf, false) => "aftercare_csrf",
            (AppCookie::Csrf, true) => "__Host-aftercare_csrf",
            (AppCookie::Flash, false) => "aftercare_flash",
            (AppCookie::Flash, true) => "__Host-aftercare_flash",
        }
    }
}

pub fn state(req: &HttpRequest) -> AppState {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .get_ref()
        .clone()
}

/// Our cookie with our defaults: HttpOnly, SameSite=Lax, Path=/, and Secure
/// (with the `__Host-` name) when the base URL is https.
pub fn set(state: &AppState, which: AppCookie, value: String) -> Cookie<'static> {
    let secure = state.settings.secure_cookies();
    Cookie::build(which.name(secure), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// A cookie that tells the browser to forget ours.
pub fn removal(state: &AppState, which: AppCookie) -> Cookie<'static> {
    let mut c = set(state, which, String::new());
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// The value of our cookie on this request.
pub fn get(req: &HttpRequest, state: &AppState, which: AppCookie) -> Option<String> {
    req.cookie(which.name(state.settings.secure_cookies()))
        .map(|c| c.value().to_string())
}
