//! Aftercare: personalised microneedling aftercare sheets and reminder
//! emails for aesthetic clinics.
//!
//! Layers: `web` (HTTP) → use-case modules (`accounts`, …) → `store` (the
//! only SQL). `care` is the pure heart: treatment + protocol → plan.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod startup;
pub mod store;
pub mod web;
