//! An in-process SMTP server for the tests: it records the mail the app sends and
//! can refuse it on demand, to test retries.
//!
//! SMTP on 127.0.0.1, plain or over TLS ([`TlsMode`]: STARTTLS or TLS from the
//! start, with a certificate from a [`TestCa`] made for the test); it speaks the
//! subset of ESMTP (RFC 5321) that lettre's client uses: EHLO/HELO, STARTTLS, AUTH
//! (any credentials pass unless refused), MAIL, RCPT, DATA, RSET, NOOP, QUIT, several
//! messages per connection, many connections at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mail_parser::{Message, MessageParser, MimeHeaders};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// One message the sink accepted; read with [mail_parser].
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`), without angle brackets; empty for `<>`.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub rcpt_to: Vec<String>,
    /// The RFC 5322 message as sent, line endings kept, dot-stuffing undone.
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

impl Received {
    /// The message, parsed.
    pub fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(self.data.as_bytes())
            .unwrap_or_else(|| panic!("smtp sink: cannot parse the message {:?}", self.data))
    }

    /// The first header of that name (case-insensitive) as sent, unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = self.parsed();
        let raw = message.header_raw(name.to_string())?;
        // Unfolding just removes the line breaks (RFC 5322 2.2.3).
        Some(raw.replace(['\r', '\n'], "").trim().to_string())
    }

    /// The Subject header, its RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.parsed().subject().map(str::to_string)
    }

    /// Everything after the blank line that ends the headers, still transfer-encoded.
    pub fn body(&self) -> &str {
        let offset = self.parsed().root_part().raw_body_offset() as usize;
        &self.data[offset.min(self.data.len())..]
    }

    /// The decoded text of the first MIME part of this type (`text/plain`, `text/html`).
    pub fn text_part(&self, mime_type: &str) -> Option<String> {
        let (ctype, subtype) = mime_type.split_once('/')?;
        let message = self.parsed();
        let part = message.parts.iter().find(|part| {
            part.content_type().is_some_and(|t| {
                t.ctype().eq_ignore_ascii_case(ctype)
                    && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
            })
        })?;
        part.text_contents().map(str::to_string)
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refused: usize,
    /// SMTP connections accepted so far.
    connections: usize,
    /// How many more messages to refuse (`usize::MAX`: all of them), and the reply.
    fail_remaining: usize,
    fail_reply: String,
    /// Wait this long before answering the end of DATA.
    delay: Duration,
    /// Answer every AUTH with 535.
    refuse_logins: bool,
}

/// How the sink speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain at first; EHLO offers STARTTLS (`smtp://…?tls=required`).
    StartTls,
    /// TLS before the greeting (`smtps://`).
    Implicit,
}

/// A certificate authority made for one test, and a server certificate it
/// signed for `localhost` and 127.0.0.1.
pub struct TestCa {
    /// The CA's certificate, PEM: what `AFTERCARE_SMTP_CA_FILE` names.
    pub cert_pem: String,
    server: Arc<ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Aftercare test clinic CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).unwrap();

        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        TestCa {
            cert_pem,
            server: Arc::new(server),
        }
    }

    /// Writes the CA's certificate to `dir/ca.pem` and returns that path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.cert_pem).expect("smtp sink: write the CA file");
        path
    }
}

/// The server; it stops (listener and open connections) when dropped.
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
    tls: Option<TlsMode>,
}

impl SmtpSink {
    /// Plain SMTP, no TLS.
    pub async fn start() -> SmtpSink {
        SmtpSink::listen(None).await
    }

    /// SMTP over TLS, with the server certificate `ca` signed.
    pub async fn start_tls(mode: TlsMode, ca: &TestCa) -> SmtpSink {
        SmtpSink::listen(Some((mode, TlsAcceptor::from(Arc::clone(&ca.server))))).await
    }

    async fn listen(tls: Option<(TlsMode, TlsAcceptor)>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("smtp sink: bind");
        let port = listener
            .local_addr()
            .expect("smtp sink: local address")
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let mode = tls.as_ref().map(|(mode, _)| *mode);
        let accept = tokio::spawn(async move {
            // The set owns the connection tasks, so aborting this task ends them too.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve(stream, Arc::clone(&shared), tls.clone()));
                        }
                        // E.g. out of file descriptors: don't spin on it.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    // Reap finished connections so the set doesn't grow.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        SmtpSink {
            port,
            state,
            accept,
            tls: mode,
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `Mailer::smtp` or lettre's `AsyncSmtpTransport::from_url`;
    /// with TLS, `smtp://localhost:PORT?tls=required` or `smtps://localhost:PORT`, the name
    /// the certificate is for.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("smtp://127.0.0.1:{}", self.port),
            Some(TlsMode::StartTls) => format!("smtp://localhost:{}?tls=required", self.port),
            Some(TlsMode::Implicit) => format!("smtps://localhost:{}", self.port),
        }
    }

    /// The URL with a user name and password in it (`user:password@`).
    pub fn url_with_login(&self, user: &str, password: &str) -> String {
        self.url()
            .replacen("://", &format!("://{user}:{password}@"), 1)
    }

    /// Answer every AUTH with `535 5.7.8`, as for a wrong password.
    pub fn refuse_logins(&self) {
        lock(&self.state).refuse_logins = true;
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// The Message-ID header of each accepted message (with its angle brackets).
    pub fn message_ids(&self) -> Vec<String> {
        let received = self.received();
        received
            .iter()
            .filter_map(|m| m.header("Message-ID"))
            .collect()
    }

    /// Waits until at least `n` messages have been accepted; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if Instant::now() >= deadline {
                panic!(
                    "smtp sink: expected at least {n} message(s) within {timeout:?}, got {} \
                     (and refused {}): {received:#?}",
                    received.len(),
                    self.refused()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Refuse the next `n` messages at the end of DATA with `code text`
    /// (e.g. `451, "4.3.0 try later"`); they are counted, not recorded.
    pub fn fail_next(&self, n: usize, code: u16, text: &str) {
        assert!(
            (400..600).contains(&code),
            "smtp sink: {code} is not a failure code"
        );
        let mut state = lock(&self.state);
        state.fail_remaining = n;
        state.fail_reply = format!("{code} {text}");
    }

    /// Refuse every message from now on, until `accept_all`.
    pub fn fail_all(&self, code: u16, text: &str) {
        self.fail_next(usize::MAX, code, text);
    }

    pub fn accept_all(&self) {
        lock(&self.state).fail_remaining = 0;
    }

    /// How many connections clients have opened so far.
    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    /// How many messages were refused by `fail_next`/`fail_all`.
    pub fn refused(&self) -> usize {
        lock(&self.state).refused
    }

    /// Answer the end of each message only after `delay`, like a slow server.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Poisoning can only come from a panic elsewhere; the state itself stays consistent.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads one line, with its CRLF or bare LF; `None` at end of stream.
pub async fn read_line(r: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    Ok((r.read_until(b'\n', &mut line).await? > 0).then_some(line))
}

/// A connection, plain or TLS.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// One connection: TLS first for `Implicit`, TLS after STARTTLS for `StartTls`.
/// I/O and handshake errors (the client going away, or refusing the certificate)
/// just end it.
async fn serve(
    stream: TcpStream,
    state: Arc<Mutex<State>>,
    tls: Option<(TlsMode, TlsAcceptor)>,
) -> std::io::Result<()> {
    lock(&state).connections += 1;
    match tls {
        None => session(Box::new(stream), &state, Greeting::Plain)
            .await
            .map(drop),
        Some((TlsMode::Implicit, acceptor)) => {
            let stream = acceptor.accept(stream).await?;
            session(Box::new(stream), &state, Greeting::Tls)
                .await
                .map(drop)
        }
        Some((TlsMode::StartTls, acceptor)) => {
            let Some(plain) = session(Box::new(stream), &state, Greeting::OffersStartTls).await?
            else {
                return Ok(());
            };
            let stream = acceptor.accept(plain).await?;
            session(Box::new(stream), &state, Greeting::AfterStartTls)
                .await
                .map(drop)
        }
    }
}

/// Where a session stands with TLS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Greeting {
    Plain,
    /// Plain, with STARTTLS in the EHLO reply.
    OffersStartTls,
    /// TLS from the start.
    Tls,
    /// TLS after STARTTLS: no second greeting (RFC 3207).
    AfterStartTls,
}

/// The SMTP dialogue on one stream. Returns the stream when the client asked for
/// STARTTLS, for the handshake.
async fn session(
    stream: Box<dyn Conn>,
    state: &Arc<Mutex<State>>,
    greeting: Greeting,
) -> std::io::Result<Option<Box<dyn Conn>>> {
    let tls = matches!(greeting, Greeting::Tls | Greeting::AfterStartTls);
    let mut conn = BufReader::new(stream);
    // The transaction in progress: the sender, then the recipients.
    let mut txn: Option<(String, Vec<String>)> = None;
    if greeting != Greeting::AfterStartTls {
        conn.write_all(b"220 localhost ESMTP smtp_sink\r\n").await?;
    }
    loop {
        let Some(line) = read_line(&mut conn).await? else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let mut reply: String = match verb.to_ascii_uppercase().as_str() {
            // Each reply line but the last has a `-` after the code (RFC 5321 4.2.1).
            // lettre sends BODY=8BITMIME / SMTPUTF8 only when these are advertised.
            "EHLO" => {
                txn = None;
                let starttls = if greeting == Greeting::OffersStartTls {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                format!("250-localhost\r\n250-8BITMIME\r\n{starttls}250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN")
            }
            "STARTTLS" if greeting == Greeting::OffersStartTls => {
                conn.write_all(b"220 2.0.0 ready to start TLS\r\n").await?;
                // The client waits for that reply, so nothing is left in the buffer.
                return Ok(Some(conn.into_inner()));
            }
            "HELO" => {
                txn = None;
                "250 localhost".into()
            }
            "AUTH" => {
                // Any credentials will do; just consume the exchange. PLAIN may carry
                // them on the command line; LOGIN asks for user then password (base64).
                let mut words = arg.split_whitespace();
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let prompts: Option<&[&str]> = match (mechanism.as_str(), words.next()) {
                    ("PLAIN", Some(_)) => Some(&[]),
                    ("PLAIN", None) => Some(&[""]),
                    ("LOGIN", Some(_)) => Some(&["UGFzc3dvcmQ6"]), // "Password:"
                    ("LOGIN", None) => Some(&["VXNlcm5hbWU6", "UGFzc3dvcmQ6"]),
                    _ => None,
                };
                if let Some(prompts) = prompts {
                    for prompt in prompts {
                        conn.write_all(format!("334 {prompt}\r\n").as_bytes())
                            .await?;
                        if read_line(&mut conn).await?.is_none() {
                            return Ok(None);
                        }
                    }
                    if lock(state).refuse_logins {
                        "535 5.7.8 authentication credentials invalid".into()
                    } else {
                        "235 2.7.0 authentication successful".into()
                    }
                } else {
                    "504 5.5.4 unrecognized authentication type".into()
                }
            }
            "MAIL" => match (&txn, path(arg, "FROM:")) {
                (Some(_), _) => "503 5.5.1 nested MAIL command".into(),
                (None, Some(from)) => {
                    txn = Some((from, Vec::new()));
                    "250 2.1.0 ok".into()
                }
                (None, None) => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
            },
            "RCPT" => match (&mut txn, path(arg, "TO:")) {
                (None, _) => "503 5.5.1 need MAIL before RCPT".into(),
                (Some((_, to)), Some(rcpt)) => {
                    to.push(rcpt);
                    "250 2.1.5 ok".into()
                }
                (Some(_), None) => "501 5.5.4 syntax: RCPT TO:<address>".into(),
            },
            "DATA" => match txn.take() {
                Some((mail_from, rcpt_to)) if !rcpt_to.is_empty() => {
                    conn.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let Some(data) = read_data(&mut conn).await? else {
                        return Ok(None);
                    };
                    let delay = lock(state).delay;
                    tokio::time::sleep(delay).await;
                    let mut state = lock(state);
                    if state.fail_remaining > 0 {
                        if state.fail_remaining != usize::MAX {
                            state.fail_remaining -= 1;
                        }
                        state.refused += 1;
                        state.fail_reply.clone()
                    } else {
                        state.received.push(Received {
                            mail_from,
                            rcpt_to,
                            data,
                            tls,
                        });
                        format!("250 2.0.0 ok: queued as {}", state.received.len())
                    }
                }
                pending => {
                    txn = pending;
                    "503 5.5.1 need RCPT before DATA".into()
                }
            },
            "RSET" => {
                txn = None;
                "250 2.0.0 ok".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "QUIT" => {
                conn.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(None);
            }
            _ => "502 5.5.2 command not recognized".into(),
        };
        reply.push_str("\r\n");
        conn.write_all(reply.as_bytes()).await?;
    }
}

/// The address in `FROM:<a@b> BODY=8BITMIME` (prefix `FROM:`); parameters are ignored.
fn path(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let address = match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>')?.0,
        None => rest.split_whitespace().next()?,
    };
    Some(address.to_string())
}

/// The message after `354`, up to the line holding just `.`. The client doubled each
/// line's leading dot so that no line of the message can end it early (RFC 5321
/// 4.5.2); undo that. `None` if the client went away first.
async fn read_data(r: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<String>> {
    let mut data = Vec::new();
    while let Some(line) = read_line(r).await? {
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
    }
    Ok(None)
}
