//! Flash messages: one line for the page after a redirect ("Patient
//! saved."), carried in a signed cookie so no other site or script can put
//! words in the app's mouth, and cleared once a page has shown it.

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::cookies::{self, AppCookie};
use super::AppState;
use crate::auth::tokens::Purpose;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: String,
    pub text: String,
}

/// What a flash tells: it went well, or something needs a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

impl FlashKind {
    /// The name the page's style knows it by (and the cookie carries).
    pub fn as_str(self) -> &'static str {
        match self {
            FlashKind::Success => "success",
            FlashKind::Error => "error",
        }
    }
}

/// 303 See Other to `to`, with `text` shown once on the page there: the one
/// way a form's POST says what it did.
pub fn redirect_with_flash(
    state: &AppState,
    to: &str,
    kind: FlashKind,
    text: &str,
) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .cookie(flash_cookie(state, kind, text))
        .finish()
}

fn flash_cookie(state: &AppState, kind: FlashKind, text: &str) -> Cookie<'static> {
    let payload = URL_SAFE_NO_PAD.encode(format!("{}\n{text}", kind.as_str()));
    cookies::set(
        state,
        AppCookie::Flash,
        state.keys.seal(Purpose::Flash, &payload),
    )
}

/// This request's flash, if it carries one we signed.
pub fn read(req: &HttpRequest, state: &AppState) -> Option<Flash> {
    let sealed = cookies::get(req, state, AppCookie::Flash)?;
    let payload = state.keys.open(Purpose::Flash, &sealed)?;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let (kind, text) = text.split_once('\n')?;
    let kind = if kind == "error" { "error" } else { "success" };
    Some(Flash {
        kind: kind.into(),
        text: text.into(),
    })
}

/// Marks that this response showed the flash, so [`clear_shown`] removes it.
#[derive(Clone, Copy)]
pub struct FlashShown;

/// Clears a flash once a page has shown it (unless the response sets a new one).
pub async fn clear_shown(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let shown = res.request().extensions().get::<FlashShown>().is_some();
    if shown {
        let state = cookies::state(res.request());
        let name = AppCookie::Flash.name(state.settings.secure_cookies());
        if !res.response().cookies().any(|c| c.name() == name) {
            res.response_mut()
                .add_cookie(&cookies::removal(&state, AppCookie::Flash))?;
        }
    }
    Ok(res)
}
