//! Implicit TLS (`smtps://`) on a socket we opened ourselves.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::io::{AsyncRead as _, AsyncWrite as _};
#[allow(deprecated)]
// public, and the only way to reach lettre's TLS handshake; see `ImplicitTls`
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncTokioStream, TlsParameters};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::errors::{smtp_error, Step};
use crate::mail::SendError;

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
pub(super) struct ImplicitTls(AsyncNetworkStream);

#[allow(deprecated)]
impl ImplicitTls {
    pub(super) async fn handshake(
        tcp: TcpStream,
        params: TlsParameters,
    ) -> Result<ImplicitTls, SendError> {
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
