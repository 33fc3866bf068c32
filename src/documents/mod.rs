//! What the clinic hands a patient, rendered: the aftercare sheet (`sheet`), the calendar file
//! (`calendar`), and the clinic's details as they appear on them (`clinic`). Pure: data in,
//! text out, no database and no clock. The use cases decide what to show and build these;
//! `mail` and `web` render them.

pub mod calendar;
pub mod clinic;
pub mod fhir;
pub mod sheet;
