//! Aftercare: personalised microneedling aftercare sheets and reminder
//! emails for aesthetic clinics.
//!
//! Layers: `web` (HTTP) → use-case modules (`accounts`, …) → `store` (the
//! only SQL). `care` is the pure heart: treatment + protocol → plan.

pub mod accounts;
pub mod audit;
pub mod audit_writer;
pub mod auth;
pub mod care;
pub mod cli;
pub mod clinic;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod fields;
pub mod health;
pub mod housekeeping;
pub mod jobs;
pub mod links;
pub mod mail;
pub mod patients;
pub mod reminders;
pub mod sheet;
pub mod startup;
pub mod store;
pub mod treatments;
pub mod web;
