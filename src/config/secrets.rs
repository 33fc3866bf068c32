//! URLs and connection strings that may carry a password, and the one
//! function that masks it wherever one is shown (the System page, start-up
//! errors, the `pg_dump` line `aftercare backup` prints, logs).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A URL that may carry a password (database, SMTP). `Debug` shows it with
/// the password masked, so settings can be logged or printed whole; only
/// code that connects calls [`SecretUrl::expose_secret`].
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn new(url: &str) -> SecretUrl {
        SecretUrl(url.into())
    }
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
    /// The URL with its password masked, for messages and logs.
    pub fn redacted(&self) -> String {
        redact(self.expose_secret())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

const MASK: &str = "***";

/// Hides every password in a URL or connection string before it reaches a
/// page, a log or an error: the `user:pass@` of a URL, and any
/// `password=…` (any case, `sslpassword` too) in a URL's query
/// (`?password=…&…`) or in libpq's `key=value` form
/// (`host=db password='a b' dbname=x`).
pub fn redact(text: &str) -> String {
    mask_password_values(&mask_userinfo(text))
}

/// `scheme://user:pass@host…` → `scheme://user:***@host…`.
fn mask_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    // The authority ends at the first `/`, `?` or `#`; a password may itself
    // hold an `@`, so the last `@` before that end closes the user part.
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let Some(at) = url[authority_start..authority_end].rfind('@') else {
        return url.to_string();
    };
    let at = authority_start + at;
    let userinfo = &url[authority_start..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:{MASK}{}",
            &url[..authority_start],
            &userinfo[..colon],
            &url[at..]
        ),
        None => url.to_string(),
    }
}

/// Masks the value of every `…password=` key (query or key=value form).
fn mask_password_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let key_end = search + found + "password".len();
        search = key_end;
        // `password = 'x'` is valid in libpq's form: spaces around `=`.
        let rest = &text[key_end..];
        let after_spaces = rest.len() - rest.trim_start().len();
        let Some(value_start) = rest[after_spaces..]
            .strip_prefix('=')
            .map(|v| key_end + after_spaces + 1 + (v.len() - v.trim_start().len()))
        else {
            continue;
        };
        let value = &text[value_start..];
        let value_len = if let Some(quoted) = value.strip_prefix('\'') {
            // Up to the closing quote; `\'` and `\\` are escapes inside.
            let mut len = 1;
            let mut chars = quoted.char_indices();
            loop {
                match chars.next() {
                    None => break value.len(),
                    Some((_, '\\')) => {
                        chars.next();
                    }
                    Some((i, '\'')) => {
                        len += i + 1;
                        break len;
                    }
                    Some(_) => {}
                }
            }
        } else {
            value
                .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
                .unwrap_or(value.len())
        };
        if value_len == 0 {
            continue;
        }
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_start + value_len;
        search = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_in_the_user_part_is_masked() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/aftercare"),
            "postgres://app:***@db:5432/aftercare"
        );
        assert_eq!(
            redact("postgres://app:p@ss@db/x?sslmode=require"),
            "postgres://app:***@db/x?sslmode=require"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("sqlite://aftercare.db"), "sqlite://aftercare.db");
        assert_eq!(
            redact("smtps://mail:smtp-pass@mail.example"),
            "smtps://mail:***@mail.example"
        );
        // An `@` after the host is not a user part.
        assert_eq!(
            redact("postgres://db/x?application_name=a@b"),
            "postgres://db/x?application_name=a@b"
        );
    }

    #[test]
    fn a_password_in_the_query_is_masked() {
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/probe2_a?password=QuerySecret123"),
            "postgres://postgres@127.0.0.1:5432/probe2_a?password=***"
        );
        assert_eq!(
            redact("postgres://u@h/db?sslmode=require&PASSWORD=x%26y&application_name=a"),
            "postgres://u@h/db?sslmode=require&PASSWORD=***&application_name=a"
        );
        assert_eq!(
            redact("postgres://u:one@h/db?password=two&sslpassword=three"),
            "postgres://u:***@h/db?password=***&sslpassword=***"
        );
    }

    #[test]
    fn a_password_in_a_key_value_string_is_masked() {
        assert_eq!(
            redact("host=db user=app password=s3cret dbname=aftercare"),
            "host=db user=app password=*** dbname=aftercare"
        );
        assert_eq!(
            redact("host=db password = 'it\\'s a secret' dbname=x"),
            "host=db password = *** dbname=x"
        );
        assert_eq!(redact("password="), "password=");
        // A message that merely mentions the word keeps its text.
        assert_eq!(
            redact("password authentication failed for user app"),
            "password authentication failed for user app"
        );
    }
}
