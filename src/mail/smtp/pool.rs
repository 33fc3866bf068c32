//! The pool of SMTP connections: opening one (TCP with `TCP_NODELAY`, TLS,
//! greeting, STARTTLS, AUTH), one mail transaction on it step by step, and
//! keeping idle ones for reuse.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::DEFAULT_MECHANISMS;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Tls};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::Message;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::errors::{smtp_error, Step};
use super::tls::ImplicitTls;
use super::{SmtpTimeouts, SmtpUrl};
use crate::mail::{Failure, SendError};

/// Idle connections older than this are closed (lettre's pool default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection idle longer than this gets a NOOP before it is reused: the
/// server may have closed it meanwhile. Busy connections skip that round trip.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How often idle connections are looked at for closing.
const REAP_EVERY: Duration = Duration::from_secs(15);

/// Opens a TCP connection with `TCP_NODELAY` set, trying each resolved
/// address in turn like lettre does.
async fn open_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last_err = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // The point of this client: see `smtp/mod.rs`.
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

/// Poisoning can only come from a panic elsewhere; a list of connections stays consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    fn parse(url: &str) -> SmtpUrl {
        SmtpUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
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
