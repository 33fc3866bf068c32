//! Decides, when the tests are built, which of them can run here (README, "Development").
//!
//! A test that needs PostgreSQL or a browser must never be reported as passed without having
//! run. libtest can only ignore a test at compile time, so this script sets a cfg for each:
//! - `aftercare_pg`: `AFTERCARE_TEST_DATABASE_URL` is set (the PostgreSQL variants of the api
//!   tests, `on_both_databases!` in tests/support/mod.rs);
//! - `aftercare_browser`: chromium, chromedriver, pdfinfo and pdftotext are on PATH
//!   (tests/browser.rs).
//!
//! Without it, those tests show as ignored, with the reason. With `CI=true` both are always
//! set, so in CI a missing server or program fails the test instead.

use std::path::Path;

/// What the browser test runs.
const BROWSER_PROGRAMS: [&str; 4] = ["chromium", "chromedriver", "pdfinfo", "pdftotext"];

fn main() {
    // Rerun only for these, not for every change in the package. PATH is deliberately not a
    // trigger (it differs between shells and editors, and would rebuild the crate each time):
    // after installing the browser, `touch build.rs`.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=AFTERCARE_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(aftercare_pg)");
    println!("cargo::rustc-check-cfg=cfg(aftercare_browser)");

    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let pg = std::env::var("AFTERCARE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if ci || pg {
        println!("cargo::rustc-cfg=aftercare_pg");
    }
    if ci || BROWSER_PROGRAMS.iter().all(|p| on_path(p)) {
        println!("cargo::rustc-cfg=aftercare_browser");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}
