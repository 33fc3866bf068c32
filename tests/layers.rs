//! The store is reachable only from the use cases, and the compiler keeps it so: this test
//! copies the crate, makes a web handler, the command line and a template each name the store,
//! and checks that `cargo check` refuses exactly those three, for the store's privacy (E0603).
//! (ARCHITECTURE.md: "Which check keeps each rule".)

use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies the crate's sources (everything but `target/` and `.git`) into `to`.
fn copy_crate(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_crate(&source, &dest);
        } else {
            std::fs::copy(&source, &dest).unwrap();
        }
    }
}

/// Puts `text` into the file at `path` (relative to the copy): after the first `after`, or at
/// the end.
fn insert(copy: &Path, path: &str, after: Option<&str>, text: &str) {
    let path = copy.join(path);
    let body = std::fs::read_to_string(&path).unwrap();
    let at = match after {
        Some(after) => body.find(after).expect("the place to insert at") + after.len(),
        None => body.len(),
    };
    std::fs::write(path, format!("{}{text}{}", &body[..at], &body[at..])).unwrap();
}

#[test]
fn naming_the_store_outside_the_use_cases_does_not_compile() {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layers");
    let copy = work.join("crate");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    copy_crate(Path::new(env!("CARGO_MANIFEST_DIR")), &copy);

    insert(
        &copy,
        "src/web/mod.rs",
        None,
        "\npub fn handler_naming_the_store() -> usize {\n    \
         crate::usecases::store::backup::known_migrations().len()\n}\n",
    );
    insert(
        &copy,
        "src/cli.rs",
        None,
        "\npub fn command_naming_the_store(s: &Settings) {\n    \
         let _ = crate::usecases::store::pool(&s.database);\n}\n",
    );
    // In a block: a child template's text outside its blocks is never rendered.
    insert(
        &copy,
        "templates/home.html",
        Some("{% block content %}"),
        "\n{% let open = crate::usecases::store::pool %}\n",
    );

    // Its own target directory: the outer `cargo test` holds the lock on the usual one. Kept
    // between runs, so only the first check compiles the dependencies.
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["check", "--lib", "--offline", "--message-format=short"])
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success(), "the copy compiled:\n{stderr}");
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error[E0603]: module `store` is private"))
        .collect();
    for place in ["src/web/mod.rs", "src/cli.rs", "src/web/pages.rs"] {
        assert!(
            refused.iter().any(|l| l.starts_with(place)),
            "{place} named the store and was not refused for it:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("could not compile `aftercare` (lib) due to 3 previous errors"),
        "more than the three injected lines failed:\n{stderr}"
    );
}
