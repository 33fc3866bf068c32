//! Email: rendering reminders and handing them to a transport.
//!
//! With `AFTERCARE_SMTP_URL` set, mail goes through lettre's pooled async
//! SMTP client with short timeouts; without it, each message is written as
//! an `.eml` file to `AFTERCARE_MAIL_DIR`, so the default set-up needs no
//! mail server and staff can open what would have been sent.

pub mod reminder;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Settings;

/// SMTP commands time out after this long; the worker's lease is longer, so
/// a row is never re-claimed while its send may still succeed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

/// Why a message was not accepted, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        match &settings.smtp_url {
            Some(url) => Mailer::smtp(url),
            None => Mailer::files(settings.mail_dir.clone()),
        }
    }

    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS from the start).
    pub fn smtp(url: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("AFTERCARE_SMTP_URL is not usable: {e}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(8))
            .build();
        Ok(Mailer::Smtp(transport))
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

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        // 5xx answers are final; timeouts, refused connections and 4xx are worth retrying.
                        permanent: e.is_permanent(),
                        message: error_chain(&e),
                    })
            }
            Mailer::Files { transport, .. } => {
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: false,
                        message: error_chain(&e),
                    })
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
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

pub fn build_message(envelope: &Envelope, text: String, html: String) -> anyhow::Result<Message> {
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
