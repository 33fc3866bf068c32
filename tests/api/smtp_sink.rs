//! Tests of the SMTP sink the other tests receive mail with (tests/support/smtp_sink.rs).

use std::time::{Duration, Instant};

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

pub use crate::support::smtp_sink::{read_line, Received, SmtpSink, TestCa, TlsMode};

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
    // Unfolded as sent; and as a mail client shows it, the folding white space one space.
    assert_eq!(got[0].header("subject").as_deref(), Some("a\tfolded one"));
    assert_eq!(got[0].subject().as_deref(), Some("a folded one"));
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

fn received(data: &str) -> Received {
    Received {
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: data.into(),
        tls: false,
    }
}

#[test]
fn decodes_encoded_words() {
    let mail = received("Subject: =?utf-8?b?QWRyacOhbg==?= =?UTF-8?B?IGV0?= plain\r\n\r\nbody\r\n");
    assert_eq!(mail.subject().as_deref(), Some("Adrián et plain"));
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("=?utf-8?b?QWRyacOhbg==?= =?UTF-8?B?IGV0?= plain"),
        "header() gives the field as sent"
    );
}

#[test]
fn decodes_each_part_of_a_multipart_message() {
    let mail = received(concat!(
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n",
        "\r\n",
        "--b1\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "\r\n",
        "Hello Zo=C3=AB, a line that is long enough to be wrapped by the encod=\r\n",
        "er =3D soft break.\r\n",
        "--b1\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "\r\n",
        "PHA+SGVsbG8gWm/DqzwvcD4=\r\n",
        "--b1--\r\n",
    ));
    assert_eq!(
        mail.text_part("text/plain").as_deref().map(str::trim_end),
        Some("Hello Zoë, a line that is long enough to be wrapped by the encoder = soft break.")
    );
    assert_eq!(
        mail.text_part("TEXT/HTML").as_deref(),
        Some("<p>Hello Zoë</p>")
    );
    assert_eq!(mail.text_part("text/calendar"), None);
}
