//! The message lifecycle and the `rev` change feed, on both databases: replies
//! that follow their original's edits and deletion, edits, tombstones that keep
//! their seq, reactions; seq and rev gapless in commit order under concurrent
//! senders, editors and reactors (also on two nodes of one PostgreSQL); and a
//! client that was offline catching up with one `sinceRev` walk.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, on_both_backends};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn call_message(
    app: &TestApp,
    method: Method,
    user: &TestUser,
    path: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.call(method, &path, Some(&user.token), body).await
}

async fn edit(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    seq: i64,
    msg: &str,
) -> (StatusCode, Value) {
    let path = format!("/api/conversations/{id}/messages/{seq}");
    call_message(app, Method::PATCH, user, path, Some(json!({"msg": msg}))).await
}

async fn delete(app: &TestApp, user: &TestUser, id: &str, seq: i64) -> (StatusCode, Value) {
    let path = format!("/api/conversations/{id}/messages/{seq}");
    call_message(app, Method::DELETE, user, path, None).await
}

async fn react(
    app: &TestApp,
    method: Method,
    user: &TestUser,
    id: &str,
    seq: i64,
    emoji: &str,
) -> (StatusCode, Value) {
    let emoji: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    let path = format!("/api/conversations/{id}/messages/{seq}/reactions/{emoji}");
    call_message(app, method, user, path, None).await
}

async fn message(app: &TestApp, user: &TestUser, id: &str, seq: i64) -> Value {
    let (_, page) = app
        .get(
            &format!("/api/conversations/{id}/messages?after={}&limit=1", seq - 1),
            &user.token,
        )
        .await;
    page["messages"][0].clone()
}

/// Every message changed after `rev`, walked page by page.
async fn changes_since(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    mut rev: i64,
) -> (Vec<Value>, usize) {
    let (mut all, mut pages) = (Vec::new(), 0);
    loop {
        let (status, page) = app
            .get(
                &format!("/api/conversations/{id}/messages?sinceRev={rev}&limit=3"),
                &user.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        let messages = page["messages"].as_array().unwrap().clone();
        if let Some(last) = messages.last() {
            rev = last["rev"].as_i64().unwrap();
        }
        all.extend(messages);
        if page["hasMore"] == false {
            return (all, pages);
        }
    }
}

async fn replies_edits_deletes_and_reactions(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let other = app.direct(&alice, &app.register("carol").await).await;
    let original = app.send(&alice, &id, &"가".repeat(250), "o1").await;
    assert_eq!(original["type"], "text");
    assert_eq!(original["replyTo"], Value::Null);
    assert_eq!(original["reactions"], json!([]));
    assert_eq!(original["rev"], 1);

    let (status, reply) = app
        .post(
            &format!("/api/conversations/{id}/messages"),
            &bob.token,
            json!({"msg": "a reply", "clientId": "r1", "replyTo": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let reply = &reply["message"];
    assert_eq!(reply["replyTo"]["seq"], 1);
    assert_eq!(reply["replyTo"]["senderId"], alice.id.as_str());
    assert_eq!(reply["replyTo"]["msg"], "가".repeat(200), "200 code points");
    let (status, body) = app
        .post(
            &format!("/api/conversations/{other}/messages"),
            &alice.token,
            json!({"msg": "x", "clientId": "r2", "replyTo": 2}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reply"),
        "a seq of another conversation"
    );

    let (status, body) = edit(&app, &bob, &id, 1, "not yours").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_sender"));
    let (status, edited) = edit(&app, &alice, &id, 1, "fixed").await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"]["msg"], "fixed");
    assert!(edited["message"]["editedAt"].is_i64());
    assert_eq!(edited["message"]["rev"], 3);
    let reply_now = message(&app, &bob, &id, 2).await;
    assert_eq!(
        reply_now["replyTo"]["msg"], "fixed",
        "the quote follows the edit"
    );
    assert_eq!(reply_now["rev"], 4, "and the reply is a change of its own");

    let (status, body) = react(&app, Method::PUT, &bob, &id, 1, "a").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_emoji")
    );
    let (status, body) = react(&app, Method::PUT, &bob, &id, 1, "👍👍").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_emoji")
    );
    for (user, emoji) in [(&bob, "👍🏽"), (&alice, "❤️"), (&alice, "👍🏽"), (&alice, "👍🏽")]
    {
        let (status, body) = react(&app, Method::PUT, user, &id, 1, emoji).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let reacted = message(&app, &bob, &id, 1).await;
    assert_eq!(
        reacted["reactions"],
        json!([{"emoji": "👍🏽", "userIds": [bob.id, alice.id]}, {"emoji": "❤️", "userIds": [alice.id]}]),
        "order of first use; the repeated PUT changed nothing"
    );
    assert_eq!(reacted["rev"], 7);
    let (_, body) = react(&app, Method::DELETE, &alice, &id, 1, "❤️").await;
    assert_eq!(
        body["message"]["reactions"],
        json!([{"emoji": "👍🏽", "userIds": [bob.id, alice.id]}])
    );

    let (status, body) = delete(&app, &bob, &id, 1).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_sender"));
    let (status, tomb) = delete(&app, &alice, &id, 1).await;
    assert_eq!(status, StatusCode::OK, "{tomb}");
    let tomb = &tomb["message"];
    assert_eq!(tomb["seq"], 1, "the tombstone keeps its seq");
    assert_eq!(tomb["msg"], "");
    assert!(tomb["deletedAt"].is_i64());
    assert_eq!(tomb["reactions"], json!([]));
    let reply_now = message(&app, &bob, &id, 2).await;
    assert_eq!(
        reply_now["replyTo"]["msg"], "",
        "the quote follows the deletion"
    );
    let (status, body) = edit(&app, &alice, &id, 1, "back").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_editable")
    );
    let (status, body) = react(&app, Method::PUT, &bob, &id, 1, "😀").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_editable")
    );
    let (status, _) = edit(&app, &alice, &id, 99, "nothing there").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, history) = app
        .get(&format!("/api/conversations/{id}/messages"), &bob.token)
        .await;
    let seqs: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2], "no gap");
    let (_, conversation) = app
        .get(&format!("/api/conversations/{id}"), &bob.token)
        .await;
    let rev = conversation["conversation"]["rev"].as_i64().unwrap();
    let (changes, _) = changes_since(&app, &bob, &id, 0).await;
    let revs: Vec<i64> = changes.iter().map(|m| m["rev"].as_i64().unwrap()).collect();
    assert_eq!(
        revs.last(),
        Some(&rev),
        "the newest change carries the conversation's rev"
    );
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "ascending: {revs:?}");
}

on_both_backends!(replies_edits_deletes_and_reactions);

/// Applies a `message` or `message:update` to a client's view.
fn apply(view: &mut BTreeMap<i64, Value>, message: Value) {
    view.insert(message["seq"].as_i64().unwrap(), message);
}

async fn an_offline_client_catches_up_with_one_since_rev_walk(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"kind": "group", "title": "g", "userIds": [bob.id, carol.id]}),
        )
        .await
        .1;
    let id = group["conversation"]["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        app.send(&alice, &id, &format!("before {i}"), &format!("b{i}"))
            .await;
    }
    // Both clients start from the same history; carol then stays online, bob does not.
    let (_, start) = app
        .get(&format!("/api/conversations/{id}/messages"), &bob.token)
        .await;
    let mut online: BTreeMap<i64, Value> = BTreeMap::new();
    for m in start["messages"].as_array().unwrap() {
        apply(&mut online, m.clone());
    }
    let mut offline = online.clone();
    let (_, seen) = app
        .get(&format!("/api/conversations/{id}"), &bob.token)
        .await;
    let bob_rev = seen["conversation"]["rev"].as_i64().unwrap();
    let carol_socket = app.socket(&carol.token).await;

    app.send(&alice, &id, "while away", "w1").await;
    edit(&app, &alice, &id, 2, "before 0, edited").await;
    delete(&app, &alice, &id, 3).await;
    react(&app, Method::PUT, &carol, &id, 4, "🎉").await;
    react(&app, Method::PUT, &alice, &id, 4, "🎉").await;
    react(&app, Method::DELETE, &carol, &id, 4, "🎉").await;
    let (_, reply) = app
        .post(
            &format!("/api/conversations/{id}/messages"),
            &carol.token,
            json!({"msg": "re", "clientId": "w2", "replyTo": 4}),
        )
        .await;
    edit(&app, &alice, &id, 4, "while away, edited").await;
    let last_rev = {
        let (_, c) = app
            .get(&format!("/api/conversations/{id}"), &carol.token)
            .await;
        c["conversation"]["rev"].as_i64().unwrap()
    };
    assert!(reply["message"]["seq"].is_i64());

    loop {
        let (_, m) = carol_socket.next_of(&["message", "message:update"]).await;
        let rev = m["rev"].as_i64().unwrap();
        apply(&mut online, m);
        if rev == last_rev {
            break;
        }
    }
    let (changes, pages) = changes_since(&app, &bob, &id, bob_rev).await;
    assert!(pages > 1, "the walk took several pages");
    let mut revs: Vec<i64> = changes.iter().map(|m| m["rev"].as_i64().unwrap()).collect();
    for m in changes {
        apply(&mut offline, m);
    }
    assert_eq!(
        offline, online,
        "the same state as the client that stayed online"
    );
    revs.dedup();
    assert_eq!(
        revs.len(),
        offline
            .values()
            .filter(|m| m["rev"].as_i64().unwrap() > bob_rev)
            .count(),
        "each message once"
    );
}

on_both_backends!(an_offline_client_catches_up_with_one_since_rev_walk);

/// Concurrent senders, editors and reactors, over one or two nodes: afterwards
/// seqs are 1..n, and the conversation's rev equals the number of changes
/// made, each message carrying a distinct rev, messages never edited carrying
/// revs that grow with their seq (commit order).
async fn concurrent_changes(nodes: [&TestApp; 2]) {
    let users = [
        nodes[0].register("user0").await,
        nodes[1].register("user1").await,
        nodes[0].register("user2").await,
    ];
    let ids: Vec<&str> = users[1..].iter().map(|u| u.id.as_str()).collect();
    let (_, group) = nodes[0]
        .post(
            "/api/conversations",
            &users[0].token,
            json!({"kind": "group", "title": "busy", "userIds": ids}),
        )
        .await;
    let id = group["conversation"]["id"].as_str().unwrap().to_owned();
    for (i, user) in users.iter().enumerate() {
        nodes[0].send(user, &id, "seed", &format!("seed{i}")).await;
    }
    let emoji = ["😀", "🎉", "👍", "❤️", "🔥"];
    let mut tasks = Vec::new();
    for (n, user) in users.iter().enumerate() {
        let app = nodes[n % 2];
        let (id, user) = (id.clone(), user);
        tasks.push(async move {
            let mut changes = 0;
            for k in 0..8 {
                app.send(user, &id, &format!("m{k}"), &format!("c{n}-{k}"))
                    .await;
                let (status, _) = edit(app, user, &id, 2 + n as i64, &format!("edit {k}")).await;
                // Only the sender of seq 2+n (user n) may edit it.
                changes += 1 + usize::from(status == StatusCode::OK);
                let (status, body) = react(app, Method::PUT, user, &id, 2, emoji[k % 5]).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                if k < 5 {
                    changes += 1;
                }
            }
            changes
        });
    }
    let made: usize = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .sum();
    let (_, c) = nodes[1]
        .get(&format!("/api/conversations/{id}"), &users[1].token)
        .await;
    let rev = c["conversation"]["rev"].as_i64().unwrap();
    // created (1) + three seeds + the changes counted by the tasks.
    assert_eq!(rev as usize, 1 + 3 + made, "one rev per change, no gaps");
    let (all, _) = changes_since(nodes[0], &users[0], &id, 0).await;
    let mut seqs: Vec<i64> = all.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "seq gapless"
    );
    assert_eq!(seqs.len(), 1 + 3 + 24);
    let untouched: Vec<(i64, i64)> = {
        let mut v: Vec<(i64, i64)> = all
            .iter()
            .filter(|m| m["editedAt"].is_null() && m["reactions"] == json!([]))
            .map(|m| (m["seq"].as_i64().unwrap(), m["rev"].as_i64().unwrap()))
            .collect();
        v.sort();
        v
    };
    assert!(
        untouched.windows(2).all(|w| w[0].1 < w[1].1),
        "rev grows with seq: {untouched:?}"
    );
}

async fn concurrent_changes_on_one_node(app: TestApp) {
    concurrent_changes([&app, &app]).await;
}

on_both_backends!(concurrent_changes_on_one_node);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_on_two_nodes_of_one_postgresql() {
    let Some((node_a, node_b)) = TestApp::cluster().await else {
        return;
    };
    concurrent_changes([&node_a, &node_b]).await;
}
