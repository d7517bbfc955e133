//! Fuzzes the HTTP API from its own OpenAPI document with schemathesis: any
//! 5xx, any status or body outside the document, any error body not in the
//! contract's shape fails. `.ci/run` installs schemathesis (PyPI); without it
//! the test is skipped, loudly.

use std::process::Command;

use crate::helpers::{TestApp, loud};

fn schemathesis_available() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_within_its_document() {
    if !schemathesis_available() {
        return loud(
            "SKIPPED: the OpenAPI fuzz test needs schemathesis (pip install schemathesis)",
        );
    }
    // Every operation is tried many times from 127.0.0.1: room for that, the
    // limits themselves stay on.
    let app = TestApp::sqlite_with(|c| {
        c.signup_per_hour = 100_000;
        c.signin_per_minute = 100_000;
        c.profile_per_minute = 100_000;
        c.read_per_minute = 100_000;
    })
    .await;
    let user = app.register("fuzzer").await;
    let cwd = tempfile::tempdir().unwrap();
    let schema = format!("{}/api/openapi.json", app.base);
    let auth = format!("Authorization: Bearer {}", user.token);
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .current_dir(cwd.path())
            .args(["run", &schema, "--url", &base])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", "25", "--seed", "1", "--workers", "2"])
            .args(["--generation-database", "none", "--no-color"])
            .args(["--header", &auth])
            // Signing out or changing the password would end the fuzzer's session.
            .args(["--exclude-path-regex", "^/api/auth/logout"])
            .args(["--exclude-path", "/api/me/password"])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "schemathesis found answers outside the document:\n{stdout}\n{stderr}"
    );
    assert_eq!(app.get("/healthz", "").await.0, 200);
}
