//! Random tokens and HMAC signatures.
//!
//! Tokens we store (sessions, one-time links) are kept only as SHA-256
//! hashes, so a leaked database does not hand out live sessions. Tokens we do
//! not store (CSRF, patient links) are signed with a key derived from the
//! app's secret for that one purpose.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signing keys, one per purpose, derived from the app's secret key.
#[derive(Clone)]
pub struct Keys {
    // Zeroed on drop; `Debug` below never shows it.
    secret: secrecy::SecretSlice<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

/// What a signature is for; a signature made for one purpose never verifies
/// for another.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Csrf,
    Flash,
    PatientSheet,
    Unsubscribe,
    Checkin,
    /// The hidden field of a check-in form: proof the POST came from our page.
    CheckinForm,
    /// A set-password link's token, made from the nonce the database keeps.
    PasswordLink,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Csrf => b"aftercare/csrf/v1",
            Purpose::Flash => b"aftercare/flash/v1",
            Purpose::PatientSheet => b"aftercare/sheet/v1",
            Purpose::Unsubscribe => b"aftercare/unsubscribe/v1",
            Purpose::Checkin => b"aftercare/checkin/v1",
            Purpose::CheckinForm => b"aftercare/checkin-form/v1",
            Purpose::PasswordLink => b"aftercare/password-link/v1",
        }
    }
}

impl Keys {
    pub fn new(secret: &[u8]) -> Self {
        Keys {
            secret: secret.to_vec().into(),
        }
    }

    fn mac(&self, purpose: Purpose) -> HmacSha256 {
        let mut derive =
            HmacSha256::new_from_slice(secrecy::ExposeSecret::expose_secret(&self.secret))
                .expect("any key length");
        derive.update(purpose.label());
        let subkey = derive.finalize().into_bytes();
        HmacSha256::new_from_slice(&subkey).expect("any key length")
    }

    pub fn sign(&self, purpose: Purpose, message: &str) -> String {
        let mut mac = self.mac(purpose);
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Keys::sign`].
    pub fn verify(&self, purpose: Purpose, message: &str, signature: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.mac(purpose);
        mac.update(message.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// `message.signature`, for a value that travels in a URL.
    pub fn seal(&self, purpose: Purpose, message: &str) -> String {
        format!("{message}.{}", self.sign(purpose, message))
    }

    /// The message of a sealed value, if its signature is ours.
    pub fn open<'a>(&self, purpose: Purpose, sealed: &'a str) -> Option<&'a str> {
        let (message, signature) = sealed.rsplit_once('.')?;
        self.verify(purpose, message, signature).then_some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_differ_and_hash_stably() {
        let a = random_token();
        assert_ne!(a, random_token());
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 64);
    }

    #[test]
    fn a_signature_is_bound_to_key_purpose_and_message() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let sig = keys.sign(Purpose::Csrf, "seed");
        assert!(keys.verify(Purpose::Csrf, "seed", &sig));
        assert!(!keys.verify(Purpose::Csrf, "seed2", &sig));
        assert!(!keys.verify(Purpose::PatientSheet, "seed", &sig));
        assert!(!Keys::new(b"another key, also long enough....").verify(
            Purpose::Csrf,
            "seed",
            &sig
        ));
        assert!(!keys.verify(Purpose::Csrf, "seed", "not base64!"));
    }

    #[test]
    fn sealed_values_open_only_untampered() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let sealed = keys.seal(Purpose::PatientSheet, "t42");
        assert_eq!(keys.open(Purpose::PatientSheet, &sealed), Some("t42"));
        let tampered = sealed.replacen("t42", "t43", 1);
        assert_eq!(keys.open(Purpose::PatientSheet, &tampered), None);
        assert_eq!(keys.open(Purpose::PatientSheet, "no-dot"), None);
    }
}
