//! What an operator sees of delivery: the counts in `/metrics`. (Sends in
//! flight are tested with the official client in tests/compat, delivery.test.mjs:
//! the Rust client cannot keep hundreds of acks pending; slow sockets in
//! `slow_socket`.)

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_operators_watch() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let _socket = app.socket(&alice.token).await;
    app.send(&alice, &id, "counted", "c1").await;
    let response = app
        .http()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for name in [
        "natter_messages_stored_total",
        "natter_commit_batch_size",
        "natter_commit_seconds",
        "natter_sockets_connected",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}
