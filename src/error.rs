//! The one error type use cases and handlers return. How each variant looks
//! to a user is decided in `web::errors`.

use std::collections::BTreeMap;

/// Messages to show beside form fields, keyed by field name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    /// The message for a field, or "" (what templates test for).
    pub fn msg(&self, field: &str) -> &str {
        self.get(field).unwrap_or("")
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was added, so validation can end with `errors.into_result()?`.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("missing or invalid CSRF token")]
    Csrf,
    #[error("sign-in required")]
    LoginRequired { next: String },
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// The link or page has ended for good (410): the message says why and what to do instead.
    #[error("gone: {0}")]
    Gone(String),
    #[error("too many attempts")]
    TooManyRequests(String),
    /// Too much heavy work at once (see `usecases::gate`): try again shortly.
    #[error("busy")]
    Busy(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: &str) -> AppError {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        AppError::Invalid(errors)
    }
}

pub type AppResult<T> = Result<T, AppError>;
