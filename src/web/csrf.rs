//! CSRF protection: a signed double-submit token, bound to the session.
//!
//! Every browser gets a random, HttpOnly seed cookie. A form carries
//! `csrf_token` = HMAC(secret, seed), and once signed in HMAC(secret, seed
//! and session). A cross-site page can make the browser send the cookie but
//! can neither read it nor compute the HMAC without our key; a token minted
//! for another session, or before sign-in, is refused. The seed is replaced
//! at sign-in and at sign-out.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use super::cookies::{self, AppCookie};
use super::session;
use super::AppState;
use crate::auth::tokens::{random_token, Purpose};
use crate::error::AppError;
use crate::usecases::accounts::ActiveSession;

/// This request's CSRF seed (from its cookie, or new).
#[derive(Clone)]
pub struct CsrfSeed(pub String);

/// Set on a response that replaces the seed (sign-in, sign-out), so the
/// middleware does not also set the old one.
#[derive(Clone)]
struct SeedReplaced;

/// A whole form must arrive within this long: a body that trickles in
/// would otherwise hold a connection (and a worker) open for minutes.
pub const FORM_DEADLINE: Duration = Duration::from_secs(8);

/// Makes sure every browser has a CSRF seed.
pub async fn seed_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = cookies::state(req.request());
    let existing = cookies::get(req.request(), &state, AppCookie::Csrf).filter(|v| v.len() >= 32);
    let is_new = existing.is_none();
    let seed = existing.unwrap_or_else(random_token);
    req.extensions_mut().insert(CsrfSeed(seed.clone()));

    let mut res = next.call(req).await?;
    let replaced = res.request().extensions().get::<SeedReplaced>().is_some();
    if is_new && !replaced {
        res.response_mut()
            .add_cookie(&cookies::set(&state, AppCookie::Csrf, seed))?;
    }
    Ok(res)
}

/// A fresh seed cookie for a response that changes who is signed in.
pub fn new_seed(req: &HttpRequest, state: &AppState) -> Cookie<'static> {
    req.extensions_mut().insert(SeedReplaced);
    cookies::set(state, AppCookie::Csrf, random_token())
}

/// What a token signs: the seed, and the session once there is one.
fn signed_message(seed: &str, session: Option<&ActiveSession>) -> String {
    match session {
        Some(s) => format!("{seed}|{}", s.token_hash),
        None => seed.to_string(),
    }
}

fn seed_of(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<CsrfSeed>().map(|s| s.0.clone())
}

/// The token this request's forms must carry.
pub fn token(req: &HttpRequest, state: &AppState, session: Option<&ActiveSession>) -> String {
    let seed = seed_of(req).unwrap_or_default();
    state
        .keys
        .sign(Purpose::Csrf, &signed_message(&seed, session))
}

/// Whether a form body is valid text: every key and value, once
/// percent-decoded, is UTF-8. (Decoders replace bad bytes silently.)
fn is_utf8_form(body: &[u8]) -> bool {
    body.split(|&b| b == b'&')
        .flat_map(|pair| pair.splitn(2, |&b| b == b'='))
        .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
}

/// A URL-encoded form whose `csrf_token` was checked before anything else.
/// A missing or wrong token is 403 (and nothing runs); a malformed form is
/// 400; a form that does not arrive within [`FORM_DEADLINE`] is 408.
pub struct CsrfForm<T>(pub T);

/// A form that carries nothing but its token: a button.
#[derive(serde::Deserialize)]
pub struct EmptyForm {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = tokio::time::timeout(FORM_DEADLINE, body)
                .await
                .map_err(|_| AppError::RequestTimeout)?
                .map_err(|_| {
                    AppError::BadRequest(
                        "The form could not be read: it is too large or was cut off.".into(),
                    )
                })?;
            if !is_utf8_form(&body) {
                return Err(AppError::BadRequest(
                    "The form contains bytes that are not text (invalid UTF-8).".into(),
                ));
            }
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("The form data is malformed.".into()))?;
            if pairs
                .iter()
                .any(|(k, v)| super::has_nul(k) || super::has_nul(v))
            {
                return Err(AppError::BadRequest(super::NUL_MESSAGE.into()));
            }
            let given = pairs
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let seed = seed_of(&req).ok_or(AppError::Csrf)?;
            let session = session::current_session(&req).await?;
            let state = cookies::state(&req);
            let message = signed_message(&seed, session.as_ref());
            if !state.keys.verify(Purpose::Csrf, &message, given) {
                return Err(AppError::Csrf);
            }
            // Kept for the page of an outage, to send again (web::errors::keep_typed_form).
            req.extensions_mut()
                .insert(super::errors::SubmittedForm(pairs.clone()));
            let value = serde_urlencoded::from_bytes(&body).map_err(|_| {
                AppError::BadRequest(
                    "The form could not be read: a field is missing, repeated or not what this \
                     form expects. Reload the page and try again."
                        .into(),
                )
            })?;
            Ok(CsrfForm(value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_utf8_form;

    #[test]
    fn forms_with_bytes_that_are_not_text_are_refused() {
        assert!(is_utf8_form(b"name=Zo%C3%AB&x=%E2%9C%93+ok"));
        assert!(is_utf8_form("name=Zoë".as_bytes()));
        assert!(!is_utf8_form(b"name=Zo%C3"));
        assert!(!is_utf8_form(b"na%FFme=x"));
        assert!(!is_utf8_form(b"name=\xff"));
    }
}
