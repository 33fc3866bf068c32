//! What a computed plan answers about a moment: the day of healing, the phase in progress, the
//! signs still normal.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::schedule::utc_to_local;

use super::types::{Moment, NormalSign, Phase, Plan};

impl Plan {
    pub fn normal_signs(&self) -> &[NormalSign] {
        &self.normal_signs
    }

    /// The whole "What is normal" box, as the sheet shows it: every sign with its window (the
    /// old box for plans stored before windows).
    pub fn normal_texts(&self) -> Vec<String> {
        if self.normal_signs.is_empty() {
            return self.normal.clone();
        }
        self.normal_signs.iter().map(|s| s.text.clone()).collect()
    }

    /// Signs normal on `day` (day <= last_day), and signs past their window (day > last_day).
    pub fn normal_on(&self, day: u32) -> (Vec<&NormalSign>, Vec<&NormalSign>) {
        self.normal_signs.iter().partition(|s| day <= s.last_day)
    }

    /// The local calendar day after the treatment day on which `at` falls (0 before).
    pub fn day_at(&self, at: DateTime<Utc>) -> u32 {
        let days =
            (utc_to_local(self.time_zone, at).date() - self.treated_at.local.date()).num_days();
        u32::try_from(days).unwrap_or(0)
    }

    /// The phase in progress at an instant; `None` before the treatment or after the last phase.
    pub fn phase_at(&self, at: DateTime<Utc>) -> Option<&Phase> {
        find_phase(&self.phases, at)
    }
}

/// The instant as long after the treatment as the clinic's clock shows at `send_local`. Morning
/// emails go out 24 clock hours apart, so across a clock change (a 25-hour night) each whole-day
/// phase still gets one (review M7); with no change in between, this is the send time itself.
pub(super) fn by_clock(treated: Moment, send_local: NaiveDateTime) -> DateTime<Utc> {
    treated.utc + (send_local - treated.local)
}

pub(super) fn find_phase(phases: &[Phase], at: DateTime<Utc>) -> Option<&Phase> {
    phases
        .iter()
        .find(|p| p.starts_at.utc <= at && at < p.ends_at.utc)
}
