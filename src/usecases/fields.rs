//! Rules every form's text fields share: a length limit, no invisible
//! control characters, and email addresses the mailer can always send to.
//! Use cases call these while validating, so each form shows the error
//! beside its field and nothing is saved.

use crate::error::FieldErrors;
pub use crate::text::forbidden_in_line;

/// As [`forbidden_in_line`], but line breaks and tabs are welcome.
fn forbidden_in_text(c: char) -> bool {
    forbidden_in_line(c) && !matches!(c, '\n' | '\r' | '\t')
}

fn checked(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max: usize,
    forbidden: fn(char) -> bool,
    what: &str,
) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        errors.add(field, format!("Use at most {max} characters."));
    } else if value.chars().any(forbidden) {
        errors.add(
            field,
            format!("Remove the {what} (it may have come with pasted text)."),
        );
    }
    value.to_string()
}

/// A one-line field, trimmed; a field error when it is too long or holds a
/// control character.
pub fn single_line(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    checked(
        errors,
        field,
        value,
        max,
        forbidden_in_line,
        "line break or invisible control character",
    )
}

/// A multi-line field (an address, notes), trimmed; line breaks are fine.
pub fn multi_line(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    checked(
        errors,
        field,
        value,
        max,
        forbidden_in_text,
        "invisible control character",
    )
}

/// The longest address SMTP carries (RFC 5321's path limit, less the brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// An address the mailer accepts, with a dotted domain: what a form accepts
/// can always be sent to. lettre's parser alone lets through forms its own
/// envelope then refuses (a quoted local part such as `"a\"b"@x.example`, a
/// domain literal such as `a@[127.0.0.1]`), so the check is the one sending
/// makes: a message from and to the address, with its envelope, is built.
pub fn is_sendable_email(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_LEN
        && !email
            .chars()
            .any(|c| c.is_whitespace() || forbidden_in_line(c))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && builds_an_envelope(email)
}

/// Whether lettre builds a message, envelope included, from and to `email`.
fn builds_an_envelope(email: &str) -> bool {
    let Ok(address) = email.parse::<lettre::Address>() else {
        return false;
    };
    let mailbox = lettre::message::Mailbox::new(Some("Name".into()), address);
    lettre::Message::builder()
        .from(mailbox.clone())
        .to(mailbox)
        .subject("check")
        .body(String::new())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(field_value: &str, max: usize) -> Option<String> {
        let mut errors = FieldErrors::default();
        single_line(&mut errors, "name", field_value, max);
        errors.get("name").map(str::to_string)
    }

    #[test]
    fn control_and_bidi_characters_are_refused_in_a_line() {
        for bad in [
            "Maya\r\nBcc: x@evil.test",
            "Maya\tPatel",
            "Ma\u{0085}ya",
            "Maya\u{202E}letaP",
            "a\u{7f}",
        ] {
            assert!(one(bad, 200).is_some(), "{bad:?}");
        }
        assert_eq!(one("  Zoë O'Brien-Łukasz 李  ", 200), None);
    }

    #[test]
    fn line_breaks_are_fine_in_text_but_other_controls_are_not() {
        let mut errors = FieldErrors::default();
        let kept = multi_line(&mut errors, "address", "1 High St\r\nLondon\n", 500);
        assert!(errors.is_empty());
        assert_eq!(kept, "1 High St\r\nLondon");
        multi_line(&mut errors, "address", "1 High St\u{1b}[2J", 500);
        assert!(errors.get("address").is_some());
    }

    #[test]
    fn lengths_count_characters() {
        assert_eq!(one(&"é".repeat(200), 200), None);
        assert!(one(&"é".repeat(201), 200).unwrap().contains("at most 200"));
    }

    #[test]
    fn emails_the_mailer_refuses_are_refused() {
        for good in [
            "maya@example.com",
            "a.b+c@clinic.co.uk",
            "ana@clinic.example",
        ] {
            assert!(is_sendable_email(good), "{good}");
        }
        for bad in [
            "maya@localhost",
            "maya@example.com\r\n",
            "maya @example.com",
            "a\"b@example.com",
            "<maya@example.com>",
            "maya@exa mple.com",
            "maya@@example.com",
            "@example.com",
            "maya@.example.com",
            "a@b@c.example",
            // Accepted by lettre's parser, refused by its envelope (probe 2, finding 6).
            "\"a\\\"b\"@demo.example",
            "a@[127.0.0.1]",
        ] {
            assert!(!is_sendable_email(bad), "{bad:?}");
        }
        assert!(!is_sendable_email(&format!(
            "{}@example.com",
            "a".repeat(250)
        )));
    }
}
