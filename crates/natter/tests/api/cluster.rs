//! Several nodes: two natter processes' worth of app share one PostgreSQL
//! database and fan out through Redis. Users on different nodes chat in real
//! time, and history written through one node is read through the other.
//! Skipped, loudly, without PostgreSQL and Redis.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

/// How long a user with a socket left must go unannounced: past the one-second
/// recheck a node makes when two of a user's last sockets close at once.
const NO_OFFLINE_WITHIN: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_different_nodes_chat_in_real_time() {
    let Some((node_a, node_b)) = TestApp::cluster().await else {
        return;
    };
    let alice = node_a.register("alice").await;
    let bob = node_b.register("bob").await;
    let alice_socket = node_a.socket(&alice.token).await;
    let bob_socket = node_b.socket(&bob.token).await;
    let bob_second = node_a.socket(&bob.token).await;

    // Created on node B: both users hear of it, wherever they are connected.
    let id = node_b.direct(&bob, &alice).await;
    assert_eq!(alice_socket.next("conversation").await["id"], id.as_str());

    let ack = alice_socket
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "across nodes", "clientId": "x1"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        bob_socket.next("message").await,
        ack["message"],
        "delivered on the other node"
    );
    assert_eq!(
        bob_second.next("message").await,
        ack["message"],
        "and on the same node"
    );

    bob_socket
        .emit_ack("typing", json!({"conversationId": id}))
        .await;
    assert_eq!(alice_socket.next("typing").await["userId"], bob.id.as_str());
    let read = bob_socket
        .emit_ack("read", json!({"conversationId": id, "seq": 1}))
        .await;
    assert_eq!(read["ok"], true);
    assert_eq!(alice_socket.next("read").await["seq"], 1);

    // One history, whichever node answers.
    let via_b = node_b.send(&bob, &id, "reply", "y1").await;
    assert_eq!(alice_socket.next("message").await, via_b);
    let (_, history) = node_a
        .get(&format!("/api/conversations/{id}/messages"), &alice.token)
        .await;
    let seqs: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);

    // The lobby reaches everyone; profile changes reach contacts.
    let (_, lobby) = node_b
        .post("/api/chat", &bob.token, json!({"msg": "hello all"}))
        .await;
    assert_eq!(alice_socket.next("message").await, lobby["message"]);
    node_a
        .call(
            Method::PATCH,
            "/api/me",
            Some(&alice.token),
            Some(json!({"statusMessage": "on node A"})),
        )
        .await;
    assert_eq!(bob_socket.next("user").await["statusMessage"], "on node A");

    // Presence is per user, not per node: bob stays online while a socket remains anywhere.
    let carol = node_a.register("carol").await;
    let carol_socket = node_b.socket(&carol.token).await;
    alice_socket.subscribe(&[&carol.id]).await;
    bob_second.disconnect().await;
    let about_bob = alice_socket
        .presence_of_within(&bob.id, NO_OFFLINE_WITHIN)
        .await;
    assert_eq!(
        about_bob,
        Vec::<serde_json::Value>::new(),
        "bob is still connected through node B"
    );
    let carol_elsewhere = node_a.socket(&carol.token).await;
    carol_socket.disconnect().await;
    // The connect on node A announces only when it counts no other socket of
    // carol's anywhere, and it counts after its CONNECT went out: by then the one
    // on node B may be gone, so a repeated `online: true` is allowed here, an
    // offline is not.
    let about_carol = alice_socket
        .presence_of_within(&carol.id, NO_OFFLINE_WITHIN)
        .await;
    assert!(
        about_carol.iter().all(|event| event["online"] == true),
        "carol is still connected through node A: {about_carol:?}"
    );
    carol_elsewhere.disconnect().await;
    let gone = alice_socket.next_presence_of(&carol.id).await;
    assert_eq!(
        gone["online"], false,
        "offline once her last socket on any node is gone"
    );

    // Logging out on node A closes that session's sockets on node B too.
    let (_, login) = node_a.login("bob", "correct horse").await;
    let session = login["token"].as_str().unwrap().to_owned();
    let watched = node_b.socket(&session).await;
    node_a
        .call(Method::POST, "/api/auth/logout", Some(&session), None)
        .await;
    watched.next("close").await;
}
