//! The worker's emails to the clinic about check-ins: the alert an urgent answer raises,
//! and the one reminder when a check-in waiting for a reply passes the clinic's reply time.
//! Both go through the same steps, with the reminders' fenced lease and retry rules.

use chrono::{DateTime, Utc};

use super::lease::Lease;
use super::{RunReport, SettingsWrong, Worker};
use crate::mail::{self, Envelope};
use crate::metrics::MailKind;
use crate::usecases::checkins::{self, ClinicEmail};
use crate::usecases::reminders::{Claim, Outcome};

impl Worker {
    /// Sends the clinic's alert emails for urgent check-ins, then its reminders for
    /// check-ins past the reply time, with the reminders' fenced lease and
    /// retry rules.
    pub(super) async fn send_alerts(
        &self,
        now: DateTime<Utc>,
        wrong: &SettingsWrong,
        token: &str,
        lease: &Lease,
    ) -> anyhow::Result<RunReport> {
        let mut report = self
            .send_clinic_emails(ClinicEmail::Alerts, now, wrong, token, lease)
            .await?;
        let overdue = self
            .send_clinic_emails(ClinicEmail::Overdue, now, wrong, token, lease)
            .await?;
        report.add_up(&overdue);
        Ok(report)
    }

    /// Sends the due emails of one kind to the clinic under the round's claim `token`. There
    /// are few, so one at a time; one that too little of the lease is left for goes back unsent.
    async fn send_clinic_emails(
        &self,
        kind: ClinicEmail,
        now: DateTime<Utc>,
        wrong: &SettingsWrong,
        token: &str,
        lease: &Lease,
    ) -> anyhow::Result<RunReport> {
        let claim = self.claim_for(now, token);
        let owned = claim.token.to_string();
        let claimed = self
            .blocking(move |conn| {
                Ok(checkins::claim_clinic_emails(
                    conn,
                    kind,
                    Claim {
                        token: &owned,
                        ..claim
                    },
                )?)
            })
            .await?;
        let mut report = RunReport {
            claimed: claimed.len(),
            ..Default::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let mut done = Vec::new();
        for one in claimed {
            let clinic = &one.clinic;
            // Needs attention, filtered to the check-in's location.
            let attention = format!(
                "{}/attention?location={}",
                self.links.base_url, clinic.location_id
            );
            let name = clinic.display_name();
            let email = match kind {
                ClinicEmail::Alerts => mail::alert::compose(&name, &attention),
                ClinicEmail::Overdue => mail::alert::compose_overdue(&name, &attention),
            };
            if !lease.may_start(self.clock.monotonic(), self.mailer.longest_send()) {
                report.released += 1;
                done.push((one.id, None));
                continue;
            }
            let outcome = if clinic.email.is_empty() {
                Outcome::Failed(
                    "the clinic has no email address: set one in Clinic settings".into(),
                )
            } else {
                let envelope = Envelope {
                    from_name: &name,
                    from_email: &clinic.sender_email,
                    reply_to: None,
                    to_name: &name,
                    to_email: &clinic.email,
                    subject: &email.subject,
                    message_id: &one.message_id,
                    unsubscribe_url: None,
                };
                match mail::build_message(&envelope, email.text.clone(), email.html.clone()) {
                    Err(e) => Outcome::Failed(format!("could not build the email: {e}")),
                    Ok(message) => self.deliver(message, one.attempts, wrong).await,
                }
            };
            self.tally(&mut report, MailKind::CheckinAlert, &outcome);
            done.push((one.id, Some(outcome)));
        }
        let (token, at) = (token.to_string(), self.clock.now().naive_utc());
        let lost = self
            .blocking(move |conn| {
                Ok(checkins::record_clinic_emails(
                    conn, kind, &token, done, at,
                )?)
            })
            .await?;
        if !lost.is_empty() {
            report.lost += lost.len();
            tracing::warn!(emails = ?lost, ?kind, "lost the lease on these clinic emails: another worker took them over; their outcomes are not recorded here");
        }
        Ok(report)
    }
}
