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

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_util::io::{AsyncRead as _, AsyncWrite as _};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)]
// public, and the only way to reach lettre's TLS handshake; see `ImplicitTls`
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::{SMTP_PORT, SUBMISSIONS_PORT, SUBMISSION_PORT};
use lettre::Message;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::{error_chain, Failure, SendError};

/// Idle connections older than this are closed (lettre's pool default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection idle longer than this gets a NOOP before it is reused: the
/// server may have closed it meanwhile. Busy connections skip that round trip.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How often idle connections are looked at for closing.
const REAP_EVERY: Duration = Duration::from_secs(15);

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
        let tls_parameters = || super::trust::tls_parameters(&host, extra_roots).map_err(bad);
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

/// Opens a TCP connection with `TCP_NODELAY` set, trying each resolved
/// address in turn like lettre does.
pub(crate) async fn open_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last_err = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // The point of this module: see the top.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("the host name resolved to no address")))
}

/// A pool of at most `max` SMTP connections to one server.
pub struct SmtpPool {
    inner: Arc<Inner>,
}

struct Inner {
    url: SmtpUrl,
    /// One permit per open connection, in use or not, so at most `max` are open.
    permits: Semaphore,
    /// Connections not in use, the most recently used last.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    reaper: Once,
    timeouts: SmtpTimeouts,
}

impl SmtpPool {
    /// A pool with RFC 5321's timeouts.
    pub fn new(url: SmtpUrl, max: usize) -> SmtpPool {
        SmtpPool::with_timeouts(url, max, SmtpTimeouts::default())
    }

    pub fn with_timeouts(url: SmtpUrl, max: usize, timeouts: SmtpTimeouts) -> SmtpPool {
        SmtpPool {
            inner: Arc::new(Inner {
                url,
                permits: Semaphore::new(max.max(1)),
                idle: Mutex::new(Vec::new()),
                reaper: Once::new(),
                timeouts,
            }),
        }
    }

    /// The longest one email can take (one recipient, as every email of the app has).
    pub fn longest_send(&self) -> Duration {
        self.inner.timeouts.longest_send(1)
    }

    /// Sends one message, each step within its timeout and the whole within
    /// [`SmtpTimeouts::longest_send`] (a pool permit may be awaited first:
    /// callers send no more at once than the pool has connections).
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        // Started on first use rather than in `new`, which may run outside a runtime.
        self.inner
            .reaper
            .call_once(|| drop(tokio::spawn(reap(Arc::downgrade(&self.inner)))));
        let raw = message.formatted();
        let _permit = self.inner.permits.acquire().await.expect("never closed");
        let envelope = message.envelope();
        let bound = self.inner.timeouts.longest_send(envelope.to().len() as u32);
        let send = async {
            let mut conn = self.inner.checkout().await?;
            self.inner.transaction(&mut conn, envelope, &raw).await?;
            // Back before the permit goes, so the next sender finds it. After an
            // error it is dropped instead (closing the socket), never pooled again:
            // its state is unknown.
            lock(&self.inner.idle).push((conn, Instant::now()));
            Ok(())
        };
        tokio::time::timeout(bound, send)
            .await
            .unwrap_or_else(|_| Err(self.inner.timed_out("sending, in all", bound)))
    }
}

impl Inner {
    /// An idle connection that still works, or a new one. An idle one is
    /// checked with NOOP at most once: if it is dead, the others probably are
    /// too, and they are left for the reaper.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        let t = &self.timeouts;
        loop {
            let Some((mut conn, since)) = lock(&self.idle).pop() else {
                break;
            };
            let idle_for = since.elapsed();
            if idle_for > IDLE_TIMEOUT || conn.has_broken() {
                continue; // dropped; the server has likely given up on it anyway
            }
            if idle_for > CHECK_AFTER
                && !tokio::time::timeout(t.command, conn.test_connected())
                    .await
                    .unwrap_or(false)
            {
                break;
            }
            return Ok(conn);
        }
        match tokio::time::timeout(t.greeting, self.connect()).await {
            Ok(result) => result,
            Err(_) => Err(self.timed_out("connecting", t.greeting)),
        }
    }

    /// One mail transaction, as lettre's `AsyncSmtpConnection::send` does it
    /// (the same SMTPUTF8 and 8BITMIME rules) but one step at a time, each
    /// within its timeout.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<(), SendError> {
        let t = &self.timeouts;
        let mut options = vec![];
        let addresses = envelope.from().into_iter().chain(envelope.to());
        if addresses
            .clone()
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
        {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError {
                    kind: Failure::Permanent,
                    message: "an address is not ASCII and the SMTP server does not take SMTPUTF8"
                        .into(),
                });
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError {
                    kind: Failure::Permanent,
                    message: "the message is not ASCII and the SMTP server does not take 8BITMIME"
                        .into(),
                });
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), options);
        self.step(t.command, "MAIL FROM", conn.command(mail))
            .await?;
        for to in envelope.to() {
            let rcpt = Rcpt::new(to.clone(), vec![]);
            self.step(t.command, "RCPT TO", conn.command(rcpt)).await?;
        }
        self.step(t.data_start, "DATA", conn.command(Data)).await?;
        let end = t.data_block + t.data_end;
        self.step(end, "the end of the data", conn.message(raw))
            .await
    }

    /// One step of a transaction within `limit`.
    async fn step(
        &self,
        limit: Duration,
        what: &str,
        step: impl std::future::Future<
            Output = Result<
                lettre::transport::smtp::response::Response,
                lettre::transport::smtp::Error,
            >,
        >,
    ) -> Result<(), SendError> {
        match tokio::time::timeout(limit, step).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(&e, Step::Send)),
            Err(_) => Err(self.timed_out(what, limit)),
        }
    }

    /// What `AsyncSmtpTransport` does for a new connection: TCP (+ TLS for
    /// `smtps://`), greeting and EHLO, STARTTLS when asked, AUTH when given
    /// credentials.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let url = &self.url;
        let tcp = open_tcp(&url.host, url.port).await.map_err(|e| {
            SendError::temporary(format!(
                "cannot connect to the SMTP server {}:{}: {e}",
                url.host, url.port
            ))
        })?;
        let stream: Box<dyn AsyncTokioStream> = match &url.tls {
            Tls::Wrapper(params) => Box::new(ImplicitTls::handshake(tcp, params.clone()).await?),
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &url.hello_name)
            .await
            .map_err(|e| smtp_error(&e, Step::Greeting))?;
        match &url.tls {
            Tls::Opportunistic(params) if conn.can_starttls() => {
                conn.starttls(params.clone(), &url.hello_name).await
            }
            Tls::Required(params) => conn.starttls(params.clone(), &url.hello_name).await,
            _ => Ok(()),
        }
        .map_err(|e| smtp_error(&e, Step::StartTls))?;
        if let Some(credentials) = &url.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| smtp_error(&e, Step::Auth))?;
        }
        Ok(conn)
    }

    fn timed_out(&self, what: &str, limit: Duration) -> SendError {
        SendError::temporary(format!(
            "the SMTP server {}:{} did not answer within {} s ({what})",
            self.url.host,
            self.url.port,
            limit.as_secs()
        ))
    }
}

impl Drop for Inner {
    /// Says QUIT on the idle connections, if a runtime is still there to do it.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        if let (false, Ok(runtime)) = (idle.is_empty(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(quit_all(idle, self.timeouts.command));
        }
    }
}

/// Closes connections idle longer than `IDLE_TIMEOUT`, until the pool is gone.
async fn reap(pool: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let Some(pool) = pool.upgrade() else { return };
        let expired: Vec<_> = {
            let mut idle = lock(&pool.idle);
            let (expired, kept) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| since.elapsed() > IDLE_TIMEOUT);
            *idle = kept;
            expired
        };
        let limit = pool.timeouts.command;
        drop(pool);
        quit_all(expired, limit).await;
    }
}

async fn quit_all(conns: Vec<(AsyncSmtpConnection, Instant)>, limit: Duration) {
    for (mut conn, _) in conns {
        let _ = tokio::time::timeout(limit, conn.quit()).await;
    }
}

/// Where in the SMTP dialogue an error came, which says what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
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
fn smtp_error(e: &lettre::transport::smtp::Error, step: Step) -> SendError {
    let configuration = |message: String| SendError {
        kind: Failure::Configuration,
        message,
    };
    if let Some(refused) = super::trust::certificate_error(e) {
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

/// Poisoning can only come from a panic elsewhere; a list of connections stays consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A TLS stream for `smtps://`, where TLS starts before the greeting.
///
/// `connect_with_transport` reads the greeting from whatever stream it gets, so
/// that stream must already be encrypted. lettre's TLS handshake (with the same
/// `TlsParameters`, root certificates and rustls set-up as its own transport) is
/// reachable only through `AsyncNetworkStream::use_existing_tokio1` +
/// `upgrade_tls`; that type is public but deprecated, and speaks the `futures`
/// I/O traits, so this wrapper turns it back into a tokio stream. (lettre does
/// not know the stream is encrypted, which only matters for STARTTLS, never
/// used on `smtps://`.)
#[allow(deprecated)]
#[derive(Debug)]
struct ImplicitTls(AsyncNetworkStream);

#[allow(deprecated)]
impl ImplicitTls {
    async fn handshake(tcp: TcpStream, params: TlsParameters) -> Result<ImplicitTls, SendError> {
        let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
        stream
            .upgrade_tls(params)
            .await
            .map_err(|e| smtp_error(&e, Step::ImplicitTls))?;
        Ok(ImplicitTls(stream))
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

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

    #[tokio::test]
    async fn our_sockets_have_tcp_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = open_tcp("127.0.0.1", port).await.unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY is not set");
        // And the default, for contrast: this is what lettre 0.11.23 leaves.
        let plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(!plain.nodelay().unwrap());
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let pool = SmtpPool::new(parse(&format!("smtp://127.0.0.1:{port}")), 8);
        let err = pool.inner.checkout().await.map(|_| ()).unwrap_err();
        assert_eq!(err.kind, Failure::Temporary, "{err}");
        assert!(err.message.contains("cannot connect"), "{err}");
    }

    /// `smtps://` starts with a TLS ClientHello, before any SMTP greeting.
    #[tokio::test]
    async fn smtps_speaks_tls_first() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 3];
            socket.read_exact(&mut first).await.unwrap();
            first // dropping the socket ends the handshake
        });
        let pool = SmtpPool::new(parse(&format!("smtps://localhost:{port}")), 8);
        let err = pool.inner.checkout().await.map(|_| ()).unwrap_err();
        // A TLS record of type handshake (22), protocol version 3.x.
        assert_eq!(&server.await.unwrap()[..2], &[0x16, 0x03]);
        assert_eq!(err.kind, Failure::Temporary, "{err}");
    }
}
