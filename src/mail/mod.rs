//! Email: rendering reminders and handing them to a transport.
//!
//! With `AFTERCARE_SMTP_URL` set, mail goes through our pooled SMTP client
//! (`smtp.rs`, on lettre's connection API) with short timeouts; without it,
//! each message is written as an `.eml` file to `AFTERCARE_MAIL_DIR`, so the
//! default set-up needs no mail server and staff can open what would have
//! been sent.

pub mod account;
pub mod alert;
pub mod reminder;
pub mod smtp;
pub mod trust;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::CertificateDer;

pub use smtp::SmtpTimeouts;

/// Writing an `.eml` file takes no longer than this, or fails (a hung disk).
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// SMTP connections open at once per `Mailer` made without settings, as many
/// as the worker's sends in flight by default (`WorkerConfig::concurrency`);
/// with settings, `AFTERCARE_WORKER_CONCURRENCY`.
pub const SMTP_POOL_SIZE: usize = 8;

pub enum Mailer {
    Smtp(smtp::SmtpPool),
    Files {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

/// A part of an email whose template failed to render. The email is not sent
/// (never with an empty body): the worker retries it like a temporary failure,
/// and the outbox shows this as its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// "text" or "HTML".
    pub part: &'static str,
    pub cause: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the email's {} part could not be rendered ({})",
            self.part, self.cause
        )
    }
}

impl std::error::Error for RenderError {}

/// Renders one part of an email: its text or its HTML.
pub fn render_part(
    part: &'static str,
    template: &impl askama::Template,
) -> Result<String, RenderError> {
    template.render().map_err(|e| RenderError {
        part,
        cause: e.to_string(),
    })
}

/// Why a message was not accepted, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub kind: Failure,
    pub message: String,
}

/// What kind of failure a send met: it decides what becomes of the email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later: a refused connection, a time-out, a 4xx answer.
    Temporary,
    /// This email will never go: a 5xx answer to it.
    Permanent,
    /// The mail settings are wrong (the server's certificate is not trusted,
    /// the user name or password refused): every email would fail the same
    /// way until someone fixes them, and none is at fault.
    Configuration,
}

impl SendError {
    pub fn temporary(message: String) -> SendError {
        SendError {
            kind: Failure::Temporary,
            message,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A unique Message-ID in the sender's domain, `<aftercare.{what}.{random}@domain>`:
/// `what` says what the email is, so a repeat is recognisable in a mailbox.
pub fn message_id(what: &str, sender: &str) -> String {
    let domain = sender
        .rsplit_once('@')
        .map_or("aftercare.invalid", |(_, d)| d);
    format!(
        "<aftercare.{what}.{}@{domain}>",
        &crate::auth::tokens::random_token()[..16]
    )
}

impl Mailer {
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS; `?tls=opportunistic` if the server offers it),
    /// `smtps://user:pass@host:465` (TLS from the start). User and password
    /// are percent-decoded.
    pub fn smtp(url: &str) -> anyhow::Result<Mailer> {
        Mailer::smtp_with_pool_size(url, SMTP_POOL_SIZE)
    }

    /// As `smtp`, with at most `connections` SMTP connections open at once.
    pub fn smtp_with_pool_size(url: &str, connections: usize) -> anyhow::Result<Mailer> {
        Mailer::smtp_trusting(url, &[], connections)
    }

    /// As `smtp_with_pool_size`, trusting these CA certificates (from
    /// `AFTERCARE_SMTP_CA_FILE`) besides the system's store and the bundled
    /// public roots (`trust.rs`).
    pub fn smtp_trusting(
        url: &str,
        extra_roots: &[CertificateDer<'static>],
        connections: usize,
    ) -> anyhow::Result<Mailer> {
        let url = smtp::SmtpUrl::parse_trusting(url, extra_roots).map_err(anyhow::Error::msg)?;
        Ok(Mailer::Smtp(smtp::SmtpPool::new(url, connections)))
    }

    pub fn files(dir: PathBuf) -> anyhow::Result<Mailer> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display()))?;
        let transport = AsyncFileTransport::<Tokio1Executor>::new(&dir);
        Ok(Mailer::Files { dir, transport })
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP".into(),
            Mailer::Files { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    /// The longest [`Mailer::send`] can take before it succeeds or fails: the
    /// worker's lease is derived from it.
    pub fn longest_send(&self) -> Duration {
        match self {
            Mailer::Smtp(pool) => pool.longest_send(),
            Mailer::Files { .. } => FILE_TIMEOUT,
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(pool) => pool.send(&message).await,
            Mailer::Files { transport, dir } => {
                match tokio::time::timeout(FILE_TIMEOUT, transport.send(message)).await {
                    Ok(sent) => sent
                        .map(|_| ())
                        .map_err(|e| SendError::temporary(error_chain(&e))),
                    Err(_) => Err(SendError::temporary(format!(
                        "writing the email to {} took longer than {} s",
                        dir.display(),
                        FILE_TIMEOUT.as_secs()
                    ))),
                }
            }
        }
    }
}

/// An error with its causes, each said once: lettre's errors already end
/// with their cause's text, which the cause then repeats ("tls error: invalid
/// peer certificate: UnknownIssuer: invalid peer certificate: UnknownIssuer").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

/// What every email from the clinic carries.
pub struct Envelope<'a> {
    pub from_name: &'a str,
    pub from_email: &'a str,
    pub reply_to: Option<&'a str>,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub subject: &'a str,
    pub message_id: &'a str,
    /// An https (or http) URL that stops the emails (RFC 8058 one-click).
    pub unsubscribe_url: Option<&'a str>,
}

/// A To line as [`build_message`] writes it ("Maya Patel <maya@example.com>"); an address
/// that does not parse is shown as it is (sending it fails, and the outbox says why).
pub fn to_line(name: &str, email: &str) -> String {
    match email.parse() {
        Ok(address) => Mailbox::new(Some(name.to_string()), address).to_string(),
        Err(_) => format!("{name} <{email}>"),
    }
}

/// Builds the message, or says why it cannot be built (the worker records
/// that as a permanent failure). Header text with a line break would make
/// lettre panic or split the header, so it is refused here first; forms
/// refuse it too, but rows saved before they did may still hold one.
pub fn build_message(envelope: &Envelope, text: String, html: String) -> anyhow::Result<Message> {
    for (what, value) in [
        ("the clinic's name", envelope.from_name),
        ("the patient's name", envelope.to_name),
        ("the subject", envelope.subject),
    ] {
        if value.chars().any(crate::text::forbidden_in_line) {
            anyhow::bail!(
                "{what} contains a line break or control character, which an email header \
                 cannot carry: correct it, then press Send now"
            );
        }
    }
    let mailbox = |name: &str, email: &str| -> anyhow::Result<Mailbox> {
        Ok(Mailbox::new(Some(name.to_string()), email.parse()?))
    };
    let mut builder = Message::builder()
        .from(mailbox(envelope.from_name, envelope.from_email)?)
        .to(mailbox(envelope.to_name, envelope.to_email)?)
        .subject(envelope.subject)
        .message_id(Some(envelope.message_id.to_string()));
    if let Some(reply_to) = envelope.reply_to {
        builder = builder.reply_to(mailbox(envelope.from_name, reply_to)?);
    }
    if let Some(url) = envelope.unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(text, html))?)
}

#[cfg(test)]
mod tests {
    /// Renders `{{ value }}` with a value whose formatting fails, as a bug in a
    /// template or in what it is given would.
    #[derive(askama::Template)]
    #[template(source = "Hello {{ value }}", ext = "txt")]
    struct Broken {
        value: FailsToFormat,
    }

    struct FailsToFormat;

    impl std::fmt::Display for FailsToFormat {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }

    #[test]
    fn a_template_that_fails_is_an_error_naming_the_part_never_an_empty_body() {
        let error = super::render_part(
            "HTML",
            &Broken {
                value: FailsToFormat,
            },
        )
        .unwrap_err();
        assert_eq!(error.part, "HTML");
        assert!(
            error
                .to_string()
                .starts_with("the email's HTML part could not be rendered ("),
            "{error}"
        );
    }

    #[test]
    fn message_ids_are_unique_and_in_the_senders_domain() {
        let a = super::message_id("12.day-2", "aftercare@glow.example");
        let b = super::message_id("12.day-2", "aftercare@glow.example");
        assert!(
            a.starts_with("<aftercare.12.day-2.") && a.ends_with("@glow.example>"),
            "{a}"
        );
        assert_ne!(a, b);
        assert!(super::message_id("test", "no-at-sign").ends_with("@aftercare.invalid>"));
    }
}
