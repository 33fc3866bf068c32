//! On PostgreSQL the app copies nothing itself: it says why, and gives the
//! `pg_dump` or `pg_restore` command for the configured database.

use std::path::Path;

use crate::config::DatabaseSettings;

/// Why the app takes no backup of a PostgreSQL database, and the `pg_dump`
/// command for the configured one (its password masked).
pub fn postgres_advice(settings: &DatabaseSettings, to: &Path) -> String {
    format!(
        "the database is PostgreSQL, which the app does not copy itself: back it up with \
         pg_dump, which takes a consistent copy while the app runs:\n\n    \
         pg_dump --format=custom --file={} {}\n\n{}Restore one with pg_restore (see the README's \
         Backups section).",
        shell_quote(&to.display().to_string()),
        shell_quote(&settings.url.redacted()),
        password_note(settings),
    )
}

/// The `pg_restore` command for the configured database (password masked).
pub fn postgres_restore_advice(settings: &DatabaseSettings, from: &Path) -> String {
    format!(
        "the database is PostgreSQL: restore a pg_dump backup with pg_restore, with every \
         aftercare process stopped:\n\n    \
         pg_restore --clean --if-exists --no-owner --dbname={} {}\n\n{}",
        shell_quote(&settings.url.redacted()),
        shell_quote(&from.display().to_string()),
        password_note(settings),
    )
}

fn password_note(settings: &DatabaseSettings) -> &'static str {
    if settings.url.redacted() == settings.url.expose_secret() {
        ""
    } else {
        "*** stands for the database password: type it there, or leave it out of the URL and \
         keep it in ~/.pgpass or PGPASSWORD.\n"
    }
}

/// One word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_they_need_it() {
        assert_eq!(shell_quote("/var/backups/a.dump"), "/var/backups/a.dump");
        assert_eq!(
            shell_quote("postgres://app:***@db/x"),
            "'postgres://app:***@db/x'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
