//! What the SMTP client is told: the server, TLS and credentials from
//! `AFTERCARE_SMTP_URL`, and how long each step may take.

use std::borrow::Cow;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{SMTP_PORT, SUBMISSIONS_PORT, SUBMISSION_PORT};
use rustls::pki_types::CertificateDer;

/// How long each step of the SMTP dialogue may take, after RFC 5321 §4.5.3.2
/// (the defaults are its minimums). Set with `AFTERCARE_SMTP_TIMEOUT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmtpTimeouts {
    /// A new connection, whole: TCP, TLS, the server's 220 greeting, EHLO,
    /// STARTTLS and AUTH (the RFC's "initial 220 message": 5 minutes).
    pub greeting: Duration,
    /// MAIL FROM, each RCPT TO, and the NOOP that checks an idle connection (5 minutes).
    pub command: Duration,
    /// DATA, up to the server's 354 (2 minutes).
    pub data_start: Duration,
    /// Writing the message (3 minutes per block).
    pub data_block: Duration,
    /// The answer to the end of the data, "." (10 minutes): the relay may be
    /// delivering the message before it answers.
    pub data_end: Duration,
}

impl Default for SmtpTimeouts {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        SmtpTimeouts {
            greeting: minutes(5),
            command: minutes(5),
            data_start: minutes(2),
            data_block: minutes(3),
            data_end: minutes(10),
        }
    }
}

impl SmtpTimeouts {
    /// The longest one email to `recipients` addresses can take before it
    /// succeeds or fails: an idle connection checked (NOOP), found dead and
    /// replaced by a new one, then MAIL, each RCPT, DATA, the message and the
    /// answer to its end, each step to its timeout. `SmtpPool::send` is also
    /// cut off at this bound as a whole.
    pub fn longest_send(&self, recipients: u32) -> Duration {
        self.command
            + self.greeting
            + self.command * (1 + recipients)
            + self.data_start
            + self.data_block
            + self.data_end
    }
}

/// Where to send and how, from `AFTERCARE_SMTP_URL`.
#[derive(Debug)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    /// `Tls::None`, `Opportunistic`/`Required` (STARTTLS) or `Wrapper` (`smtps://`).
    pub tls: Tls,
    pub credentials: Option<Credentials>,
    pub hello_name: ClientId,
}

impl SmtpUrl {
    /// The rules of lettre's `from_connection_url`: `smtp://` on port 25 without
    /// `tls`, 587 with `tls=required|opportunistic`; `smtps://` on 465; the path
    /// is the EHLO name; credentials only with a password, percent-decoded.
    /// TLS trusts the bundled and the system's roots.
    pub fn parse(url: &str) -> Result<SmtpUrl, String> {
        SmtpUrl::parse_trusting(url, &[])
    }

    /// As `parse`, trusting these CA certificates too (see `trust.rs`).
    pub fn parse_trusting(
        url: &str,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<SmtpUrl, String> {
        let bad = |why: String| format!("AFTERCARE_SMTP_URL is not usable: {why}");
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let tls_param = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let host = match parsed.host() {
            // `host_str` keeps the brackets of an IPv6 address, which neither
            // the resolver nor TLS wants.
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad("no host".into())),
        };
        let tls_parameters = || crate::mail::trust::tls_parameters(&host, extra_roots).map_err(bad);
        let (default_port, tls) = match (parsed.scheme(), tls_param.as_deref()) {
            ("smtp", None) => (SMTP_PORT, Tls::None),
            ("smtp", Some("required")) => (SUBMISSION_PORT, Tls::Required(tls_parameters()?)),
            ("smtp", Some("opportunistic")) => {
                (SUBMISSION_PORT, Tls::Opportunistic(tls_parameters()?))
            }
            ("smtps", _) => (SUBMISSIONS_PORT, Tls::Wrapper(tls_parameters()?)),
            ("smtp", Some(other)) => {
                return Err(bad(format!(
                    "unknown tls={other:?}; use tls=required or tls=opportunistic, or smtps://"
                )))
            }
            (scheme, _) => {
                return Err(bad(format!(
                    "unknown scheme {scheme:?}; use smtp:// or smtps://"
                )))
            }
        };
        let hello_name = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let credentials = match parsed.password() {
            Some(password) => {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(Cow::into_owned)
                        .map_err(|e| bad(format!("credentials are not UTF-8: {e}")))
                };
                Some(Credentials::new(
                    decode(parsed.username())?,
                    decode(password)?,
                ))
            }
            None => None,
        };
        Ok(SmtpUrl {
            port: parsed.port().unwrap_or(default_port),
            host,
            tls,
            credentials,
            hello_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SmtpUrl {
        SmtpUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn tls_mode(tls: &Tls) -> (&'static str, Option<&str>) {
        match tls {
            Tls::None => ("none", None),
            Tls::Opportunistic(p) => ("opportunistic", Some(p.domain())),
            Tls::Required(p) => ("required", Some(p.domain())),
            Tls::Wrapper(p) => ("wrapper", Some(p.domain())),
        }
    }

    #[test]
    fn default_ports_and_tls_modes() {
        let cases = [
            ("smtp://mail.example", 25, ("none", None)),
            ("smtp://mail.example:2525", 2525, ("none", None)),
            (
                "smtp://mail.example?tls=required",
                587,
                ("required", Some("mail.example")),
            ),
            (
                "smtp://mail.example:26?tls=opportunistic",
                26,
                ("opportunistic", Some("mail.example")),
            ),
            (
                "smtps://mail.example",
                465,
                ("wrapper", Some("mail.example")),
            ),
            (
                "smtps://mail.example:4650",
                4650,
                ("wrapper", Some("mail.example")),
            ),
        ];
        for (url, port, tls) in cases {
            let parsed = parse(url);
            assert_eq!(
                (parsed.host.as_str(), parsed.port, tls_mode(&parsed.tls)),
                ("mail.example", port, tls),
                "{url}"
            );
            assert!(parsed.credentials.is_none(), "{url}");
            assert_eq!(parsed.hello_name, ClientId::default(), "{url}");
        }
        assert_eq!(parse("smtp://[::1]:25").host, "::1");
    }

    #[test]
    fn credentials_are_percent_decoded_and_need_a_password() {
        let parsed = parse("smtp://us%40er:p%40ss%3Aw%2Fo rd@mail.example:587?tls=required");
        assert_eq!(
            parsed.credentials,
            Some(Credentials::new("us@er".into(), "p@ss:w/o rd".into()))
        );
        assert_eq!(parsed.port, 587);
        // lettre's rule: a user name alone is not credentials.
        assert!(parse("smtp://user@mail.example").credentials.is_none());
        assert_eq!(
            parse("smtps://a:b@mail.example/clinic.example").hello_name,
            ClientId::Domain("clinic.example".into())
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, expected) in [
            ("http://mail.example", "unknown scheme \"http\""),
            ("smtp://mail.example?tls=yes", "unknown tls=\"yes\""),
            ("mail.example", "relative URL without a base"),
            ("smtp://a:%ff@mail.example", "not UTF-8"),
        ] {
            let err = SmtpUrl::parse(url).unwrap_err();
            assert!(
                err.starts_with("AFTERCARE_SMTP_URL is not usable: ") && err.contains(expected),
                "{url}: {err}"
            );
        }
    }
}
