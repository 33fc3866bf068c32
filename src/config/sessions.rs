//! Signing in: the key that signs sessions and links, and how long a
//! session lasts.

use std::time::Duration;

use secrecy::SecretSlice;

use super::read::Reader;

/// What the session-time settings accept, in minutes: shorter than 5 signs
/// people out while they type; longer than a year is a typo, and a huge value
/// would overflow the date arithmetic of the worker's pruning.
pub const SESSION_MINUTES: std::ops::RangeInclusive<u64> = 5..=525_600;

/// The sessions' settings, as [`super::Settings`] holds them.
pub(super) struct Sessions {
    pub(super) secret_key: Option<SecretSlice<u8>>,
    pub(super) idle: Duration,
    pub(super) max_age: Duration,
}

/// `AFTERCARE_SECRET_KEY`, `AFTERCARE_SESSION_IDLE_MINUTES` (8 hours) and
/// `AFTERCARE_SESSION_MAX_MINUTES` (a day).
pub(super) fn read(r: &mut Reader) -> Sessions {
    let secret_key = match r.var("AFTERCARE_SECRET_KEY") {
        Some(key) if key.len() >= 32 => Some(key.into_bytes().into()),
        Some(_) => {
            r.error(
                "AFTERCARE_SECRET_KEY: must be at least 32 characters (or unset, to generate one)"
                    .into(),
            );
            None
        }
        None => None,
    };
    Sessions {
        secret_key,
        idle: minutes(r, "AFTERCARE_SESSION_IDLE_MINUTES", 8 * 60),
        max_age: minutes(r, "AFTERCARE_SESSION_MAX_MINUTES", 24 * 60),
    }
}

/// A number of minutes within [`SESSION_MINUTES`]; `default` when unset or wrong.
fn minutes(r: &mut Reader, name: &str, default: u64) -> Duration {
    match r.var(name) {
        None => Duration::from_secs(default * 60),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(m) if SESSION_MINUTES.contains(&m) => Duration::from_secs(m * 60),
            _ => {
                r.error(format!(
                    "{name}: {v:?} is not a whole number of minutes from {} (5 minutes) \
                     to {} (a year)",
                    SESSION_MINUTES.start(),
                    SESSION_MINUTES.end()
                ));
                Duration::from_secs(default * 60)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::settings;

    #[test]
    fn session_times_are_bounded_and_the_message_names_the_setting() {
        for bad in [
            "1000000000000",
            "100000000000",
            "525601",
            "4",
            "0",
            "-3",
            "ten",
        ] {
            for name in [
                "AFTERCARE_SESSION_IDLE_MINUTES",
                "AFTERCARE_SESSION_MAX_MINUTES",
            ] {
                let errors = settings(&[(name, bad)]).unwrap_err();
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert!(
                    errors[0].starts_with(&format!("{name}: {bad:?} is not a whole number")),
                    "{errors:?}"
                );
            }
        }
        let s = settings(&[
            ("AFTERCARE_SESSION_IDLE_MINUTES", "5"),
            ("AFTERCARE_SESSION_MAX_MINUTES", "525600"),
        ])
        .unwrap();
        assert_eq!(s.session_idle, Duration::from_secs(300));
        assert_eq!(s.session_max_age, Duration::from_secs(525_600 * 60));
    }
}
