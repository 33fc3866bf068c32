//! What the clinic hands a patient, rendered: the aftercare sheet (`sheet`), the calendar file
//! (`calendar`), the clinic's details as they appear on them (`clinic`), and a treatment's
//! record as a FHIR R4 bundle (`fhir`). Pure: data in,
//! text out, no database and no clock. The use cases decide what to show and build these;
//! `mail` and `web` render them.

pub mod calendar;
pub mod clinic;
pub mod fhir;
pub mod sheet;
