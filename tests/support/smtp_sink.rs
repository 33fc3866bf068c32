//! An in-process SMTP server for the tests: it records the mail the app sends and
//! can refuse it on demand, to test retries.
//!
//! Plain SMTP on 127.0.0.1, no TLS; it speaks the subset of ESMTP (RFC 5321) that
//! lettre's client uses: EHLO/HELO, AUTH (any credentials pass), MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT, several messages per connection, many connections at once.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One message the sink accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`), without angle brackets; empty for `<>`.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub rcpt_to: Vec<String>,
    /// The RFC 5322 message as sent, line endings kept, dot-stuffing undone.
    pub data: String,
}

impl Received {
    /// The first header of that name (case-insensitive), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        for line in self.head().lines() {
            if line.starts_with([' ', '\t']) {
                // A folded continuation: unfolding just removes the line break (RFC 5322 2.2.3).
                if let Some(value) = found.as_mut() {
                    value.push_str(line);
                }
            } else if found.is_some() {
                break;
            } else if let Some((field, value)) = line.split_once(':') {
                if field.trim().eq_ignore_ascii_case(name) {
                    found = Some(value.to_string());
                }
            }
        }
        found.map(|value| value.trim().to_string())
    }

    /// The Subject header, with lettre's RFC 2047 encoding of non-ASCII text undone.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject").map(|value| decode_rfc2047(&value))
    }

    /// Everything after the blank line that ends the headers, still transfer-encoded.
    pub fn body(&self) -> &str {
        self.split().1
    }

    fn head(&self) -> &str {
        self.split().0
    }

    fn split(&self) -> (&str, &str) {
        let mut at = 0;
        for line in self.data.split_inclusive('\n') {
            if line.trim_end_matches(['\r', '\n']).is_empty() {
                return (&self.data[..at], &self.data[at + line.len()..]);
            }
            at += line.len();
        }
        (&self.data, "")
    }
}

/// Decodes `=?charset?b?…?=` encoded words, the only kind lettre writes; whitespace
/// between two encoded words is dropped, as RFC 2047 section 6.2 says.
fn decode_rfc2047(value: &str) -> String {
    let (mut out, mut rest, mut after_word) = (String::new(), value, false);
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let decoded = (|| {
            let (_charset, tail) = word[2..].split_once('?')?;
            let text = tail.strip_prefix(['b', 'B'])?.strip_prefix('?')?;
            let (text, tail) = text.split_once("?=")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?;
            Some((String::from_utf8_lossy(&bytes).into_owned(), tail))
        })();
        match decoded {
            Some((text, tail)) => {
                out.push_str(&text);
                (rest, after_word) = (tail, true);
            }
            None => {
                out.push_str("=?");
                (rest, after_word) = (&word[2..], false);
            }
        }
    }
    out + rest
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
}

/// The server; it stops (listener and open connections) when dropped.
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("smtp sink: bind");
        let port = listener
            .local_addr()
            .expect("smtp sink: local address")
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            // The set owns the connection tasks, so aborting this task ends them too.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve(stream, Arc::clone(&shared)));
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
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `Mailer::smtp` or lettre's `AsyncSmtpTransport::from_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
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
async fn read_line(r: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    Ok((r.read_until(b'\n', &mut line).await? > 0).then_some(line))
}

/// One SMTP session. I/O errors (the client going away) just end it.
async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    lock(&state).connections += 1;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    // The transaction in progress: the sender, then the recipients.
    let mut txn: Option<(String, Vec<String>)> = None;
    let mut reply = String::from("220 localhost ESMTP smtp_sink");
    loop {
        reply.push_str("\r\n");
        w.write_all(reply.as_bytes()).await?;
        let Some(line) = read_line(&mut r).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        reply = match verb.to_ascii_uppercase().as_str() {
            // Each reply line but the last has a `-` after the code (RFC 5321 4.2.1).
            // lettre sends BODY=8BITMIME / SMTPUTF8 only when these are advertised.
            "EHLO" => {
                txn = None;
                "250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN".into()
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
                        w.write_all(format!("334 {prompt}\r\n").as_bytes()).await?;
                        if read_line(&mut r).await?.is_none() {
                            return Ok(());
                        }
                    }
                    "235 2.7.0 authentication successful".into()
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
                    w.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let Some(data) = read_data(&mut r).await? else {
                        return Ok(());
                    };
                    let delay = lock(&state).delay;
                    tokio::time::sleep(delay).await;
                    let mut state = lock(&state);
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
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized".into(),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    const WAIT: Duration = Duration::from_secs(5);

    /// A pooled transport, as the app builds one from its settings.
    fn mailer(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
            .unwrap()
            .build()
    }

    fn message(to: &str, subject: &str) -> Message {
        let builder = Message::builder().from("Clinic <clinic@example.com>".parse().unwrap());
        // lettre adds no Message-ID unless asked; `None` makes one up.
        let builder = builder
            .to(to.parse().unwrap())
            .subject(subject)
            .message_id(None);
        // No final newline: lettre always ends the data with CRLF . CRLF, and a final
        // newline here would arrive as an extra empty line.
        builder
            .body(String::from("Hello,\n.\n..two dots\nbye"))
            .unwrap()
    }

    /// A raw SMTP client, to check what lettre never sends.
    struct Client {
        r: BufReader<OwnedReadHalf>,
        w: OwnedWriteHalf,
    }

    impl Client {
        async fn connect(port: u16) -> (Client, String) {
            let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (r, w) = stream.into_split();
            let mut client = Client {
                r: BufReader::new(r),
                w,
            };
            let greeting = client.reply().await;
            (client, greeting)
        }

        /// One whole reply; the lines of a multi-line one joined with `\n`.
        async fn reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let line = read_line(&mut self.r)
                    .await
                    .unwrap()
                    .expect("connection closed");
                let line = String::from_utf8(line).unwrap().trim_end().to_string();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("\n");
                }
            }
        }

        async fn send(&mut self, raw: &str) -> String {
            self.w.write_all(raw.as_bytes()).await.unwrap();
            self.reply().await
        }
    }

    #[tokio::test]
    async fn records_what_lettre_sends() {
        let sink = SmtpSink::start().await;
        let mailer = mailer(&sink);
        mailer
            .send(message("Zoë <zoe@example.com>", "Your aftercare, Zoë"))
            .await
            .unwrap();
        let long = "Reminder: a long subject that lettre may well fold over two lines, or more";
        let cc = Message::builder()
            .from("clinic@example.com".parse().unwrap())
            .to("ann@example.com".parse().unwrap())
            .cc("bob@example.com".parse().unwrap())
            .subject(long)
            .message_id(Some("<reminder-1@clinic.example>".into()))
            .body(String::from("plain"))
            .unwrap();
        mailer.send(cc).await.unwrap();

        let got = sink.wait_for(2, WAIT).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].mail_from, "clinic@example.com");
        assert_eq!(got[0].rcpt_to, ["zoe@example.com"]);
        assert_eq!(got[0].subject().as_deref(), Some("Your aftercare, Zoë"));
        assert_eq!(
            got[0].header("from").as_deref(),
            Some("Clinic <clinic@example.com>")
        );
        // Dot-stuffed by lettre on the wire, restored here.
        assert_eq!(got[0].body(), "Hello,\r\n.\r\n..two dots\r\nbye\r\n");
        assert_eq!(got[1].rcpt_to, ["ann@example.com", "bob@example.com"]);
        assert_eq!(got[1].subject().as_deref(), Some(long));
        let ids = sink.message_ids();
        assert_eq!(ids.len(), 2, "{got:#?}");
        assert!(ids[0].starts_with('<') && ids[0].ends_with('>'), "{ids:?}");
        assert_eq!(ids[1], "<reminder-1@clinic.example>");
        assert_eq!(sink.refused(), 0);
    }

    #[tokio::test]
    async fn refuses_on_demand() {
        let sink = SmtpSink::start().await;
        let mailer = mailer(&sink);
        sink.fail_next(1, 451, "4.3.0 try later");
        let err = mailer
            .send(message("a@example.com", "one"))
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert_eq!(
            err.status().map(|code| code.to_string()).as_deref(),
            Some("451")
        );
        assert!(err.to_string().contains("try later"), "{err}");
        mailer.send(message("a@example.com", "two")).await.unwrap();

        sink.fail_all(550, "5.1.1 no such user");
        for _ in 0..2 {
            let err = mailer
                .send(message("b@example.com", "three"))
                .await
                .unwrap_err();
            assert!(err.is_permanent(), "{err}");
        }
        sink.accept_all();
        mailer.send(message("c@example.com", "four")).await.unwrap();

        assert_eq!(sink.refused(), 3);
        let subjects: Vec<_> = sink
            .received()
            .iter()
            .filter_map(Received::subject)
            .collect();
        assert_eq!(subjects, ["two", "four"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn serves_connections_concurrently() {
        let sink = SmtpSink::start().await;
        let mailer = mailer(&sink);
        let mut sends = JoinSet::new();
        for i in 0..10 {
            let mailer = mailer.clone();
            sends.spawn(async move {
                mailer
                    .send(message(&format!("p{i}@example.com"), "hi"))
                    .await
            });
        }
        while let Some(sent) = sends.join_next().await {
            sent.unwrap().unwrap();
        }
        let mut to: Vec<_> = sink
            .wait_for(10, WAIT)
            .await
            .into_iter()
            .map(|m| m.rcpt_to[0].clone())
            .collect();
        to.sort();
        let mut expected: Vec<_> = (0..10).map(|i| format!("p{i}@example.com")).collect();
        expected.sort();
        assert_eq!(to, expected);
    }

    #[tokio::test]
    async fn speaks_the_protocol() {
        let sink = SmtpSink::start().await;
        let (mut c, greeting) = Client::connect(sink.port()).await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        let ehlo = c.send("EHLO test\r\n").await;
        assert!(
            ehlo.starts_with("250-localhost\n") && ehlo.contains("250-8BITMIME"),
            "{ehlo}"
        );
        assert!(c.send("DATA\r\n").await.starts_with("503 "));
        assert!(c.send("RCPT TO:<b@x>\r\n").await.starts_with("503 "));
        assert!(c.send("VRFY bob\r\n").await.starts_with("502 "));
        assert!(c.send("MAIL TO:<a@x>\r\n").await.starts_with("501 "));
        assert!(c
            .send("mail from: <a@x> BODY=8BITMIME SMTPUTF8\r\n")
            .await
            .starts_with("250 "));
        assert!(c.send("MAIL FROM:<a@x>\r\n").await.starts_with("503 "));
        assert!(c.send("RCPT TO:<b@x>\r\n").await.starts_with("250 "));
        assert!(c.send("DATA\r\n").await.starts_with("354 "));
        // A folded header, a dot-stuffed line and bare LFs.
        let data = "Subject: a\r\n\tfolded one\r\nMessage-ID: <1@x>\n\n..dot\nline\r\n.\r\n";
        assert!(c.send(data).await.starts_with("250 "));
        // A second message on the same connection, after RSET, with a null sender.
        assert!(c.send("RSET\r\n").await.starts_with("250 "));
        assert!(c.send("NOOP\r\n").await.starts_with("250 "));
        assert!(c.send("MAIL FROM:<>\r\n").await.starts_with("250 "));
        assert!(c.send("RCPT TO:<c@x>\r\n").await.starts_with("250 "));
        assert!(c.send("DATA\r\n").await.starts_with("354 "));
        assert!(c.send("\r\nno headers\r\n.\r\n").await.starts_with("250 "));
        // AUTH accepts anything it knows.
        assert_eq!(c.send("AUTH LOGIN\r\n").await, "334 VXNlcm5hbWU6");
        assert_eq!(c.send("dXNlcg==\r\n").await, "334 UGFzc3dvcmQ6");
        assert!(c.send("cHc=\r\n").await.starts_with("235 "));
        assert!(c.send("AUTH PLAIN AHUAcA==\r\n").await.starts_with("235 "));
        assert!(c.send("AUTH CRAM-MD5\r\n").await.starts_with("504 "));
        assert!(c.send("QUIT\r\n").await.starts_with("221 "));
        assert_eq!(read_line(&mut c.r).await.unwrap(), None);

        let got = sink.received();
        assert_eq!(
            (got[0].mail_from.as_str(), &got[0].rcpt_to[..]),
            ("a@x", &["b@x".to_string()][..])
        );
        assert_eq!(got[0].subject().as_deref(), Some("a\tfolded one"));
        assert_eq!(got[0].header("message-id").as_deref(), Some("<1@x>"));
        assert_eq!(got[0].header("To"), None);
        assert_eq!(got[0].body(), ".dot\nline\r\n");
        assert_eq!(
            (got[1].mail_from.as_str(), got[1].body()),
            ("", "no headers\r\n")
        );
        assert_eq!(got[1].header("Subject"), None);
        assert_eq!(got.len(), 2);
        assert_eq!(sink.connections(), 1);
    }

    #[tokio::test]
    async fn delays_and_stops_when_dropped() {
        let sink = SmtpSink::start().await;
        sink.set_delay(Duration::from_millis(300));
        let started = Instant::now();
        mailer(&sink)
            .send(message("a@example.com", "slow"))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );

        let port = sink.port();
        let (mut open, _) = Client::connect(port).await;
        drop(sink);
        // The open connection is closed and new ones are refused (soon: abort is async).
        assert!(matches!(read_line(&mut open.r).await, Ok(None) | Err(_)));
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            assert!(Instant::now() < deadline, "still accepting after drop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn decodes_encoded_words() {
        let value = "=?utf-8?b?QWRyacOhbg==?= =?UTF-8?B?IGV0?= plain =?x?q?y?= =?";
        assert_eq!(decode_rfc2047(value), "Adrián et plain =?x?q?y?= =?");
    }
}
