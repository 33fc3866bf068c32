//! A check-in's triage result: what the page says after an answer and what the clinic does
//! with it. Its own module below every use-case area, because the outcome counters
//! (`outcomes`), which the lower areas keep, count check-ins by it; `checkins` decides it.

use crate::care::protocol::Urgency;

/// What the page says after an answer, and what the clinic does with it; most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Triage {
    /// Call the emergency number now.
    Emergency,
    /// Call the clinic now (or out of hours); the clinic has been told.
    CallNow,
    /// Tell the clinic soon; it has been told.
    TellUs,
    /// No red flag, but something for the clinic to read (an answer other than "As
    /// expected", free text, a photo, a sign we cannot place in time).
    ToReview,
    /// "As expected" with nothing else, or only signs that are normal on this day.
    Normal,
}

impl Triage {
    pub const ALL: [Triage; 5] = [
        Triage::Emergency,
        Triage::CallNow,
        Triage::TellUs,
        Triage::ToReview,
        Triage::Normal,
    ];

    /// As stored (`checkin_triage.result`).
    pub fn id(self) -> &'static str {
        match self {
            Triage::Emergency => "emergency",
            Triage::CallNow => "call-now",
            Triage::TellUs => "tell-us",
            Triage::ToReview => "to-review",
            Triage::Normal => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Triage> {
        Triage::ALL.into_iter().find(|t| t.id() == text)
    }

    pub fn from_urgency(urgency: Urgency) -> Triage {
        match urgency {
            Urgency::Emergency => Triage::Emergency,
            Urgency::CallNow => Triage::CallNow,
            Urgency::TellUs => Triage::TellUs,
        }
    }

    /// As staff read it.
    pub fn label(self) -> &'static str {
        match self {
            Triage::Emergency => "Emergency",
            Triage::CallNow => "Call now",
            Triage::TellUs => "Tell us soon",
            Triage::ToReview => "To review",
            Triage::Normal => "No reply needed",
        }
    }

    /// Whether the clinic gets an alert email at once.
    pub fn alerts_clinic(self) -> bool {
        matches!(self, Triage::Emergency | Triage::CallNow)
    }

    /// Whether the check-in is listed under Needs attention until acknowledged.
    pub fn needs_attention(self) -> bool {
        self != Triage::Normal
    }

    /// Whether the clinic is reminded when it has not acknowledged the check-in within its
    /// reply time: those that need attention but raised no alert email.
    pub fn waits_for_reply(self) -> bool {
        self.needs_attention() && !self.alerts_clinic()
    }
}
