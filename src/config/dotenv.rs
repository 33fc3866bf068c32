//! The optional `.env` file: read once at start-up, strictly. A line that is
//! not `NAME=value`, or an `AFTERCARE_` name the app does not read, stops
//! start-up with a message naming the line: a typo would otherwise leave a
//! setting at its default without anyone knowing (a missing SMTP URL only
//! shows days later, as emails written to a folder nobody reads).

use std::cell::RefCell;
use std::path::Path;

use super::Settings;

/// Settings read outside [`Settings`]: the log's filter and format (read
/// before the settings, so that their own errors can be logged).
const READ_ELSEWHERE: &[&str] = &["AFTERCARE_LOG", "AFTERCARE_LOG_FORMAT"];

/// Loads the `.env` file of the working folder, or of the nearest folder above
/// it, into the environment, if there is one; variables already set win.
pub fn load() -> Result<(), Vec<String>> {
    let Ok(here) = std::env::current_dir() else {
        return Ok(());
    };
    let Some(path) = here
        .ancestors()
        .map(|d| d.join(".env"))
        .find(|p| p.is_file())
    else {
        return Ok(());
    };
    for (name, value) in read(&path)? {
        if std::env::var_os(&name).is_none() {
            std::env::set_var(name, value);
        }
    }
    Ok(())
}

/// The `(name, value)` pairs of the `.env` file at `path`, or what is wrong in it.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: {e}")])?;
    let pairs = dotenvy::from_path_iter(path)
        .and_then(|lines| lines.collect::<Result<Vec<_>, _>>())
        .map_err(|e| match e {
            dotenvy::Error::LineParse(line, _) => vec![format!(
                "{shown}{}: {line:?} is not a setting like NAME=value",
                line_number(&text, |l| l == line)
            )],
            other => vec![format!("{shown}: {other}")],
        })?;
    let known = known_names();
    let unknown: Vec<String> = pairs
        .iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("AFTERCARE_") && !known.contains(name))
        .map(|name| {
            let at = line_number(&text, |l| {
                let l = l.trim_start();
                l.strip_prefix("export ")
                    .unwrap_or(l)
                    .trim_start()
                    .starts_with(name.as_str())
            });
            format!("{shown}{at}: {name} is not a setting Aftercare reads (misspelt?)")
        })
        .collect();
    if unknown.is_empty() {
        Ok(pairs)
    } else {
        Err(unknown)
    }
}

/// " line N" for the first line of `text` that `is_it`, or nothing.
fn line_number(text: &str, is_it: impl Fn(&str) -> bool) -> String {
    text.lines()
        .position(is_it)
        .map(|i| format!(" line {}", i + 1))
        .unwrap_or_default()
}

/// Every `AFTERCARE_` name the app reads: those [`Settings::from_lookup`] asks
/// for (recorded as it asks), and [`READ_ELSEWHERE`].
fn known_names() -> Vec<String> {
    let asked = RefCell::new(Vec::new());
    let _ = Settings::from_lookup(|name| {
        asked.borrow_mut().push(name.to_string());
        None
    });
    let mut names = asked.into_inner();
    names.extend(READ_ELSEWHERE.iter().map(|n| n.to_string()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dotenv(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_well_formed_file_gives_its_settings() {
        let (_dir, path) = dotenv(
            "# the clinic's server\nAFTERCARE_BIND=0.0.0.0:8080\n\nexport AFTERCARE_LOG=warn\nAFTERCARE_SMTP_TIMEOUT_COMMAND=30\nRUST_BACKTRACE=1\n",
        );
        assert_eq!(
            read(&path).unwrap(),
            [
                ("AFTERCARE_BIND".to_string(), "0.0.0.0:8080".to_string()),
                ("AFTERCARE_LOG".into(), "warn".into()),
                ("AFTERCARE_SMTP_TIMEOUT_COMMAND".into(), "30".into()),
                ("RUST_BACKTRACE".into(), "1".into()),
            ]
        );
    }

    #[test]
    fn a_line_that_is_not_name_equals_value_is_named() {
        let (_dir, path) = dotenv("AFTERCARE_BIND=0.0.0.0:8080\nAFTERCARE_SMTP_URL smtp://mail\n");
        let errors = read(&path).unwrap_err();
        assert_eq!(
            errors,
            [format!(
                "{} line 2: \"AFTERCARE_SMTP_URL smtp://mail\" is not a setting like NAME=value",
                path.display()
            )]
        );
    }

    #[test]
    fn a_misspelt_setting_is_named_with_its_line() {
        let (_dir, path) =
            dotenv("AFTERCARE_BIND=0.0.0.0:8080\n# mail\nAFTERCARE_SMTP_ULR=smtp://mail\n");
        let errors = read(&path).unwrap_err();
        assert_eq!(
            errors,
            [format!(
                "{} line 3: AFTERCARE_SMTP_ULR is not a setting Aftercare reads (misspelt?)",
                path.display()
            )]
        );
    }

    #[test]
    fn the_packaged_settings_file_reads_cleanly() {
        let packaged = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/debian/aftercare.env");
        assert!(read(&packaged).unwrap().len() >= 4);
    }

    #[test]
    fn every_setting_the_system_page_shows_is_known() {
        let known = known_names();
        let settings = Settings::from_lookup(|_| None).unwrap();
        for (name, _) in settings.in_force() {
            if let Some(prefix) = name.strip_suffix('*') {
                assert!(known.iter().any(|k| k.starts_with(prefix)), "{name}");
            } else {
                assert!(known.iter().any(|k| k == name), "{name}");
            }
        }
    }
}
