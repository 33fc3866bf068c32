//! A small pooled SMTP client on lettre's public connection API, whose sockets
//! have `TCP_NODELAY` set.
//!
//! Why not lettre's `AsyncSmtpTransport`: lettre 0.11.23 never sets
//! `TCP_NODELAY`, and it writes the end of DATA (`\r\n.\r\n`) as a write of its
//! own after the body. Nagle's algorithm holds those 5 bytes until the server
//! ACKs the body, which the server's kernel delays by 40 ms, so every email
//! took at least 40 ms and the worker topped out at ~160 emails/s
//! (BENCHMARKS.md, F1). Upstream fixed it in lettre PR #1159 (set
//! `TCP_NODELAY`), not yet released. Once a lettre release contains it, this
//! module can go and `Mailer::smtp` can return to `AsyncSmtpTransport::from_url`
//! with a pool of 8.
//!
//! So here we open the TCP socket ourselves, set `TCP_NODELAY`, and hand it to
//! `AsyncSmtpConnection::connect_with_transport`; the SMTP dialogue (EHLO,
//! STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing) stays lettre's. The URL rules
//! and connection set-up mirror lettre's `connection_url.rs`,
//! `Tokio1Executor::connect` and `AsyncSmtpClient::connection`; the pool mirrors
//! lettre's (idle connections reused, broken ones dropped, idle ones closed
//! after 60 s), plus a cap on open connections and a timeout on every step.
//!
//! The timeouts are RFC 5321 §4.5.3.2's, one per step ([`SmtpTimeouts`]): a
//! relay may take minutes to answer the end of the data (it is delivering
//! the message meanwhile), and a client that gives up sooner leaves a message
//! the relay then delivers anyway, so each retry is a repeat. MAIL, RCPT and
//! DATA go one command at a time, each with its own timeout; lettre writes the
//! message and reads the answer to its end in one call (`message`), so that
//! call gets the data block's and the end's timeouts together.
//!
//! `settings` (the URL and the timeouts), `pool` (connections and the mail
//! transaction), `errors` (what a failure means), `tls` (`smtps://`).

mod errors;
mod pool;
mod settings;
mod tls;

pub use pool::SmtpPool;
pub use settings::{SmtpTimeouts, SmtpUrl};
