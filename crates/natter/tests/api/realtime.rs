//! Socket.IO through a real client: authentication on connect, `message:send`
//! with acks, delivery to every socket of every member, error acks, and the
//! `conversation`, `typing`, `read`, `presence` and `user` events.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rust_socketio::TransportType;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSocket, on_both_backends};

async fn connect_needs_a_valid_session(app: TestApp) {
    for auth in [
        None,
        Some(json!({"token": "forged"})),
        Some(json!({"nothing": 1})),
    ] {
        let refused = TestSocket::connect(&app.base, auth.clone(), TransportType::Websocket).await;
        let error = refused
            .err()
            .unwrap_or_else(|| panic!("connected with {auth:?}"));
        assert!(error.contains("unauthorized"), "{error}");
    }
    let alice = app.register("alice").await;
    let (_, login) = app.login("alice", "correct horse").await;
    let other_session = app.socket(login["token"].as_str().unwrap()).await;
    let socket = app.socket(&alice.token).await;
    app.call(Method::POST, "/api/auth/logout", Some(&alice.token), None)
        .await;
    socket.next("close").await;
    assert!(
        other_session
            .try_next("close", Duration::from_millis(300))
            .await
            .is_none(),
        "only the logged-out session's sockets are closed"
    );
    let ack = other_session
        .emit_ack("typing", json!({"conversationId": "lobby"}))
        .await;
    assert_eq!(ack["ok"], true, "the other session's socket still works");
    let refused = TestSocket::connect(
        &app.base,
        Some(json!({"token": alice.token})),
        TransportType::Websocket,
    )
    .await;
    assert!(refused.is_err(), "a logged-out token cannot connect");
}

async fn send_is_acked_and_delivered_to_every_socket(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let id = app.direct(&alice, &bob).await;
    let alice_1 = app.socket(&alice.token).await;
    let alice_2 = app.socket(&alice.token).await;
    let bob_1 = app.socket(&bob.token).await;
    let bob_2 = app.socket(&bob.token).await;
    let carol_1 = app.socket(&carol.token).await;

    let ack = alice_1
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "hi bob", "clientId": "k1"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let message = &ack["message"];
    assert_eq!(
        (message["seq"].as_i64(), message["user"].as_str()),
        (Some(1), Some("alice"))
    );
    for socket in [&bob_1, &bob_2, &alice_2, &alice_1] {
        assert_eq!(
            &socket.next("message").await,
            message,
            "every socket of every member"
        );
    }
    assert!(
        carol_1
            .try_next("message", Duration::from_millis(300))
            .await
            .is_none(),
        "non-members hear nothing"
    );
    // Acked means stored.
    let (_, history) = app
        .get(&format!("/api/conversations/{id}/messages"), &bob.token)
        .await;
    assert_eq!(&history["messages"][0], message);

    // A retry with the same clientId answers the stored message and delivers nothing new.
    let again = alice_1
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "hi bob", "clientId": "k1"}),
        )
        .await;
    assert_eq!(&again["message"], message);
    assert!(
        bob_1
            .try_next("message", Duration::from_millis(300))
            .await
            .is_none()
    );

    // An HTTP send is delivered the same way.
    let via_http = app.send(&bob, &id, "hello", "k2").await;
    assert_eq!(alice_1.next("message").await, via_http);
}

async fn errors_are_acked_and_the_connection_stays(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mallory = app.register("mallory").await;
    let id = app.direct(&alice, &bob).await;
    let socket = app.socket(&mallory.token).await;
    let ack = socket
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "let me in", "clientId": "x"}),
        )
        .await;
    assert_eq!(ack["error"]["code"], "not_found", "{ack}");
    for (payload, code) in [
        (json!("just a string"), "invalid_payload"),
        (json!({"conversationId": "lobby"}), "invalid_payload"),
        (
            json!({"conversationId": "lobby", "msg": 5, "clientId": "a"}),
            "invalid_payload",
        ),
        (
            json!({"conversationId": "lobby", "msg": "x".repeat(4001), "clientId": "a"}),
            "message_too_long",
        ),
        (
            json!({"conversationId": "lobby", "msg": "  ", "clientId": "a"}),
            "invalid_message",
        ),
        (
            json!({"conversationId": "lobby", "msg": "ok", "clientId": ""}),
            "invalid_client_id",
        ),
    ] {
        let ack = socket.emit_ack("message:send", payload.clone()).await;
        assert_eq!(ack["error"]["code"], code, "{payload}: {ack}");
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let ack = socket
        .emit_ack("read", json!({"conversationId": id, "seq": 1}))
        .await;
    assert_eq!(ack["error"]["code"], "not_found");
    let ack = socket
        .emit_ack("typing", json!({"conversationId": id}))
        .await;
    assert_eq!(ack["error"]["code"], "not_found");
    // Still connected: a valid send goes through.
    let ack = socket
        .emit_ack(
            "message:send",
            json!({"conversationId": "lobby", "msg": "still here", "clientId": "ok"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["seq"], 1);
}

async fn oversized_packets_close_the_connection(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let watcher = app.socket(&bob.token).await;
    watcher.subscribe(&[&alice.id]).await;
    let socket = app.socket(&alice.token).await;
    assert_eq!(watcher.next_presence_of(&alice.id).await["online"], true);
    let huge = json!({"conversationId": "lobby", "msg": "x".repeat(100_000), "clientId": "big"});
    let _ = socket.emit_only("message:send", huge).await;
    let gone = watcher.next_presence_of(&alice.id).await;
    assert_eq!(
        gone["online"], false,
        "the server dropped the oversized connection"
    );
    let (_, history) = app
        .get("/api/conversations/lobby/messages", &alice.token)
        .await;
    assert_eq!(history["messages"], json!([]), "nothing stored");
}

async fn typing_read_and_conversation_events(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let alice_socket = app.socket(&alice.token).await;
    let bob_socket = app.socket(&bob.token).await;
    let id = app.direct(&alice, &bob).await;
    let for_alice = alice_socket.next("conversation").await;
    let for_bob = bob_socket.next("conversation").await;
    assert_eq!(for_alice["id"], id.as_str());
    assert_eq!(
        for_alice["peer"]["id"],
        bob.id.as_str(),
        "each sees the other as peer"
    );
    assert_eq!(for_bob["peer"]["id"], alice.id.as_str());
    assert_eq!(for_bob["peer"]["online"], true);

    let ack = alice_socket
        .emit_ack("typing", json!({"conversationId": id}))
        .await;
    assert_eq!(ack["ok"], true);
    assert_eq!(
        bob_socket.next("typing").await,
        json!({"conversationId": id, "userId": alice.id})
    );

    alice_socket
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "one", "clientId": "1"}),
        )
        .await;
    alice_socket
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "two", "clientId": "2"}),
        )
        .await;
    let ack = bob_socket
        .emit_ack("read", json!({"conversationId": id, "seq": 2}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        alice_socket.next("read").await,
        json!({"conversationId": id, "userId": bob.id, "seq": 2})
    );
    let ack = bob_socket
        .emit_ack("read", json!({"conversationId": id, "seq": 1}))
        .await;
    assert_eq!(ack["seq"], 2, "a read mark never moves back");
}

async fn presence_follows_first_and_last_socket(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let watcher = app.socket(&alice.token).await;
    watcher.subscribe(&[&bob.id]).await;
    let first = app.socket(&bob.token).await;
    let online = watcher.next_presence_of(&bob.id).await;
    assert_eq!(
        online,
        json!({"userId": bob.id, "online": true, "lastSeenAt": null})
    );
    let (_, body) = app
        .get(&format!("/api/users/{}", bob.id), &alice.token)
        .await;
    assert_eq!(body["user"]["online"], true);
    let second = app.socket(&bob.token).await;
    // An acked round trip: the second socket is fully set up before the first goes.
    second
        .emit_ack("typing", json!({"conversationId": "lobby"}))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.disconnect().await;
    assert!(
        watcher
            .try_next("presence", Duration::from_millis(400))
            .await
            .is_none(),
        "still online through the second socket"
    );
    second.disconnect().await;
    let offline = watcher.next_presence_of(&bob.id).await;
    assert_eq!(offline["userId"], bob.id.as_str());
    assert_eq!(offline["online"], false);
    let last_seen = offline["lastSeenAt"].as_i64().expect("a lastSeenAt time");
    let (_, body) = app
        .get(&format!("/api/users/{}", bob.id), &alice.token)
        .await;
    assert_eq!(body["user"]["online"], false);
    assert_eq!(body["user"]["lastSeenAt"], last_seen);
}

async fn profile_changes_reach_other_users(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.direct(&bob, &alice).await;
    let bob_socket = app.socket(&bob.token).await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/me",
            Some(&alice.token),
            Some(json!({"displayName": "Alice B.", "statusMessage": "hi"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let user = bob_socket.next("user").await;
    assert_eq!(user["id"], alice.id.as_str());
    assert_eq!(user["displayName"], "Alice B.");
    assert_eq!(user["statusMessage"], "hi");
}

async fn lobby_messages_reach_everyone(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bob_socket = app.socket(&bob.token).await;
    let (status, body) = app
        .post("/api/chat", &alice.token, json!({"msg": "hello lobby"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let event = bob_socket.next("message").await;
    assert_eq!(event, body["message"]);
    for field in ["user", "msg", "createdAt"] {
        assert!(
            event.get(field).is_some(),
            "the original design's IMsg has {field}"
        );
    }
}

async fn long_polling_works(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let polling = TestSocket::connect(
        &app.base,
        Some(json!({"token": alice.token})),
        TransportType::Polling,
    )
    .await
    .expect("polling connects");
    let bob_socket = app.socket(&bob.token).await;
    let ack = polling
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "over polling", "clientId": "p"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(bob_socket.next("message").await["msg"], "over polling");
    assert_eq!(
        polling.next("message").await,
        ack["message"],
        "the sender's socket gets it too"
    );
    let reply = bob_socket
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "back", "clientId": "q"}),
        )
        .await;
    assert_eq!(polling.next("message").await, reply["message"]);
}

async fn order_holds_under_concurrent_senders(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let watcher = app.socket(&bob.token).await;
    let mut sends = Vec::new();
    for sender in 0..4 {
        let app_base = app.base.clone();
        let token = if sender % 2 == 0 {
            alice.token.clone()
        } else {
            bob.token.clone()
        };
        let id = id.clone();
        sends.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..25 {
                let response = client
                    .post(format!("{app_base}/api/conversations/{id}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"msg": format!("s{sender} m{i}"), "clientId": format!("s{sender}-{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        }));
    }
    for send in sends {
        send.await.unwrap();
    }
    let mut seen: Vec<i64> = Vec::new();
    for _ in 0..100 {
        let message: Value = watcher.next("message").await;
        seen.push(message["seq"].as_i64().unwrap());
    }
    assert_eq!(
        seen,
        (1..=100).collect::<Vec<_>>(),
        "delivered in seq order, none lost or doubled"
    );
}

on_both_backends!(
    connect_needs_a_valid_session,
    send_is_acked_and_delivered_to_every_socket,
    errors_are_acked_and_the_connection_stays,
    oversized_packets_close_the_connection,
    typing_read_and_conversation_events,
    presence_follows_first_and_last_socket,
    profile_changes_reach_other_users,
    lobby_messages_reach_everyone,
    long_polling_works,
    order_holds_under_concurrent_senders,
);
