//! From a treatment and a protocol to the patient's whole aftercare plan.
//!
//! - `input`: what the practitioner records ([`TreatmentInput`]), and how it is checked
//!   ([`PlanError`]) before anything is computed.
//! - `types`: the plan itself ([`Plan`]), stored with the treatment and rendered by the sheet,
//!   the emails and the API.
//! - `compute`: [`compute_plan`], the phases, actives, notes, signs and red flags.
//! - `timing`: the protocol's hours and days as moments, stretched by the healing factor.
//! - `tailoring`: add-ons, considerations and the practitioner's adjustments, and what the
//!   form offers to adjust ([`adjustables`]).
//! - `emails`: the email days, and what each email says ([`EmailContent`]).
//! - `answers`: what a plan answers about a moment (its day, its phase, the normal signs).

mod answers;
mod compute;
mod emails;
mod input;
mod tailoring;
mod timing;
mod types;

pub use compute::compute_plan;
pub use emails::{EmailContent, AND_MORE};
pub use input::{PlanError, Tailoring, TreatedArea, TreatmentInput};
pub use tailoring::{adjustables, Adjustable};
pub use types::{
    ActiveReturn, Adjusted, AreaNotes, AvoidUntil, ClockChange, Moment, NextSession, NormalSign,
    Phase, Plan, PlanArea, PlanBand, RedFlagGroup, RedFlagList, Reminder, ReminderKind, SetBy,
    Unit,
};
