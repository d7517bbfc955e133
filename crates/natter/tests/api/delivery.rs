//! Delivery under pressure: every request that asked for an ack gets one, and
//! a live socket gets every event in order (or is closed, never skipped); the
//! counts an operator needs are in `/metrics`.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_backends};

on_both_backends!(three_hundred_sends_in_flight_on_one_socket);

async fn three_hundred_sends_in_flight_on_one_socket(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let sender = app.socket(&alice.token).await;
    let receiver = app.socket(&bob.token).await;

    let send = |i: usize| {
        let payload = json!({ "conversationId": id, "msg": format!("m{i}"), "clientId": format!("c{i}") });
        sender.emit_ack("message:send", payload)
    };
    let acks: Vec<Value> = join_all((0..300).map(send)).await;
    let mut refused = Vec::new();
    for (i, ack) in acks.iter().enumerate() {
        if ack["ok"] == true {
            continue;
        }
        assert_eq!(ack["error"]["code"], "busy", "send {i}: {ack}");
        refused.push(i);
    }
    assert!(
        refused.len() <= 300 - 64,
        "at least the in-flight budget is accepted"
    );
    // A refused send is retried by its client with the same clientId.
    for i in &refused {
        let ack = send(*i).await;
        assert_eq!(ack["ok"], true, "retry of {i}: {ack}");
    }

    // The receiver has every seq, in order, or its connection was closed.
    let mut next = 1;
    while next <= 300 {
        match receiver
            .next_of(&["message", "close"], Duration::from_secs(10))
            .await
        {
            Some((event, message)) if event == "message" => {
                assert_eq!(message["seq"], next, "no gap, no reordering");
                next += 1;
            }
            Some(_) => break,
            None => panic!("neither message {next} nor a close within 10 s"),
        }
    }

    let path = format!("/api/conversations/{id}/messages");
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) = app
            .get(&format!("{path}?after={after}&limit=100"), &alice.token)
            .await;
        let messages = page["messages"].as_array().unwrap().clone();
        let Some(last) = messages.last() else { break };
        after = last["seq"].as_i64().unwrap();
        stored.extend(messages);
    }
    assert_eq!(stored.len(), 300, "every send stored exactly once");
    let mut client_ids: Vec<&str> = stored
        .iter()
        .map(|m| m["clientId"].as_str().unwrap())
        .collect();
    client_ids.sort_unstable();
    client_ids.dedup();
    assert_eq!(client_ids.len(), 300);
    assert_eq!(app.get("/healthz", "").await.0, 200);
}

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
