//! CSRF protection: a signed double-submit token.
//!
//! Every browser gets a random, HttpOnly `aftercare_csrf` cookie (the seed).
//! Forms carry `csrf_token` = HMAC(secret, seed). A cross-site page can make
//! the browser send the cookie but cannot read it, nor compute the HMAC
//! without our key. The seed is replaced at log-in.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use super::session::{self, FlashShown, FLASH_COOKIE};
use crate::auth::tokens::{random_token, Purpose};
use crate::error::AppError;

pub const CSRF_COOKIE: &str = "aftercare_csrf";

/// This request's CSRF seed (from its cookie, or new).
#[derive(Clone)]
pub struct CsrfSeed(pub String);

/// Set on a response that replaces the seed (log-in), so the middleware
/// does not also set the old one.
#[derive(Clone)]
pub struct SeedReplaced;

/// Makes sure every browser has a CSRF seed, and clears a flash message once
/// a page has shown it.
pub async fn cookies_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let existing = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32);
    let is_new = existing.is_none();
    let seed = existing.unwrap_or_else(random_token);
    req.extensions_mut().insert(CsrfSeed(seed.clone()));

    let mut res = next.call(req).await?;
    let state = session::state(res.request());
    let replaced = res.request().extensions().get::<SeedReplaced>().is_some();
    if is_new && !replaced {
        res.response_mut()
            .add_cookie(&session::cookie(&state, CSRF_COOKIE, seed))?;
    }
    let flash_shown = res.request().extensions().get::<FlashShown>().is_some();
    let sets_flash = res.response().cookies().any(|c| c.name() == FLASH_COOKIE);
    if flash_shown && !sets_flash {
        res.response_mut()
            .add_cookie(&session::removal_cookie(&state, FLASH_COOKIE))?;
    }
    Ok(res)
}

/// A URL-encoded form whose `csrf_token` was checked before anything else.
/// A missing or wrong token is 403 (and nothing runs); a malformed form is 400.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("The form data is malformed.".into()))?;
            if pairs
                .iter()
                .any(|(k, v)| super::has_nul(k) || super::has_nul(v))
            {
                return Err(AppError::BadRequest(super::NUL_MESSAGE.into()));
            }
            let token = pairs
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let seed = req
                .extensions()
                .get::<CsrfSeed>()
                .map(|s| s.0.clone())
                .ok_or(AppError::Csrf)?;
            if !session::state(&req)
                .keys
                .verify(Purpose::Csrf, &seed, token)
            {
                return Err(AppError::Csrf);
            }
            let value = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(format!("The form data is malformed: {e}")))?;
            Ok(CsrfForm(value))
        })
    }
}
