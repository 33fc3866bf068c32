//! Integration tests: one binary (fast to link), one module per area.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod access;
mod admin_pages;
mod auth;
mod backup;
mod checkin_triage;
mod checkins;
mod cli;
mod consistency;
mod data_rights;
mod faults;
mod fhir;
mod fuzz;
mod handover;
mod hardening;
mod http;
mod instances;
mod leases;
mod limits;
mod locale;
mod locations;
mod locations_filters;
mod metrics;
mod ops;
mod outbox;
mod outcomes;
mod patients;
mod protocol;
mod proxy;
mod reminders;
mod routes;
mod smtp_sink;
mod smtp_tls;
mod tailoring;
mod treatments;
mod trial;
