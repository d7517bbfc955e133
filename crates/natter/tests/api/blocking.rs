//! Blocking (contract v2 "Blocking"): the block list, a blocked pair that can
//! neither start nor use a direct chat, the blocker spared the other's typing,
//! group and lobby messages still arriving, and the block holding on every node.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, on_both_backends};

async fn set_block(app: &TestApp, user: &TestUser, target: &str, on: bool) -> (StatusCode, Value) {
    let method = if on { Method::PUT } else { Method::DELETE };
    app.call(
        method,
        &format!("/api/me/blocks/{target}"),
        Some(&user.token),
        None,
    )
    .await
}

/// `POST /api/conversations` from `from` to `to`: the status and body.
async fn open_chat(app: &TestApp, from: &TestUser, to: &TestUser) -> (StatusCode, Value) {
    app.post(
        "/api/conversations",
        &from.token,
        json!({ "userId": to.id }),
    )
    .await
}

fn blocked_ids(body: &Value) -> Vec<&str> {
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| user["id"].as_str().expect("id"))
        .collect()
}

async fn the_block_list_answers_and_refuses_bad_targets(app: TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;

    let (status, body) = set_block(&app, &ann, &ann.id, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "cannot_block_self");
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = set_block(&app, &ann, unknown, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = set_block(&app, &ann, "not-an-id", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for target in [&bob, &cat, &bob] {
        let (status, body) = set_block(&app, &ann, &target.id, true).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, body) = app.get("/api/me/blocks", &ann.token).await;
    assert_eq!(status, StatusCode::OK);
    let mut ids = blocked_ids(&body);
    ids.sort();
    let mut expected = vec![bob.id.as_str(), cat.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "each blocked user once: {body}");
    assert!(body["users"][0]["username"].as_str().is_some());

    let (_, body) = app.get("/api/me/blocks", &bob.token).await;
    assert!(blocked_ids(&body).is_empty(), "bob blocks nobody: {body}");

    let (status, _) = set_block(&app, &ann, &bob.id, false).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = set_block(&app, &ann, &bob.id, false).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "unblocking twice is fine");
    let (_, body) = app.get("/api/me/blocks", &ann.token).await;
    assert_eq!(blocked_ids(&body), [cat.id.as_str()]);

    let (status, _) = app.call(Method::GET, "/api/me/blocks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_blocked_pair_cannot_start_a_chat(app: TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    set_block(&app, &ann, &bob.id, true).await;

    for (from, to) in [(&bob, &ann), (&ann, &bob)] {
        let (status, body) = open_chat(&app, from, to).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "blocked");
    }
    let (_, list) = app.get("/api/conversations", &bob.token).await;
    assert!(
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] != "direct"),
        "nothing was created: {list}"
    );

    set_block(&app, &ann, &bob.id, false).await;
    let (status, body) = open_chat(&app, &bob, &ann).await;
    assert_eq!(status, StatusCode::CREATED, "unblocked: {body}");
}

async fn an_existing_chat_opens_but_takes_no_sends(app: TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let id = app.direct(&bob, &ann).await;
    app.send(&bob, &id, "before the block", "b1").await;
    let ann_socket = app.socket(&ann.token).await;
    let bob_socket = app.socket(&bob.token).await;

    set_block(&app, &ann, &bob.id, true).await;

    let (status, body) = open_chat(&app, &bob, &ann).await;
    assert_eq!(status, StatusCode::OK, "opening answers as before: {body}");
    assert_eq!(body["conversation"]["id"], id.as_str());

    let path = format!("/api/conversations/{id}/messages");
    for (user, client_id) in [(&bob, "b2"), (&ann, "a1")] {
        let (status, body) = app
            .post(
                &path,
                &user.token,
                json!({ "msg": "hello?", "clientId": client_id }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "blocked");
    }
    let ack = bob_socket
        .emit_ack(
            "message:send",
            json!({ "conversationId": id, "msg": "over the socket", "clientId": "b3" }),
        )
        .await;
    assert_eq!(ack["error"]["code"], "blocked", "{ack}");
    // A reply is stored one by one, not in bulk: refused all the same.
    let (status, body) = app
        .post(
            &path,
            &bob.token,
            json!({ "msg": "a reply", "clientId": "b5", "replyTo": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "blocked");

    let (status, history) = app.get(&path, &ann.token).await;
    assert_eq!(status, StatusCode::OK, "the history stays readable");
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before the block"], "nothing was stored");

    set_block(&app, &ann, &bob.id, false).await;
    let sent = app.send(&bob, &id, "after the unblock", "b4").await;
    assert_eq!(sent["seq"], 2, "the refused sends left no gap");
    let message = ann_socket.next("message").await;
    assert_eq!(
        message["msg"], "after the unblock",
        "the first message ann's socket saw is the one after the unblock"
    );
}

async fn the_blocker_sees_no_typing_but_lobby_messages_still_arrive(app: TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let ann_socket = app.socket(&ann.token).await;
    let bob_socket = app.socket(&bob.token).await;
    let cat_socket = app.socket(&cat.token).await;
    set_block(&app, &ann, &bob.id, true).await;

    let ack = bob_socket
        .emit_ack("typing", json!({ "conversationId": "lobby" }))
        .await;
    assert_eq!(ack["ok"], true, "bob is not told: {ack}");
    assert_eq!(cat_socket.next("typing").await["userId"], bob.id.as_str());
    // Cat types after bob: the first typing ann receives must be cat's.
    cat_socket
        .emit_ack("typing", json!({ "conversationId": "lobby" }))
        .await;
    let seen = ann_socket.next("typing").await;
    assert_eq!(
        seen["userId"],
        cat.id.as_str(),
        "bob's typing reached ann: {seen}"
    );

    let ack = bob_socket
        .emit_ack(
            "message:send",
            json!({ "conversationId": "lobby", "msg": "hi all", "clientId": "l1" }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let message = ann_socket.next("message").await;
    assert_eq!(message["senderId"], bob.id.as_str());
    assert!(
        ann_socket
            .try_next("typing", Duration::from_millis(300))
            .await
            .is_none()
    );
}

on_both_backends!(
    the_block_list_answers_and_refuses_bad_targets,
    a_blocked_pair_cannot_start_a_chat,
    an_existing_chat_opens_but_takes_no_sends,
    the_blocker_sees_no_typing_but_lobby_messages_still_arrive,
);

/// A block made through one node holds for a send through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_holds_on_every_node() {
    let Some((node_a, node_b)) = TestApp::cluster().await else {
        return;
    };
    let ann = node_a.register("ann").await;
    let bob = node_b.register("bob").await;
    let id = node_b.direct(&bob, &ann).await;
    let bob_socket = node_b.socket(&bob.token).await;

    set_block(&node_a, &ann, &bob.id, true).await;
    let ack = bob_socket
        .emit_ack(
            "message:send",
            json!({ "conversationId": id, "msg": "through node b", "clientId": "n1" }),
        )
        .await;
    assert_eq!(ack["error"]["code"], "blocked", "{ack}");
    let (status, body) = open_chat(&node_b, &bob, &ann).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
