//! Aftercare: personalised microneedling aftercare sheets and reminder
//! emails for aesthetic clinics.
//!
//! Layers: `web` (HTTP) and `jobs` (the reminder worker) → `usecases` (one
//! function per use case) → `usecases::store` (the only SQL, private to the
//! use cases). `care` is the pure
//! heart: treatment + protocol → plan; `mail` renders and sends. See
//! ARCHITECTURE.md.

pub mod auth;
/// The care engine, a crate of its own (crates/care) so that it cannot reach the app.
pub use aftercare_care as care;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dates;
pub mod documents;
pub mod error;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod startup;
pub mod text;
pub mod usecases;
pub mod web;
pub mod words;
