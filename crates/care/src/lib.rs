//! The care engine: from a treatment and a protocol to the patient's aftercare plan.
//!
//! Everything here is pure: no I/O and no clock. The protocol arrives as text (the caller reads
//! the file), and "now" and the clinic's time zone are parameters, so every function gives the
//! same answer for the same arguments and can be tested exhaustively.
//!
//! - [`protocol`]: the clinical content as data (`protocol/default.toml`), parsed and validated.
//! - [`plan`]: [`compute_plan`] turns a [`TreatmentInput`] into a self-contained [`Plan`] (phases
//!   with real dates, actives, notes, red flags, next session, reminder emails).
//! - [`schedule`]: local send hour → UTC, with the daylight-saving rules.
//! - [`text`]: a plain-text rendering of a plan and a sample treatment.

pub mod plan;
pub mod protocol;
pub mod schedule;
pub mod text;

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tailoring_tests;

pub use plan::{
    adjustables, compute_plan, ActiveReturn, Adjustable, Adjusted, AreaNotes, AvoidUntil,
    ClockChange, EmailContent, Moment, NextSession, NormalSign, Phase, Plan, PlanArea, PlanBand,
    PlanError, RedFlagGroup, RedFlagList, Reminder, ReminderKind, SetBy, Tailoring, TreatedArea,
    TreatmentInput, Unit,
};
pub use protocol::{
    depth_hint, format_mm, Protocol, ProtocolError, DEFAULT_PROTOCOL_TOML, MAX_DEPTH_MM,
    MIN_DEPTH_MM,
};
pub use text::{plan_as_text, sample_input};
