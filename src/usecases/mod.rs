//! The use cases: one function for each thing a person (or the worker) does
//! — record a treatment, retry an email, sign in — each in one transaction.
//!
//! Who may call whom:
//! - `web/` handlers, `jobs/` (the worker) and `cli` call use cases, never
//!   `store` (private to this module: the compiler refuses it). They pass a connection from the pool ([`DbConn`]) and "now"
//!   from the app's one clock.
//! - A use case reads and writes its own area's tables through `store/`, and
//!   another area's only through that area's use cases. `care/` (pure) and
//!   `mail/` (rendering) are below them all.
//! - Areas call downwards only, with no cycles (`tests/architecture.rs`
//!   checks): `data_rights` → `fhir`; `locations` → `treatments`; `data_rights`, `fhir`, `housekeeping` → `checkins` → `treatments` → `patients` →
//!   `reminders` → `clinic`, `health`, `links`; `accounts`, `audit`, `fields` sit below
//!   them. `reminders` takes what it needs of a patient or a treatment as arguments.
//!   `outcomes` (the Outcomes page's counters, kept by `treatments`, `checkins`, `patients`
//!   and `reminders` as things happen) sits below those four, with `triage` (a check-in's
//!   result, which it counts by).
//!   `system` (the admins' overview) reads `backup`, `health` and `reminders`.

pub mod accounts;
pub mod audit;
pub mod audit_writer;
pub mod backup;
pub mod checkins;
pub mod clinic;
pub mod data_rights;
pub mod database;
pub mod demo;
pub mod fhir;
pub mod fields;
pub mod gate;
pub mod health;
pub mod housekeeping;
pub mod layout;
pub mod links;
pub mod locations;
pub mod outcomes;
pub mod patients;
pub mod photos;
pub mod reminders;
pub mod sheet_inputs;
pub mod sites;
pub mod system;
pub mod treatments;
pub mod triage;
pub mod trial;

/// The store: the only module that speaks SQL. It is private to the use
/// cases, so a handler, the worker or the command line that names it does not
/// compile (`tests/layers.rs` shows it). The integration tests read the
/// database through it to assert what it holds: the `test-support` feature,
/// which only the tests' own dependency on this crate turns on, opens it to them.
#[cfg(not(feature = "test-support"))]
mod store;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod store;

/// The unit of work a handler hands to a use case, where it comes from, and
/// how a database failure looks (the worker tells passing faults from lasting ones).
pub use store::{DbConn, DbError, Pool};
