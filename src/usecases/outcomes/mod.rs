//! Outcomes (issue #26): what the clinic learns from its check-ins, for a period, broken down
//! by protocol version, depth band, area, add-on and practitioner.
//!
//! The page never reads the reminders or counts check-ins at read time: each live treatment
//! has a row of facts (`treatment_outcomes`) whose counters are kept here, in the same
//! transaction as the event, by the use cases where it happens. Hence this area sits below
//! them all (`reminders` counts a failed email): recording, editing and deleting a treatment
//! (`treatments`), a check-in (`checkins`), an unsubscribe (`patients`) and an email that
//! failed for good (`reminders`). An erasure changes none of it: the facts hold no name.
//!
//! In parts: here, the counters; `report` (the page and its CSV, as counts that cannot
//! single out a patient).

mod report;

use chrono::NaiveDate;

use crate::care::Plan;
use crate::error::AppResult;
use crate::usecases::store::outcomes::{self as store, Dimensions, ResultColumn};
use crate::usecases::store::DbConn;
use crate::usecases::triage::Triage;

pub use report::{
    csv, report, Cell, Figures, OutcomesQuery, Report, Section, DEFAULT_DAYS, FEWER_THAN_5,
};

/// The band of a treatment's deepest needle depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepthBand {
    /// Up to 0.5 mm.
    UpTo05,
    /// Above 0.5, up to 1.0 mm.
    To10,
    /// Above 1.0, up to 1.5 mm.
    To15,
    /// Above 1.5 mm.
    Over15,
}

impl DepthBand {
    pub const ALL: [DepthBand; 4] = [
        DepthBand::UpTo05,
        DepthBand::To10,
        DepthBand::To15,
        DepthBand::Over15,
    ];

    pub fn of_depth(mm: f64) -> DepthBand {
        if mm <= 0.5 {
            DepthBand::UpTo05
        } else if mm <= 1.0 {
            DepthBand::To10
        } else if mm <= 1.5 {
            DepthBand::To15
        } else {
            DepthBand::Over15
        }
    }

    /// As stored (`treatment_outcomes.depth_band`).
    pub fn id(self) -> &'static str {
        match self {
            DepthBand::UpTo05 => "to-0.5",
            DepthBand::To10 => "0.5-1.0",
            DepthBand::To15 => "1.0-1.5",
            DepthBand::Over15 => "over-1.5",
        }
    }

    pub fn parse(text: &str) -> Option<DepthBand> {
        DepthBand::ALL.into_iter().find(|b| b.id() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            DepthBand::UpTo05 => "0.5 mm or less",
            DepthBand::To10 => "over 0.5 to 1.0 mm",
            DepthBand::To15 => "over 1.0 to 1.5 mm",
            DepthBand::Over15 => "over 1.5 mm",
        }
    }
}

/// What a plan is grouped by, and its areas and add-ons.
fn dimensions(plan: &Plan) -> (Dimensions, Vec<String>, Vec<String>) {
    let deepest = plan.areas.iter().map(|a| a.depth_mm).fold(0.0, f64::max);
    let mut areas: Vec<String> = plan.areas.iter().map(|a| a.id.clone()).collect();
    areas.dedup();
    let mut add_ons = plan.tailoring.add_ons.clone();
    add_ons.sort();
    add_ons.dedup();
    let dims = Dimensions {
        treated_on: treated_on(plan),
        protocol_version: plan.protocol_version.clone(),
        depth_band: DepthBand::of_depth(deepest).id().to_string(),
    };
    (dims, areas, add_ons)
}

fn treated_on(plan: &Plan) -> NaiveDate {
    plan.treated_at.local.date()
}

/// A treatment recorded: its facts row, with no check-in yet. Call inside its transaction.
pub fn treatment_recorded(
    conn: &mut DbConn,
    treatment_id: i64,
    patient_id: i64,
    practitioner_id: i64,
    plan: &Plan,
) -> AppResult<()> {
    let (dims, areas, add_ons) = dimensions(plan);
    store::insert(
        conn,
        treatment_id,
        patient_id,
        practitioner_id,
        &dims,
        &areas,
        &add_ons,
    )?;
    Ok(())
}

/// A treatment edited: its date, band, version, areas and add-ons anew; what happened since
/// (check-ins, failed emails, an unsubscribe) kept.
pub fn treatment_edited(conn: &mut DbConn, treatment_id: i64, plan: &Plan) -> AppResult<()> {
    let (dims, areas, add_ons) = dimensions(plan);
    store::update(conn, treatment_id, &dims, &areas, &add_ons)?;
    Ok(())
}

/// A treatment deleted: it no longer counts.
pub fn treatment_deleted(conn: &mut DbConn, treatment_id: i64) -> AppResult<()> {
    store::delete(conn, treatment_id)?;
    Ok(())
}

/// A check-in recorded with its triage result.
pub fn checkin_recorded(conn: &mut DbConn, treatment_id: i64, triage: Triage) -> AppResult<()> {
    let column = match triage {
        Triage::Emergency => ResultColumn::Emergency,
        Triage::CallNow => ResultColumn::CallNow,
        Triage::TellUs => ResultColumn::TellUs,
        Triage::ToReview => ResultColumn::ToReview,
        Triage::Normal => ResultColumn::AsExpected,
    };
    store::count_checkin(conn, treatment_id, column)?;
    Ok(())
}

/// A reminder of the treatment failed for good.
pub fn email_failed(conn: &mut DbConn, treatment_id: i64) -> AppResult<()> {
    store::count_failed_email(conn, treatment_id)?;
    Ok(())
}

/// The patient unsubscribed: counted once, on their latest live treatment (whose emails they
/// stopped).
pub fn patient_unsubscribed(conn: &mut DbConn, patient_id: i64) -> AppResult<()> {
    store::mark_unsubscribed(conn, patient_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_hold_their_upper_bound() {
        assert_eq!(DepthBand::of_depth(0.25), DepthBand::UpTo05);
        assert_eq!(DepthBand::of_depth(0.5), DepthBand::UpTo05);
        assert_eq!(DepthBand::of_depth(0.75), DepthBand::To10);
        assert_eq!(DepthBand::of_depth(1.0), DepthBand::To10);
        assert_eq!(DepthBand::of_depth(1.5), DepthBand::To15);
        assert_eq!(DepthBand::of_depth(2.0), DepthBand::Over15);
        for b in DepthBand::ALL {
            assert_eq!(DepthBand::parse(b.id()), Some(b));
        }
    }
}
