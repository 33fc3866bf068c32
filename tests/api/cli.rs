//! The command line, run as an operator would run it.

use std::io::Write;
use std::process::{Command, Stdio};

fn aftercare(args: &[&str], db: &str, stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(args)
        .env("AFTERCARE_DATABASE_URL", db)
        .env("AFTERCARE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_lists_every_command() {
    let (ok, out, _) = aftercare(&["--help"], "sqlite://unused.db", "");
    assert!(ok);
    for command in [
        "serve", "worker", "migrate", "user", "protocol", "demo", "mail",
    ] {
        assert!(out.contains(command), "--help mentions {command}");
    }
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_a_short_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let add = [
        "user",
        "add",
        "--email",
        "ana@clinic.example",
        "--name",
        "Ana",
        "--role",
        "admin",
    ];
    let (ok, _, err) = aftercare(&add, &db, "short\n");
    assert!(!ok);
    assert!(err.contains("Use at least 12 characters."), "{err}");
    let (ok, out, err) = aftercare(&add, &db, "a long enough passphrase\n");
    assert!(ok, "{err}");
    assert!(out.contains("Added user 1"));
    let (ok, _, err) = aftercare(&add, &db, "a long enough passphrase\n");
    assert!(!ok && err.contains("already has an account"), "{err}");
}

#[test]
fn protocol_show_round_trips_through_protocol_check() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, toml, _) = aftercare(&["protocol", "show"], "sqlite://unused.db", "");
    assert!(ok && toml.contains("[[phases]]"));
    let file = dir.path().join("clinic.toml");
    std::fs::write(&file, &toml).unwrap();
    let (ok, out, err) = aftercare(
        &["protocol", "check", file.to_str().unwrap()],
        "sqlite://unused.db",
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("is valid") && out.contains("The first hours"));

    std::fs::write(
        &file,
        toml.replacen("healing_factor = 1.5", "healing_factor = -1", 1),
    )
    .unwrap();
    let (ok, _, err) = aftercare(
        &["protocol", "check", file.to_str().unwrap()],
        "sqlite://unused.db",
        "",
    );
    assert!(!ok);
    assert!(
        err.contains("clinic.toml") && err.contains("healing_factor"),
        "{err}"
    );
}

#[test]
fn a_bad_configuration_is_reported_one_line_each() {
    let out = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["migrate"])
        .env("AFTERCARE_DATABASE_URL", "mysql://nope")
        .env("AFTERCARE_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 problem(s)")
            && err.contains("AFTERCARE_DATABASE_URL")
            && err.contains("AFTERCARE_BIND"),
        "{err}"
    );
}

#[test]
fn protocol_check_refuses_an_unknown_source_id_naming_the_file_entry_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let (_, toml, _) = aftercare(&["protocol", "show"], "sqlite://unused.db", "");
    let typo = toml.replacen(
        "sources = [\"nidirect-anaphylaxis\"]",
        "sources = [\"nidirect-anafylaxis\"]",
        1,
    );
    assert_ne!(typo, toml, "the edit must change the protocol");
    let file = dir.path().join("clinic.toml");
    std::fs::write(&file, typo).unwrap();
    let (ok, _, err) = aftercare(
        &["protocol", "check", file.to_str().unwrap()],
        "sqlite://unused.db",
        "",
    );
    assert!(!ok);
    assert!(
        err.contains(&format!("{}: red_flags[0] \"emergency\"", file.display()))
            && err.contains("cites source \"nidirect-anafylaxis\", which is not declared"),
        "{err}"
    );
}

#[test]
fn protocol_show_sources_lists_each_source_with_the_entries_resting_on_it() {
    let (ok, out, err) = aftercare(&["protocol", "show", "--sources"], "sqlite://unused.db", "");
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Aftercare microneedling protocol version 2:"),
        "{out}"
    );
    for part in [
        "nidirect-anaphylaxis  [reference]  Anaphylaxis",
        "    https://www.nidirect.gov.uk/conditions/anaphylaxis\n    cited by: red_flags[0] \"emergency\"\n",
        "003  [guide]",
    ] {
        assert!(out.contains(part), "missing {part:?} in\n{out}");
    }
}
