//! What becomes of an email that did not go: retried after a growing pause,
//! or failed once its attempts are used up.

use chrono::{DateTime, Duration, Utc};

use super::WorkerConfig;
use crate::mail;
use crate::usecases::reminders::Outcome;

impl WorkerConfig {
    /// The delay before retry number `attempts` (1 = after the first failure).
    pub fn backoff_after(&self, attempts: i32) -> Duration {
        let exp = (attempts.max(1) - 1).min(10) as u32;
        (self.backoff * 2_i32.pow(exp)).min(Duration::hours(1))
    }

    /// A temporary failure on the `attempts`th attempt at `now`: tried again
    /// after the backoff, or failed once the attempts are used up.
    pub(super) fn retry_or_give_up(
        &self,
        message: String,
        attempts: i32,
        now: DateTime<Utc>,
    ) -> Outcome {
        if attempts >= self.max_attempts {
            return Outcome::Failed(format!(
                "gave up after {}: {message}",
                crate::words::counted(attempts, "attempt")
            ));
        }
        Outcome::Retry {
            error: message,
            next: (now + self.backoff_after(attempts)).naive_utc(),
        }
    }

    /// What becomes of an email that could not be built on its `attempts`th
    /// attempt: a template that failed to render is tried again like a
    /// temporary failure (a fixed release may render it); anything else (an
    /// address or header no email can carry) fails, with its reason.
    pub(super) fn unbuilt(
        &self,
        error: &anyhow::Error,
        attempts: i32,
        now: DateTime<Utc>,
    ) -> Outcome {
        match error.downcast_ref::<mail::RenderError>() {
            Some(render) => self.retry_or_give_up(render.to_string(), attempts, now),
            None => Outcome::Failed(format!("could not build the email: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_whose_template_fails_is_retried_with_the_reason_then_fails() {
        let c = WorkerConfig::default();
        let now = Utc::now();
        let broken = || {
            anyhow::Error::new(mail::RenderError {
                part: "HTML",
                cause: "formatter error".into(),
            })
        };
        let reason = "the email's HTML part could not be rendered (formatter error)";
        match c.unbuilt(&broken(), 1, now) {
            Outcome::Retry { error, next } => {
                assert_eq!(error, reason);
                assert_eq!(next, (now + c.backoff_after(1)).naive_utc());
            }
            other => panic!("retried, not {other:?}"),
        }
        match c.unbuilt(&broken(), c.max_attempts, now) {
            Outcome::Failed(error) => assert_eq!(
                error,
                format!("gave up after {} attempts: {reason}", c.max_attempts)
            ),
            other => panic!("failed in the end, not {other:?}"),
        }
        // An address no email can carry will never go: it fails at once.
        match c.unbuilt(&anyhow::anyhow!("invalid address"), 1, now) {
            Outcome::Failed(error) => {
                assert_eq!(error, "could not build the email: invalid address")
            }
            other => panic!("failed, not {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let c = WorkerConfig::default();
        assert_eq!(c.backoff_after(1), Duration::seconds(60));
        assert_eq!(c.backoff_after(2), Duration::seconds(120));
        assert_eq!(c.backoff_after(4), Duration::seconds(480));
        assert_eq!(c.backoff_after(30), Duration::hours(1));
    }
}
