//! Whom the SMTP client trusts, and what a refused certificate means.
//!
//! A clinic's own mail server often has a certificate from the clinic's (or
//! its IT firm's) private CA, which no public root list knows. So a server
//! certificate is checked against three sets of roots at once: lettre's
//! bundled public roots (webpki-roots), the system's certificate store
//! (`rustls-native-certs`: `/etc/ssl/certs` and the like, or `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` when set), and the CA certificates of
//! `AFTERCARE_SMTP_CA_FILE` (read and checked in `config.rs`).
//!
//! Why not lettre's `rustls-native-certs` feature: with it lettre trusts the
//! system store *instead of* the bundled roots, and a server that works today
//! could stop working on a host with a thin store. Adding the system's roots
//! through `TlsParametersBuilder::add_root_certificate` keeps both.

use std::sync::OnceLock;

use lettre::transport::smtp::client::{Certificate, TlsParameters};
use rustls::pki_types::CertificateDer;

/// TLS parameters for a server named `domain`, trusting the bundled roots,
/// the system's and `extra_roots`.
pub fn tls_parameters(
    domain: &str,
    extra_roots: &[CertificateDer<'static>],
) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(domain.to_owned());
    for der in system_roots().iter().chain(extra_roots) {
        let cert = Certificate::from_der(der.to_vec()).map_err(|e| e.to_string())?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The system's CA certificates, read once per process. A store that cannot
/// be read is logged, not fatal: the bundled roots and the CA file still work.
/// Certificates rustls cannot use as roots are left out here, since one such
/// would make lettre refuse the whole set.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "could not read part of the system's certificate store");
        }
        let usable: Vec<_> = found
            .certs
            .into_iter()
            .filter(|cert| usable_as_root(cert).is_ok())
            .collect();
        tracing::debug!(
            count = usable.len(),
            "system CA certificates trusted for SMTP"
        );
        usable
    })
}

/// Whether rustls accepts this certificate as a trust anchor.
pub fn usable_as_root(cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
    rustls::RootCertStore::empty().add(cert.clone().into_owned())
}

/// The certificate failure somewhere in an error's causes, if it is one: the
/// server's certificate was refused (unknown issuer, expired, another name).
/// rustls's error sits inside the `io::Error` tokio-rustls returns, reached
/// through `get_ref` (an `io::Error`'s `source` skips it).
pub fn certificate_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cause = Some(e);
    while let Some(e) = cause {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(
            tls @ (rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::InvalidCertRevocationList(_)),
        ) = tls
        {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}
