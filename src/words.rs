//! Wording shared by pages, emails, logs and the command line: a count with its noun.

use std::fmt::Display;

/// The noun for `n` of them: "email" for 1, "emails" otherwise; a consonant and "y" becomes
/// "ies" ("entry", "entries"). Takes any integer (`Display`), so no caller converts.
pub fn plural(n: impl Display, one: &str) -> String {
    if is_are(&n) == "is" {
        return one.to_string();
    }
    match one.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{one}s"),
    }
}

/// The verb after a count: "1 email is held", "2 emails are held".
pub fn is_are(n: impl Display) -> &'static str {
    if n.to_string() == "1" {
        "is"
    } else {
        "are"
    }
}

/// `n` and its noun: "1 treatment", "3 treatments", "0 audit entries".
pub fn counted(n: impl Display + Copy, one: &str) -> String {
    format!("{n} {}", plural(n, one))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_any_other_count_is_plural() {
        assert_eq!(counted(1, "treatment"), "1 treatment");
        assert_eq!(counted(0_usize, "treatment"), "0 treatments");
        assert_eq!(counted(2_i64, "check-in"), "2 check-ins");
        assert_eq!(counted(3, "audit entry"), "3 audit entries");
        assert_eq!(counted(1, "audit entry"), "1 audit entry");
        assert_eq!(counted(5, "day"), "5 days");
        assert_eq!(plural(11, "attempt"), "attempts");
        assert_eq!((is_are(1), is_are(0_usize)), ("is", "are"));
    }
}
