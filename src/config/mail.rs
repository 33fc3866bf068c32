//! Sending email: the SMTP server (or the folder emails are written to
//! without one), the CAs trusted for it, each step's timeout, and how often
//! a failure is retried.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::read::Reader;
use super::secrets::SecretUrl;
use crate::mail::smtp::{SmtpPool, SmtpUrl};
use crate::mail::{Mailer, SmtpTimeouts};

/// The CA certificates in `AFTERCARE_SMTP_CA_FILE`, read and checked at start-up.
#[derive(Debug, Clone)]
pub struct SmtpCaFile {
    pub path: PathBuf,
    pub certs: Vec<CertificateDer<'static>>,
}

impl SmtpCaFile {
    /// Reads a PEM file of one or more CA certificates. The message names the
    /// setting and the file: a missing, unreadable or non-PEM file, or a
    /// certificate that cannot act as a CA, stops start-up rather than turning
    /// into "the certificate is not trusted" at the first email.
    pub fn load(path: &Path) -> Result<SmtpCaFile, String> {
        let bad = |why: String| format!("AFTERCARE_SMTP_CA_FILE: {} {why}", path.display());
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("is not a PEM file of certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "holds no PEM certificate (a block starting -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        for (n, cert) in certs.iter().enumerate() {
            crate::mail::trust::usable_as_root(cert)
                .map_err(|e| bad(format!("certificate {} is not usable as a CA: {e}", n + 1)))?;
        }
        Ok(SmtpCaFile {
            path: path.to_path_buf(),
            certs,
        })
    }
}

/// The mail settings, as [`super::Settings`] holds them.
pub(super) struct Mail {
    pub(super) smtp_url: Option<SecretUrl>,
    pub(super) smtp_ca_file: Option<SmtpCaFile>,
    pub(super) smtp_timeouts: SmtpTimeouts,
    pub(super) mail_dir: PathBuf,
    pub(super) max_attempts: i32,
}

/// `AFTERCARE_SMTP_URL`, `AFTERCARE_SMTP_TIMEOUT_*`, `AFTERCARE_SMTP_CA_FILE`,
/// `AFTERCARE_MAIL_DIR` (`outbox`) and `AFTERCARE_MAIL_MAX_ATTEMPTS` (6).
pub(super) fn read(r: &mut Reader) -> Mail {
    let max_attempts = r.count("AFTERCARE_MAIL_MAX_ATTEMPTS", 6, 50) as i32;
    let smtp_url = r.var("AFTERCARE_SMTP_URL").map(|url| SecretUrl::new(&url));
    if let Some(url) = &smtp_url {
        let text = url.expose_secret();
        if !(text.starts_with("smtp://") || text.starts_with("smtps://")) {
            r.error(format!(
                "AFTERCARE_SMTP_URL: {url:?} must start with smtp:// or smtps://"
            ));
        }
    }
    let smtp_timeouts = smtp_timeouts(r);
    let smtp_ca_file = r.var("AFTERCARE_SMTP_CA_FILE").and_then(|path| {
        SmtpCaFile::load(Path::new(path.trim()))
            .map_err(|e| r.error(e))
            .ok()
    });
    Mail {
        smtp_url,
        smtp_ca_file,
        smtp_timeouts,
        mail_dir: r
            .var("AFTERCARE_MAIL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("outbox")),
        max_attempts,
    }
}

/// `AFTERCARE_SMTP_TIMEOUT_{GREETING,COMMAND,DATA_START,DATA_BLOCK,DATA_END}`,
/// whole seconds from 1 to 3600 each; RFC 5321's minimums by default.
fn smtp_timeouts(r: &mut Reader) -> SmtpTimeouts {
    let mut timeouts = SmtpTimeouts::default();
    let t = &mut timeouts;
    for (step, field) in [
        ("GREETING", &mut t.greeting),
        ("COMMAND", &mut t.command),
        ("DATA_START", &mut t.data_start),
        ("DATA_BLOCK", &mut t.data_block),
        ("DATA_END", &mut t.data_end),
    ] {
        let name = format!("AFTERCARE_SMTP_TIMEOUT_{step}");
        if let Some(v) = r.var(&name) {
            match v.trim().parse::<u64>() {
                Ok(secs) if (1..=3600).contains(&secs) => *field = Duration::from_secs(secs),
                _ => r.error(format!(
                    "{name}: {v:?} is not a whole number of seconds from 1 to 3600"
                )),
            }
        }
    }
    timeouts
}

impl super::Settings {
    /// The mailer these settings ask for: SMTP when a URL is set, else `.eml` files.
    pub fn mailer(&self) -> anyhow::Result<Mailer> {
        let settings = self;
        match &settings.smtp_url {
            Some(url) => {
                let ca = settings.smtp_ca_file.as_ref();
                let extra_roots = ca.map_or(&[][..], |ca| &ca.certs[..]);
                let url = SmtpUrl::parse_trusting(url.expose_secret(), extra_roots)
                    .map_err(anyhow::Error::msg)?;
                let connections = settings.worker_concurrency;
                let pool = SmtpPool::with_timeouts(url, connections, settings.smtp_timeouts);
                Ok(Mailer::Smtp(pool))
            }
            None => Mailer::files(settings.mail_dir.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn the_smtp_ca_file_is_read_and_checked_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap().pem();
        let with_file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            settings(&[("AFTERCARE_SMTP_CA_FILE", path.to_str().unwrap())])
        };

        // Two CAs in one file, with text around them, as bundles often have.
        let bundle = format!("clinic CA\n{ca}\nIT firm CA\n{ca}");
        let loaded = with_file("bundle.pem", &bundle)
            .unwrap()
            .smtp_ca_file
            .unwrap();
        assert_eq!(loaded.certs.len(), 2);
        assert!(settings(&[]).unwrap().smtp_ca_file.is_none());

        let damaged = ca.replacen("MI", "AA", 1);
        let errors = with_file("damaged.pem", &damaged).unwrap_err();
        let path = dir.path().join("damaged.pem");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!(
                "AFTERCARE_SMTP_CA_FILE: {} certificate 1 is not usable as a CA: ",
                path.display()
            )),
            "{errors:?}"
        );
    }
}
