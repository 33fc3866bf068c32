//! Use case: is this installation set up for real patients yet? The embedded default (mail
//! written to files, links to a loopback address) is right for trying the app and wrong for a
//! clinic, and nothing else on the page would tell staff: an email "sent" to a file reaches no
//! one. Every signed-in page shows these gaps until they are closed.

use crate::config::Settings;

/// One part of the set-up that still works only on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// No SMTP server: emails are written as `.eml` files to this folder.
    MailToFiles { dir: String },
    /// Links in emails and on sheets point at an address only this machine can open.
    LoopbackLinks { base_url: String },
}

impl Gap {
    /// What the gap means for patients, and the setting that closes it.
    pub fn message(&self) -> String {
        match self {
            Gap::MailToFiles { dir } => format!(
                "Emails are saved as files in {dir}, not sent: no patient receives them. \
                 Set AFTERCARE_SMTP_URL to the clinic's mail server to send them."
            ),
            Gap::LoopbackLinks { base_url } => format!(
                "Links in emails and on printed sheets point to {base_url}, which patients \
                 cannot open. Set AFTERCARE_BASE_URL to the app's public address."
            ),
        }
    }
}

/// What is not yet set for real use, in the order a clinic would fix it; empty when ready.
pub fn gaps(settings: &Settings) -> Vec<Gap> {
    let mut gaps = Vec::new();
    if settings.smtp_url.is_none() {
        gaps.push(Gap::MailToFiles {
            dir: settings.mail_dir.display().to_string(),
        });
    }
    if is_loopback(&settings.base_url) {
        gaps.push(Gap::LoopbackLinks {
            base_url: settings.base_url.clone(),
        });
    }
    gaps
}

/// Whether mail is written to files (the outbox then says "saved to file", not "sent").
pub fn mail_to_files(settings: &Settings) -> bool {
    settings.smtp_url.is_none()
}

/// `http://127.0.0.1:8080`, `http://localhost`, `http://[::1]:8080` and the like.
fn is_loopback(base_url: &str) -> bool {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_and_unspecified_addresses_are_not_reachable_by_patients() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://LOCALHOST:80/",
            "http://[::1]:8080",
            "http://0.0.0.0:8080",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://aftercare.glow.example",
            "https://10.0.0.5:8443",
            "http://[2001:db8::1]:8080",
            "https://localhost.glow.example",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
