//! Behind the README's nginx block (`proxy_set_header X-Forwarded-For
//! $proxy_add_x_forwarded_for;`, every other client header passed through),
//! the address the throttle and the audit log see is the one the proxy
//! wrote, whatever the client sends (issue #23; probe-2, findings 2 and 12).

use std::net::{IpAddr, SocketAddr};

use reqwest::{redirect, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

/// A loopback stand-in for nginx: one request a connection; it appends the
/// peer's address to `X-Forwarded-For` as `$proxy_add_x_forwarded_for` does
/// and passes every other header, `Forwarded` included, as the client sent it.
async fn start_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, peer)) = listener.accept().await else {
                return;
            };
            tokio::spawn(forward(client, peer, upstream));
        }
    });
    address
}

async fn forward(mut client: TcpStream, peer: SocketAddr, upstream: SocketAddr) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.trim_end().split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut sent_xff = Vec::new();
    let mut headers = Vec::new();
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match name.as_str() {
            "x-forwarded-for" => sent_xff.push(line.split_once(':').unwrap().1.trim().to_string()),
            "connection" => {}
            _ => headers.push(line.to_string()),
        }
    }
    sent_xff.push(peer.ip().to_string());
    let mut out = format!("{request_line}\r\n");
    for h in headers {
        out.push_str(&format!("{h}\r\n"));
    }
    out.push_str(&format!(
        "X-Forwarded-For: {}\r\nConnection: close\r\n\r\n",
        sent_xff.join(", ")
    ));
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .local_address(IpAddr::from(ip))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Signs in through the proxy with the client's own extra headers; the status.
async fn sign_in_via(
    proxy: &str,
    client: &Client,
    password: &str,
    forged: &[(&str, String)],
) -> u16 {
    let html = text_at(client, &format!("{proxy}/login")).await;
    let token = csrf_in(&html);
    let mut request = client.post(format!("{proxy}/login")).form(&[
        ("csrf_token", token.as_str()),
        ("email", "sam@clinic.example"),
        ("password", password),
    ]);
    for (name, value) in forged {
        request = request.header(*name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn addresses_in_the_audit_log(app: &TestApp) -> Vec<String> {
    use aftercare::usecases::store::schema::audit_log;
    use diesel::prelude::*;
    with_conn(app, |c| {
        audit_log::table
            .filter(audit_log::subject.eq("sam@clinic.example"))
            .filter(audit_log::action.like("login.%"))
            .select(audit_log::ip)
            .load::<String>(c)
            .unwrap()
    })
    .await
}

async fn a_clients_own_forwarding_headers_change_nothing(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    let upstream: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let proxy = format!("http://{}", start_proxy(upstream).await);

    // A stranger at 127.0.0.7 rotates forged addresses in both headers.
    let stranger = client_from([127, 0, 0, 7]);
    for i in 0..5 {
        let forged = [
            ("Forwarded", format!("for=203.0.113.{i}")),
            ("X-Forwarded-For", format!("198.51.100.{i}, 127.0.0.8")),
        ];
        assert_eq!(
            sign_in_via(&proxy, &stranger, "wrong password!", &forged).await,
            401
        );
    }
    // Locked at the sixth, right password or not: the address did not change.
    let forged = [("Forwarded", "for=203.0.113.99".to_string())];
    let page_status = sign_in_via(&proxy, &stranger, PASSWORD, &forged).await;
    assert_eq!(page_status, 401);
    let failures = scalar(
        &app,
        "SELECT count(*) FROM login_attempts WHERE succeeded = false AND ip = '127.0.0.7'",
    )
    .await;
    assert_eq!(failures, 5);
    let seen = addresses_in_the_audit_log(&app).await;
    assert!(
        !seen.is_empty() && seen.iter().all(|ip| ip == "127.0.0.7"),
        "{seen:?}"
    );

    // Sam, at 127.0.0.8 (the address the stranger named), is not locked out.
    let sam = client_from([127, 0, 0, 8]);
    assert_eq!(sign_in_via(&proxy, &sam, PASSWORD, &[]).await, 303);
    assert!(addresses_in_the_audit_log(&app)
        .await
        .contains(&"127.0.0.8".to_string()));
}

async fn an_unreadable_chain_is_unknown_not_the_proxy(app: TestApp) {
    app.add_user("sam@clinic.example", "staff").await;
    // Straight from the trusted address, as a misconfigured proxy would send it.
    let client = client_from([127, 0, 0, 1]);
    let forged = [("X-Forwarded-For", "garbage".to_string())];
    assert_eq!(
        sign_in_via(&app.address, &client, "wrong password!", &forged).await,
        401
    );
    assert_eq!(
        addresses_in_the_audit_log(&app).await,
        vec!["unknown".to_string()]
    );
    let bucket = "SELECT count(*) FROM login_attempts WHERE ip = 'unknown'";
    assert_eq!(scalar(&app, bucket).await, 1);
}

crate::on_both_databases!(
    settings &[("AFTERCARE_TRUSTED_PROXIES", "127.0.0.1")];
    a_clients_own_forwarding_headers_change_nothing,
    an_unreadable_chain_is_unknown_not_the_proxy,
);
