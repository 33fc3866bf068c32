//! What a failure from lettre means for the email.

use crate::mail::{error_chain, Failure, SendError};

/// Where in the SMTP dialogue an error came, which says what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The TLS handshake of `smtps://`, before the greeting.
    ImplicitTls,
    Greeting,
    StartTls,
    Auth,
    Send,
}

/// What a failure from lettre means for the email. A refused certificate or
/// sign-in is the settings' fault, said once and plainly: every email would
/// meet it until someone fixes them (`Failure::Configuration`). Otherwise 5xx
/// answers are final, and time-outs, refused connections and 4xx are worth
/// retrying.
pub(super) fn smtp_error(e: &lettre::transport::smtp::Error, step: Step) -> SendError {
    let configuration = |message: String| SendError {
        kind: Failure::Configuration,
        message,
    };
    if let Some(refused) = crate::mail::trust::certificate_error(e) {
        return configuration(format!(
            "the SMTP server's certificate is not trusted: {refused}"
        ));
    }
    let code = e.status().map(u16::from);
    match step {
        Step::Auth if e.is_permanent() => {
            return configuration(format!(
                "the SMTP server refused the user name or password: {}",
                server_reply(e)
            ))
        }
        // lettre checks the server's AUTH offer before sending anything.
        Step::Auth if e.is_client() => {
            return configuration(
                "the SMTP server offers no way to sign in that Aftercare knows (AUTH PLAIN or \
                 LOGIN); many offer it only over TLS: use ?tls=required or smtps://"
                    .into(),
            )
        }
        Step::StartTls if e.is_client() => {
            return configuration(
                "the SMTP server does not offer STARTTLS, which tls=required asks for".into(),
            )
        }
        // 530: "authentication required" (or "must issue STARTTLS first").
        Step::Send if code == Some(530) => {
            return configuration(format!(
                "the SMTP server wants a user name and password first: {}",
                server_reply(e)
            ))
        }
        _ => {}
    }
    SendError {
        kind: if e.is_permanent() {
            Failure::Permanent
        } else {
            Failure::Temporary
        },
        message: error_chain(e),
    }
}

/// The server's answer to a refused command: its code and text, once.
fn server_reply(e: &lettre::transport::smtp::Error) -> String {
    match (e.status(), std::error::Error::source(e)) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        _ => error_chain(e),
    }
}
