//! The command line, run as an operator would run it.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `aftercare ARGS` on the database `db`: whether it succeeded, its stdout and its stderr.
pub(crate) fn aftercare(args: &[&str], db: &str, stdin: &str) -> (bool, String, String) {
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
        "serve", "worker", "migrate", "user", "patient", "protocol", "demo", "mail", "backup",
        "restore",
    ] {
        assert!(out.contains(command), "--help mentions {command}");
    }
}

/// `aftercare user add` for Ana, an admin (the password comes on stdin).
pub(crate) const ADD_ANA_AS_ADMIN: [&str; 8] = [
    "user",
    "add",
    "--email",
    "ana@clinic.example",
    "--name",
    "Ana",
    "--role",
    "admin",
];

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_a_short_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let add = ADD_ANA_AS_ADMIN;
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
    let (ok, err) = protocol_check(&file);
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
fn a_malformed_dotenv_line_stops_start_up_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "AFTERCARE_LOG=warn\nAFTERCARE_SMTP_URL smtp://mail.clinic.example\nAFTERCARE_SMTP_ULR=smtp://x\n",
    )
    .unwrap();
    let db = dir.path().join("never.db");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(["migrate"])
            .current_dir(dir.path())
            .env(
                "AFTERCARE_DATABASE_URL",
                format!("sqlite://{}", db.display()),
            )
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".env line 2: \"AFTERCARE_SMTP_URL smtp://mail.clinic.example\" is not a setting like NAME=value"),
        "{err}"
    );
    assert!(!db.exists(), "nothing ran");

    // Mended, the misspelt name on line 3 is next, and then it starts.
    std::fs::write(
        dir.path().join(".env"),
        "AFTERCARE_LOG=warn\nAFTERCARE_SMTP_URL=smtp://mail.clinic.example\nAFTERCARE_SMTP_ULR=smtp://x\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&run().stderr).to_string();
    assert!(
        err.contains(".env line 3: AFTERCARE_SMTP_ULR is not a setting Aftercare reads"),
        "{err}"
    );
    std::fs::write(
        dir.path().join(".env"),
        "AFTERCARE_LOG=warn\nAFTERCARE_SMTP_URL=smtp://mail.clinic.example\n",
    )
    .unwrap();
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
}

#[test]
fn protocol_check_refuses_an_unknown_source_id_naming_the_file_entry_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let (_, toml, _) = aftercare(&["protocol", "show"], "sqlite://unused.db", "");
    let typo = toml.replacen(
        "sources = [\"nidirect-anaphylaxis\"",
        "sources = [\"nidirect-anafylaxis\"",
        1,
    );
    assert_ne!(typo, toml, "the edit must change the protocol");
    let file = dir.path().join("clinic.toml");
    std::fs::write(&file, typo).unwrap();
    let (ok, err) = protocol_check(&file);
    assert!(!ok);
    assert!(
        err.contains(&format!("{}: red_flags[0] \"emergency\"", file.display()))
            && err.contains("cites source \"nidirect-anafylaxis\", which is not declared"),
        "{err}"
    );
}

#[test]
fn protocol_show_sources_lists_each_source_with_its_publisher_and_the_entries_resting_on_it() {
    let (ok, out, err) = aftercare(&["protocol", "show", "--sources"], "sqlite://unused.db", "");
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Aftercare microneedling protocol version 4:"),
        "{out}"
    );
    for part in [
        "nidirect-anaphylaxis  [reference]  Anaphylaxis",
        "    https://www.nidirect.gov.uk/conditions/anaphylaxis\n    \
         publisher: public-health-body (independent)\n    \
         cited by: red_flags[0] \"emergency\"",
        "003  [guide]  Microneedling Aftercare: What to Do After Your Treatment (Glownetics, ",
        "    publisher: skincare-vendor (commercial: check it before relying on it)\n",
        "\nEntries resting only on commercial sources (no public health body, professional body \
         or peer-reviewed source): ",
        "\n    actives[1] \"retinol\"\n",
    ] {
        assert!(out.contains(part), "missing {part:?} in\n{out}");
    }
}

#[test]
fn protocol_show_decisions_lists_each_decision_with_its_value_and_sources() {
    let (ok, out, err) = aftercare(
        &["protocol", "show", "--decisions"],
        "sqlite://unused.db",
        "",
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Aftercare microneedling protocol version 4: the clinic's decisions"),
        "{out}"
    );
    for part in [
        "\nD1  decisions.prp_wash\n    value: keep_on_through = \"first-hours\": the prp add-on's \
         plasma stays on, and washing waits, to superficial 4 h, standard 6 h, deep 8 h\n    \
         decides: When a patient treated with PRP may first wash",
        "    sources: calista-prp (spa), 003 (skincare-vendor)\n",
        "\nD2  decisions.peels_after_acids\n    value: offset_days = superficial 0, standard 0, \
         deep 0 after \"aha-bha\": \"other-treatments\" ends at superficial 672 h (day 28), \
         standard 672 h (day 28), deep 1008 h (day 42)\n",
        "    sources: 001 (clinic), 004 (device-maker), mbla-aftercare (clinic)\n",
        "\nD3  decisions.redness_limit\n    value: last_day = superficial day 1, standard day 2, \
         deep day 3: \"redness\" is normal to the end of that day, then a call-now red flag\n",
        "    sources: 003 (skincare-vendor), 002 (spa), 001 (clinic), chu-2021-safety (peer-reviewed)\n",
        "\nD4  decisions.shortest_heat_ban\n    value: min_hours = superficial 48 h, standard 72 h, \
         deep 72 h for \"heat-sweat-water\"\n",
        "\nD5  decisions.actives_evidence\n    value: schedule = \"vendor-guides\"\n",
    ] {
        assert!(out.contains(part), "missing {part:?} in\n{out}");
    }
    assert_eq!(out.matches("\n    why this default: ").count(), 5, "{out}");
}

/// The sample plan's "Seeing changes" phase, as `protocol check` prints it.
fn results_phase(check_output: &str) -> &str {
    let start = check_output
        .find("\nSeeing changes:")
        .expect("the results phase");
    let end = check_output
        .find("\nWHEN YOUR PRODUCTS")
        .expect("the actives");
    &check_output[start..end]
}

#[test]
fn a_decision_changed_in_a_protocol_file_changes_the_plan_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clinic.toml");
    let (_, toml, _) = aftercare(&["protocol", "show"], "sqlite://unused.db", "");
    let check = |text: &str| {
        std::fs::write(&file, text).unwrap();
        aftercare(
            &["protocol", "check", file.to_str().unwrap()],
            "sqlite://unused.db",
            "",
        )
    };
    let edit = |text: &str, from: &str, to: &str| {
        assert_eq!(text.matches(from).count(), 1, "ambiguous edit {from:?}");
        text.replacen(from, to, 1)
    };
    let peels = "Laser or skin peels on the treated skin.";
    let (ok, before, err) = check(&toml);
    assert!(ok, "{err}");
    assert!(!results_phase(&before).contains(peels), "{before}");

    // D2: 14 days after the acids (day 21 + 14 = day 35) puts peels and laser in the results
    // phase of the sample's standard band; the form's range must start there too.
    let later = edit(&toml, "offset_days = 0", "offset_days = 14");
    let later = edit(
        &later,
        "adjust = { superficial = [672, 1000], standard = [672, 1000], deep = [1008, 1300] }",
        "adjust = { superficial = [1008, 1300], standard = [1008, 1300], deep = [1008, 1300] }",
    );
    let (ok, after, err) = check(&later);
    assert!(ok, "{err}");
    assert!(results_phase(&after).contains(peels), "{after}");

    // D4: a heat ban range starting below the decision's 72 h is refused, naming both.
    let shorter = edit(
        &toml,
        "adjust = { superficial = [48, 168], standard = [72, 168], deep = [72, 240] }",
        "adjust = { superficial = [48, 168], standard = [24, 168], deep = [72, 240] }",
    );
    let (ok, _, err) = check(&shorter);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}: timed_avoid[0] \"heat-sweat-water\": adjust for band \"standard\" starts at 24 h, \
             below 72 h, the shortest ban a practitioner may choose \
             ([decisions.shortest_heat_ban] min_hours)",
            file.display()
        )),
        "{err}"
    );
}

/// Waits up to a minute for `child` to exit; kills it and fails otherwise.
pub(crate) fn exit_status_within_a_minute(
    child: &mut std::process::Child,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after a minute: it serves on without a worker");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A SQLite database `name` in `dir`, migrated by `aftercare migrate`: its path and URL.
pub(crate) fn migrated_sqlite(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let db = format!("sqlite://{}", path.display());
    let (ok, _, err) = aftercare(&["migrate"], &db, "");
    assert!(ok, "{err}");
    (path, db)
}

#[test]
fn a_worker_that_cannot_claim_ends_serve_and_worker_with_an_error() {
    use diesel::{Connection, RunQueryDsl};
    let dir = tempfile::tempdir().unwrap();
    let (path, db) = migrated_sqlite(dir.path(), "broken.db");
    // A real fault outside any single send: the claim's table is gone, and
    // migrations (already applied) do not bring it back.
    let mut conn = diesel::sqlite::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    diesel::sql_query("DROP TABLE reminders")
        .execute(&mut conn)
        .unwrap();
    for command in ["serve", "worker"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .arg(command)
            .env("AFTERCARE_DATABASE_URL", &db)
            .env("AFTERCARE_BIND", "127.0.0.1:0")
            .env("AFTERCARE_MAIL_DIR", dir.path().join("outbox"))
            .env("AFTERCARE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = exit_status_within_a_minute(&mut child);
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains("the reminder worker cannot go on") && err.contains("no such table"),
            "{command} says why: {err}"
        );
    }
}

/// `GET path` over a plain connection; returns the status line.
pub(crate) fn http_get(address: &str, path: &str) -> String {
    use std::io::{BufRead, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut status = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut status)
        .unwrap();
    status
}

/// `aftercare serve` on its own port, logging JSON at `info`, its log lines read as they come.
/// Killed when dropped, so a failing test leaves no server behind.
pub(crate) struct Serving {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    /// Where it serves, once it says so.
    pub(crate) address: String,
}

impl Serving {
    /// Starts it on the SQLite database `db`, mail in `dir`, with `extra` settings, and waits
    /// until it serves.
    pub(crate) fn start(db: &str, dir: &std::path::Path, extra: &[(&str, &str)]) -> Serving {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .arg("serve")
            .env("AFTERCARE_DATABASE_URL", db)
            .env("AFTERCARE_BIND", "127.0.0.1:0")
            .env("AFTERCARE_MAIL_DIR", dir.join("outbox"))
            .env("AFTERCARE_LOG", "info")
            .env("AFTERCARE_LOG_FORMAT", "json")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel::<serde_json::Value>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                // The first-run setup link is printed for people, not as JSON.
                if let Ok(json) = serde_json::from_str(&line.unwrap()) {
                    let _ = lines_tx.send(json);
                }
            }
        });
        let mut serving = Serving {
            child,
            lines,
            address: String::new(),
        };
        serving.address = serving.next_line("serving")["address"]
            .as_str()
            .unwrap()
            .to_string();
        serving
    }

    /// The next log line saying `message` (waiting 30 s at most).
    pub(crate) fn next_line(&self, message: &str) -> serde_json::Value {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {message:?} line"));
            if line["message"] == message {
                return line;
            }
        }
    }

    /// SIGTERM, then how it exited.
    pub(crate) fn stop(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        exit_status_within_a_minute(&mut self.child)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn json_logs_carry_each_requests_id_and_route_and_a_signal_stops_serve_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("logs.db").display());
    let mut serving = Serving::start(&db, dir.path(), &[]);
    let address = serving.address.clone();
    assert!(http_get(&address, "/healthz").contains(" 200 "));
    let done = serving.next_line("request done");
    assert_eq!(done["status"], 200, "{done}");
    let span = &done["span"];
    assert_eq!(span["route"], "/healthz", "{done}");
    let first_id = span["request_id"].as_str().unwrap().to_string();
    assert_eq!(first_id.len(), 36, "a UUID: {done}");

    // The route is the pattern: a patient's token in the path stays out of the log.
    assert!(http_get(&address, "/s/secret-token-123").contains(" 404 "));
    let done = serving.next_line("request done");
    assert_eq!(done["status"], 404, "{done}");
    assert_eq!(done["span"]["route"], "/s/{token}", "{done}");
    assert_ne!(done["span"]["request_id"], first_id.as_str(), "{done}");
    assert!(!done.to_string().contains("secret-token-123"), "{done}");

    // SIGTERM: the server drains, the worker finishes its round, exit 0.
    assert_eq!(serving.stop().code(), Some(0));
}

#[test]
fn text_logs_written_to_a_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("plain.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .arg("serve")
        .env("AFTERCARE_DATABASE_URL", &db)
        .env("AFTERCARE_BIND", "127.0.0.1:0")
        .env("AFTERCARE_MAIL_DIR", dir.path().join("outbox"))
        .env("AFTERCARE_LOG", "info")
        .env("AFTERCARE_LOG_FORMAT", "text")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Standard output is a pipe here, as under systemd or `> file`.
    let mut printed = String::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        printed.contains("INFO"),
        "a log line was printed: {printed}"
    );
    assert!(printed.contains("serving"), "{printed}");
    assert!(!printed.contains('\x1b'), "no escape codes: {printed:?}");
}

/// `aftercare protocol check FILE`: whether it passed, and what it said on stderr.
fn protocol_check(file: &std::path::Path) -> (bool, String) {
    let (ok, _, err) = aftercare(
        &["protocol", "check", file.to_str().unwrap()],
        "sqlite://unused.db",
        "",
    );
    (ok, err)
}
