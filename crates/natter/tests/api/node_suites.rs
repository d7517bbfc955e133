//! Runs the Node test suites against this build of the `natter` binary, so the
//! one `cargo test` command covers them too:
//! - `tests/compat`: the official `socket.io-client` against the server;
//! - `web` unit tests (Vitest) for the UI's state logic;
//! - `web` browser tests (Playwright driving Debian's Chromium).
//!
//! Without Node (or Chromium, for the browser) they are skipped, loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{loud, without_server_config};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `npm <args>` in `dir`, installing dependencies first when needed, and
/// fails the test with the suite's own output when it fails.
fn npm(dir: &Path, args: &[&str]) {
    if !dir.join("node_modules/.package-lock.json").exists() {
        run(dir, &["ci", "--no-audit", "--no-fund"]);
    }
    run(dir, args);
}

/// The suites start servers and browsers; on two cores they run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(dir: &Path, args: &[&str]) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let output = without_server_config(&mut Command::new("npm"))
        .args(args)
        .current_dir(dir)
        .env("NATTER_BIN", env!("CARGO_BIN_EXE_natter"))
        .output()
        .expect("npm runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "`npm {}` in {} failed:\n{stdout}\n{stderr}",
        args.join(" "),
        dir.display()
    );
}

#[test]
fn socket_io_client_compatibility() {
    if !node_available() {
        return loud("SKIPPED: socket.io-client compatibility tests need Node.js");
    }
    npm(&repo_root().join("tests/compat"), &["test"]);
}

#[test]
fn web_unit_tests() {
    if !node_available() {
        return loud("SKIPPED: web unit tests need Node.js");
    }
    npm(&repo_root().join("web"), &["test"]);
}

#[test]
fn browser_tests() {
    if !node_available() {
        return loud("SKIPPED: browser tests need Node.js");
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return loud("SKIPPED: browser tests need /usr/bin/chromium (apt-get install chromium)");
    }
    npm(&repo_root().join("web"), &["run", "e2e"]);
}
