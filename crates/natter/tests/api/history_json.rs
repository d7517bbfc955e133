//! History pages show every message exactly as its last change announced it.
//!
//! On SQLite a history page is written as JSON by SQLite itself
//! (`store::page_json`), while the live events and the answers of sends and
//! edits come from the row path (`store::messages`, the contract's `Message`
//! serialised by serde). This walks one group through every kind of message
//! (system messages, replies, text that needs escaping, attachments with and
//! without a preview, edits, reactions added and taken back, a tombstone) and
//! compares both, message by message, over every kind of page.

use std::collections::BTreeMap;
use std::time::Duration;

use image::ImageFormat;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::avatars::picture;
use crate::helpers::{TestApp, TestUser, on_both_backends};

async fn upload(app: &TestApp, user: &TestUser, bytes: Vec<u8>, name: &str) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let response = reqwest::Client::new()
        .post(format!("{}/api/uploads", app.base))
        .bearer_auth(&user.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["attachment"].clone()
}

async fn change(app: &TestApp, user: &TestUser, method: Method, path: String, body: Option<Value>) {
    let (status, answer) = app.call(method, &path, Some(&user.token), body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
}

/// Every page of the conversation in `limit`-sized steps, with `cursor` set to
/// the seq (or rev) where the last page ended.
async fn walk(app: &TestApp, user: &TestUser, id: &str, cursor: &str, limit: usize) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    let mut at = match cursor {
        "before" => 1_000_000_000,
        _ => 0,
    };
    loop {
        let path = format!("/api/conversations/{id}/messages?{cursor}={at}&limit={limit}");
        let (status, page) = app.get(&path, &user.token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let messages = page["messages"].as_array().unwrap().clone();
        assert!(messages.len() <= limit);
        let key = if cursor == "sinceRev" { "rev" } else { "seq" };
        let keys: Vec<i64> = messages.iter().map(|m| m[key].as_i64().unwrap()).collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "{path}: ascending {keys:?}"
        );
        at = match (cursor, keys.first(), keys.last()) {
            ("before", Some(&first), _) => first,
            (_, _, Some(&last)) => last,
            _ => at,
        };
        let more = page["hasMore"].as_bool().unwrap();
        if cursor == "before" {
            let mut older = messages;
            older.extend(all);
            all = older;
        } else {
            all.extend(messages);
        }
        if !more {
            return all;
        }
    }
}

async fn pages_show_every_message_as_announced(app: TestApp) {
    let alice = app.register("hj_alice").await;
    let bob = app.register("hj_bob").await;
    let carol = app.register("hj_carol").await;
    let watcher = app.socket(&carol.token).await;
    let (status, group) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"kind": "group", "title": "Shapes \"quoted\"", "userIds": [bob.id, carol.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["conversation"]["id"].as_str().unwrap().to_owned();
    let send = |user: &TestUser, body: Value| {
        let path = format!("/api/conversations/{id}/messages");
        let (app, token) = (&app, user.token.clone());
        async move {
            let (status, answer) = app.post(&path, &token, body).await;
            assert!(status.is_success(), "send: {status} {answer}");
            answer["message"]["seq"].as_i64().unwrap()
        }
    };
    let first = send(&alice, json!({"msg": "hello", "clientId": "h1"})).await;
    let tricky = "quote \" backslash \\ tab\t newline\n 한국어 \u{2028}  👍🏽 </script>";
    send(
        &bob,
        json!({"msg": tricky, "clientId": "h2", "replyTo": first}),
    )
    .await;
    let photo = upload(&app, &alice, picture(ImageFormat::Png, 64, 48), "p.png").await;
    let file = upload(&app, &alice, b"plain bytes".to_vec(), "notes \"1\".txt").await;
    let with_files = send(
        &alice,
        json!({"msg": "two files", "clientId": "h3", "attachments": [photo["id"], file["id"]]}),
    )
    .await;
    // Files and never a reaction: the page finds them by the attachments alone.
    let lone = upload(&app, &alice, b"lone bytes".to_vec(), "lone.txt").await;
    send(
        &alice,
        json!({"msg": "one file", "clientId": "h3b", "attachments": [lone["id"]]}),
    )
    .await;
    let doomed = send(&carol, json!({"msg": "soon gone", "clientId": "h4"})).await;
    send(
        &carol,
        json!({"msg": "re gone", "clientId": "h5", "replyTo": doomed}),
    )
    .await;
    for n in 0..7 {
        send(
            &bob,
            json!({"msg": format!("filler {n}"), "clientId": format!("f{n}")}),
        )
        .await;
    }
    let message = |seq: i64| format!("/api/conversations/{id}/messages/{seq}");
    let reaction = |seq: i64, emoji: &str| {
        let emoji: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
        format!("/api/conversations/{id}/messages/{seq}/reactions/{emoji}")
    };
    change(
        &app,
        &alice,
        Method::PATCH,
        message(first),
        Some(json!({"msg": "hello, edited"})),
    )
    .await;
    change(&app, &bob, Method::PUT, reaction(first, "👍"), None).await;
    change(&app, &carol, Method::PUT, reaction(first, "❤️"), None).await;
    change(&app, &carol, Method::PUT, reaction(first, "👍"), None).await;
    change(&app, &alice, Method::PUT, reaction(first, "❤️"), None).await;
    change(&app, &bob, Method::DELETE, reaction(first, "👍"), None).await;
    change(&app, &bob, Method::PUT, reaction(with_files, "🎉"), None).await;
    change(&app, &carol, Method::DELETE, message(doomed), None).await;
    let (_, now) = app
        .get(&format!("/api/conversations/{id}"), &carol.token)
        .await;
    let last_rev = now["conversation"]["rev"].as_i64().unwrap();

    // What the live events said last about each message (the row path).
    let mut announced: BTreeMap<i64, Value> = BTreeMap::new();
    while announced.values().map(|m| m["rev"].as_i64().unwrap()).max() != Some(last_rev) {
        let (_, m) = tokio::time::timeout(
            Duration::from_secs(10),
            watcher.next_of(&["message", "message:update"]),
        )
        .await
        .expect("every change is announced");
        if m["conversationId"] == id.as_str() {
            announced.insert(m["seq"].as_i64().unwrap(), m);
        }
    }
    assert_eq!(
        announced.len(),
        14,
        "one system message and thirteen sent: {:?}",
        announced.keys()
    );
    let shown = &announced[&first];
    assert_eq!(
        shown["reactions"],
        json!([{"emoji": "❤️", "userIds": [carol.id, alice.id]}, {"emoji": "👍", "userIds": [carol.id]}])
    );
    assert!(announced.values().any(|m| m["type"] == "system"));

    for (cursor, limit) in [("before", 50), ("before", 3), ("after", 4), ("sinceRev", 5)] {
        let pages = walk(&app, &carol, &id, cursor, limit).await;
        let by_seq: BTreeMap<i64, Value> = pages
            .into_iter()
            .map(|m| (m["seq"].as_i64().unwrap(), m))
            .collect();
        assert_eq!(
            by_seq.keys().collect::<Vec<_>>(),
            announced.keys().collect::<Vec<_>>(),
            "{cursor} pages of {limit}: every message once"
        );
        for (seq, expected) in &announced {
            assert_eq!(
                &by_seq[seq], expected,
                "{cursor} pages of {limit}: message {seq}"
            );
        }
    }
    // The answer is sent as the database wrote it: it still says it is JSON.
    let answer = app
        .get_response(&format!("/api/conversations/{id}/messages"), &carol.token)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers()[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
}

on_both_backends!(pages_show_every_message_as_announced);
