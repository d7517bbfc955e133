//! Presence v2: `presence` and `user` events about a user reach the user's
//! contacts (who share a conversation other than the lobby with them) and the
//! sockets that asked with `presence:subscribe`, and nobody else; on one node
//! and across nodes.

use std::time::Duration;

use natter::domain::UserId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSocket, TestUser, on_both_backends};

/// How long a socket that should hear nothing is listened to, after a socket
/// that should hear the same emit already has.
const QUIET: Duration = Duration::from_millis(300);

/// The `presence` and `user` events about `user_id` among what `socket`
/// receives within [`QUIET`].
async fn heard_about(socket: &TestSocket, user_id: &str) -> Vec<(String, Value)> {
    socket
        .events_within(QUIET)
        .await
        .into_iter()
        .filter(|(name, payload)| match name.as_str() {
            "presence" => payload["userId"] == user_id,
            "user" => payload["id"] == user_id,
            _ => false,
        })
        .collect()
}

async fn rename(app: &TestApp, user: &TestUser, status_message: &str) {
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/me",
            Some(&user.token),
            Some(json!({ "statusMessage": status_message })),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

async fn strangers_hear_nothing_and_contacts_everything(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let bob_socket = app.socket(&bob.token).await;
    let carol_socket = app.socket(&carol.token).await;
    // Everyone is in the lobby, and talking there makes nobody a contact.
    app.post("/api/chat", &alice.token, json!({"msg": "hi all"}))
        .await;
    app.post("/api/chat", &carol.token, json!({"msg": "hi alice"}))
        .await;
    // Bob is already connected when the conversation starts: he starts
    // watching alice live.
    app.direct(&alice, &bob).await;

    let alice_socket = app.socket(&alice.token).await;
    assert_eq!(bob_socket.next_presence_of(&alice.id).await["online"], true);
    // A socket opened after the conversation finds alice among its contacts
    // (copied from bob's first socket, which joined her room live).
    let bob_later = app.socket(&bob.token).await;
    rename(&app, &alice, "busy").await;
    for socket in [&bob_socket, &bob_later] {
        let user = socket.next("user").await;
        assert_eq!(
            (user["id"].as_str(), user["statusMessage"].as_str()),
            (Some(alice.id.as_str()), Some("busy"))
        );
    }
    alice_socket.disconnect().await;
    let offline = bob_later.next_presence_of(&alice.id).await;
    assert_eq!(offline["online"], false);
    assert!(offline["lastSeenAt"].is_i64(), "{offline}");
    // Bob's newest socket is gone, his first is still here: a new one still
    // finds alice among its contacts.
    bob_later.disconnect().await;
    let bob_third = app.socket(&bob.token).await;
    rename(&app, &alice, "away").await;
    for socket in [&bob_socket, &bob_third] {
        let user = socket.next("user").await;
        assert_eq!(user["statusMessage"], "away", "{user}");
    }

    assert_eq!(
        heard_about(&carol_socket, &alice.id).await,
        [],
        "carol shares only the lobby with alice"
    );
    // Alice is a contact of bob, not of carol, in the other direction too.
    let (_, body) = app
        .get(&format!("/api/users/{}", alice.id), &carol.token)
        .await;
    assert_eq!(body["user"]["online"], false, "HTTP answers everyone");
    assert_eq!(body["user"]["lastSeenAt"], offline["lastSeenAt"]);
}

async fn subscribers_hear_until_they_unsubscribe(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    app.direct(&alice, &bob).await;
    let bob_socket = app.socket(&bob.token).await;
    let carol_socket = app.socket(&carol.token).await;
    let dave_socket = app.socket(&dave.token).await;
    for socket in [&carol_socket, &dave_socket, &bob_socket] {
        assert_eq!(socket.subscribe(&[&alice.id]).await, json!({"ok": true}));
    }

    let alice_socket = app.socket(&alice.token).await;
    assert_eq!(
        carol_socket.next_presence_of(&alice.id).await["online"],
        true
    );
    rename(&app, &alice, "one").await;
    for socket in [&carol_socket, &dave_socket, &bob_socket] {
        assert_eq!(socket.next("user").await["statusMessage"], "one");
    }

    for socket in [&carol_socket, &bob_socket] {
        let ack = socket
            .emit_ack("presence:unsubscribe", json!({"userIds": [alice.id]}))
            .await;
        assert_eq!(ack, json!({"ok": true}));
    }
    rename(&app, &alice, "two").await;
    assert_eq!(dave_socket.next("user").await["statusMessage"], "two");
    assert_eq!(
        bob_socket.next("user").await["statusMessage"],
        "two",
        "unsubscribing leaves what the conversation gives; a contact that also \
         subscribed heard \"one\" once"
    );
    alice_socket.disconnect().await;
    assert_eq!(
        dave_socket.next_presence_of(&alice.id).await["online"],
        false
    );
    assert_eq!(
        heard_about(&carol_socket, &alice.id).await,
        [],
        "nothing after unsubscribing"
    );
}

on_both_backends!(
    strangers_hear_nothing_and_contacts_everything,
    subscribers_hear_until_they_unsubscribe,
);

#[tokio::test]
async fn a_socket_watches_at_most_500_users() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let socket = app.socket(&alice.token).await;
    let ids: Vec<String> = (0..501).map(|_| UserId::generate().to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

    let ack = socket.subscribe(&refs).await;
    assert_eq!(ack["error"]["code"], "too_many_subscriptions", "{ack}");
    assert_eq!(socket.subscribe(&refs[..300]).await, json!({"ok": true}));
    assert_eq!(socket.subscribe(&refs[..500]).await, json!({"ok": true}));
    assert_eq!(
        socket.subscribe(&refs[..500]).await,
        json!({"ok": true}),
        "watching again is no new subscription"
    );
    let ack = socket.subscribe(&refs[500..]).await;
    assert_eq!(ack["error"]["code"], "too_many_subscriptions", "{ack}");
    assert!(ack["error"]["message"].as_str().unwrap().contains("500"));

    let ack = socket
        .emit_ack("presence:unsubscribe", json!({"userIds": [refs[0]]}))
        .await;
    assert_eq!(ack, json!({"ok": true}));
    assert_eq!(
        socket.subscribe(&refs[500..]).await,
        json!({"ok": true}),
        "an unsubscribe makes room"
    );

    let ack = socket.subscribe(&["not an id!"]).await;
    assert_eq!(ack["error"]["code"], "not_found", "{ack}");
    let ack = socket
        .emit_ack("presence:subscribe", json!({"userIds": "everyone"}))
        .await;
    assert_eq!(ack["error"]["code"], "invalid_payload", "{ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_and_subscribers_hear_across_nodes() {
    let Some((node_a, node_b)) = TestApp::cluster().await else {
        return;
    };
    let alice = node_a.register("alice").await;
    let bob = node_b.register("bob").await;
    let carol = node_b.register("carol").await;
    let dave = node_a.register("dave").await;
    let bob_socket = node_b.socket(&bob.token).await;
    let carol_socket = node_b.socket(&carol.token).await;
    let dave_socket = node_a.socket(&dave.token).await;
    assert_eq!(
        carol_socket.subscribe(&[&alice.id]).await,
        json!({"ok": true})
    );
    // Started on node A: bob's socket on node B joins alice's contacts.
    node_a.direct(&alice, &bob).await;
    bob_socket.next("conversation").await;

    let alice_socket = node_a.socket(&alice.token).await;
    assert_eq!(bob_socket.next_presence_of(&alice.id).await["online"], true);
    assert_eq!(
        carol_socket.next_presence_of(&alice.id).await["online"],
        true
    );
    rename(&node_a, &alice, "on node A").await;
    assert_eq!(bob_socket.next("user").await["statusMessage"], "on node A");
    assert_eq!(
        carol_socket.next("user").await["statusMessage"],
        "on node A"
    );
    alice_socket.disconnect().await;
    assert_eq!(
        bob_socket.next_presence_of(&alice.id).await["online"],
        false
    );
    assert_eq!(
        heard_about(&dave_socket, &alice.id).await,
        [],
        "dave, on alice's node, is a stranger to her"
    );
}
