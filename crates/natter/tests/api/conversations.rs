//! Conversations and history over HTTP: the directory, direct conversations,
//! gapless seq, keyset pages, idempotent sends, read marks, message limits,
//! membership, and the lobby's `POST /api/chat`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, on_both_backends};

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

fn usernames(page: &Value) -> Vec<&str> {
    let users = page["users"].as_array().unwrap();
    users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

fn seqs(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

async fn directory_search_and_paging(app: TestApp) {
    let me = app.register("zed").await;
    for name in ["anna", "annabel", "bob", "carla", "dan_x"] {
        app.register(name).await;
    }
    app.call(
        Method::PATCH,
        "/api/me",
        Some(&app.register("eve").await.token),
        Some(json!({"displayName": "Annie Eve"})),
    )
    .await;
    let (status, body) = app.get("/api/users", &me.token).await;
    assert_eq!(status, StatusCode::OK);
    let names = usernames(&body);
    assert_eq!(
        names,
        ["anna", "annabel", "bob", "carla", "dan_x", "eve"],
        "everyone but the caller, by username"
    );
    assert_eq!(body["nextCursor"], Value::Null);
    let user = &body["users"][0];
    for field in [
        "id",
        "username",
        "displayName",
        "avatarUrl",
        "statusMessage",
        "online",
        "lastSeenAt",
    ] {
        assert!(user.get(field).is_some(), "user object has {field}: {user}");
    }

    let (_, body) = app.get("/api/users?q=ANN", &me.token).await;
    let names = usernames(&body);
    assert_eq!(
        names,
        ["anna", "annabel", "eve"],
        "matches username or display name, any case"
    );
    let (_, body) = app.get("/api/users?q=_", &me.token).await;
    assert_eq!(
        body["users"].as_array().unwrap().len(),
        1,
        "LIKE wildcards are literal: {body}"
    );

    let (_, first) = app.get("/api/users?limit=2", &me.token).await;
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (_, second) = app
        .get(&format!("/api/users?limit=2&cursor={cursor}"), &me.token)
        .await;
    assert_eq!(second["users"][0]["username"], "bob");
    for bad in ["limit=0", "limit=101", "limit=-1"] {
        let (status, body) = app.get(&format!("/api/users?{bad}"), &me.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(error_code(&body), "invalid_limit");
    }
    let anna_id = first["users"][0]["id"].as_str().unwrap();
    let (status, body) = app.get(&format!("/api/users/{anna_id}"), &me.token).await;
    assert_eq!(
        (status, body["user"]["username"].as_str()),
        (StatusCode::OK, Some("anna"))
    );
    let (status, _) = app.get("/api/users/nope", &me.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn direct_conversation_is_one_per_pair(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, created) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"userId": bob.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let conversation = &created["conversation"];
    assert_eq!(conversation["kind"], "direct");
    assert_eq!(conversation["peer"]["id"], bob.id.as_str());
    assert_eq!(conversation["lastMessage"], Value::Null);
    assert_eq!(conversation["unreadCount"], 0);
    let (status, again) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"userId": bob.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["conversation"]["id"], conversation["id"]);
    let (status, theirs) = app
        .post(
            "/api/conversations",
            &bob.token,
            json!({"userId": alice.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the pair shares one conversation");
    assert_eq!(theirs["conversation"]["id"], conversation["id"]);
    assert_eq!(theirs["conversation"]["peer"]["id"], alice.id.as_str());

    let (status, body) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"userId": alice.id}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"userId": "no-such-user"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn outsiders_get_404_everywhere(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mallory = app.register("mallory").await;
    let id = app.direct(&alice, &bob).await;
    app.send(&alice, &id, "private", "c1").await;
    let routes = [
        (Method::GET, format!("/api/conversations/{id}"), None),
        (
            Method::GET,
            format!("/api/conversations/{id}/messages"),
            None,
        ),
        (
            Method::GET,
            format!("/api/conversations/{id}/messages?after=0"),
            None,
        ),
        (
            Method::POST,
            format!("/api/conversations/{id}/messages"),
            Some(json!({"msg": "hi", "clientId": "m1"})),
        ),
        (
            Method::POST,
            format!("/api/conversations/{id}/read"),
            Some(json!({"seq": 1})),
        ),
    ];
    for (method, path, body) in routes {
        let (status, answer) = app
            .call(method.clone(), &path, Some(&mallory.token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error_code(&answer), "not_found");
        assert!(!answer.to_string().contains("private"));
    }
    let (_, list) = app.get("/api/conversations", &mallory.token).await;
    let ids: Vec<&str> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lobby"], "only the lobby is listed for an outsider");
    let (status, _) = app
        .get("/api/conversations/does-not-exist/messages", &alice.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing was stored by the outsider.
    let (_, history) = app
        .get(&format!("/api/conversations/{id}/messages"), &alice.token)
        .await;
    assert_eq!(seqs(&history), [1]);
}

async fn seq_is_gapless_and_pages_are_keyset(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    for i in 1..=120 {
        let sender = if i % 3 == 0 { &bob } else { &alice };
        let message = app
            .send(sender, &id, &format!("m{i}"), &format!("c{i}"))
            .await;
        assert_eq!(message["seq"], i, "seq {i} follows without gaps");
        assert_eq!(message["user"], sender.username.as_str());
        assert_eq!(message["conversationId"], id.as_str());
    }
    let history = async |query: &str| {
        app.get(
            &format!("/api/conversations/{id}/messages{query}"),
            &alice.token,
        )
        .await
    };
    let (_, newest) = history("").await;
    assert_eq!(
        seqs(&newest),
        (71..=120).collect::<Vec<_>>(),
        "no cursor: the newest 50, ascending"
    );
    assert_eq!(newest["hasMore"], true);
    let (_, older) = history("?before=71&limit=50").await;
    assert_eq!(seqs(&older), (21..=70).collect::<Vec<_>>());
    assert_eq!(older["hasMore"], true);
    let (_, oldest) = history("?before=21&limit=50").await;
    assert_eq!(seqs(&oldest), (1..=20).collect::<Vec<_>>());
    assert_eq!(oldest["hasMore"], false);
    let (_, exact) = history("?before=21&limit=20").await;
    assert_eq!(seqs(&exact), (1..=20).collect::<Vec<_>>());
    assert_eq!(exact["hasMore"], false, "exactly the rest: nothing more");
    let (_, after) = history("?after=100&limit=10").await;
    assert_eq!(seqs(&after), (101..=110).collect::<Vec<_>>());
    assert_eq!(after["hasMore"], true);
    let (_, tail) = history("?after=110&limit=10").await;
    assert_eq!(seqs(&tail), (111..=120).collect::<Vec<_>>());
    assert_eq!(tail["hasMore"], false);
    let (_, none) = history("?after=120").await;
    assert_eq!(seqs(&none), Vec::<i64>::new());
    assert_eq!(none["hasMore"], false);
    let (_, between) = history("?after=10&before=15").await;
    assert_eq!(seqs(&between), [11, 12, 13, 14]);
    let (_, one) = history("?limit=1").await;
    assert_eq!(seqs(&one), [120]);
    assert_eq!(one["messages"][0]["msg"], "m120");
    for bad in ["?limit=0", "?limit=101", "?before=-1", "?after=-5"] {
        let (status, _) = history(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (_, page) = history("?after=0&limit=100").await;
    assert_eq!(seqs(&page), (1..=100).collect::<Vec<_>>());
}

async fn retried_send_is_idempotent(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let path = format!("/api/conversations/{id}/messages");
    let body = json!({"msg": "once", "clientId": "retry-1"});
    let (first_status, first) = app.post(&path, &alice.token, body.clone()).await;
    let (second_status, second) = app.post(&path, &alice.token, body).await;
    assert_eq!(
        (first_status, second_status),
        (StatusCode::CREATED, StatusCode::OK)
    );
    assert_eq!(
        first["message"], second["message"],
        "the stored message, unchanged"
    );
    let (status, _) = app
        .post(
            &path,
            &bob.token,
            json!({"msg": "mine", "clientId": "retry-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "clientIds are per sender");
    let (_, history) = app.get(&path, &alice.token).await;
    assert_eq!(seqs(&history), [1, 2]);
}

async fn message_limits(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let path = format!("/api/conversations/{id}/messages");
    let exact = "가".repeat(4000);
    let (status, body) = app
        .post(&path, &alice.token, json!({"msg": exact, "clientId": "a"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "4000 characters are allowed");
    assert_eq!(body["message"]["msg"], exact);
    let cases = [
        (
            json!({"msg": "x".repeat(4001), "clientId": "b"}),
            "message_too_long",
        ),
        (
            json!({"msg": " \n\t  ", "clientId": "c"}),
            "invalid_message",
        ),
        (json!({"msg": "", "clientId": "d"}), "invalid_message"),
        (json!({"msg": "ok", "clientId": ""}), "invalid_client_id"),
        (
            json!({"msg": "ok", "clientId": "c".repeat(65)}),
            "invalid_client_id",
        ),
        (
            json!({"msg": "nul \u{0} inside", "clientId": "g"}),
            "invalid_message",
        ),
        (
            json!({"msg": "control \u{1}", "clientId": "h"}),
            "invalid_message",
        ),
        (
            json!({"msg": "c1 \u{85}", "clientId": "i"}),
            "invalid_message",
        ),
        (
            json!({"msg": "ok", "clientId": "nul\u{0}"}),
            "invalid_client_id",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = app.post(&path, &alice.token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&answer), code);
    }
    let kept = "  <b>spaces</b> & \"quotes\"\n";
    let (_, body) = app
        .post(&path, &alice.token, json!({"msg": kept, "clientId": "e"}))
        .await;
    assert_eq!(body["message"]["msg"], kept, "kept exactly as sent");
    let (_, history) = app.get(&path, &alice.token).await;
    assert_eq!(seqs(&history), [1, 2], "rejected sends store nothing");
    assert_eq!(history["messages"][0]["msg"], exact);
    assert_eq!(
        history["messages"][1]["msg"], kept,
        "history gives it back byte for byte"
    );
    let odd = "emoji 🎉, tab\t, backslash \\, line separator \u{2028} and Hangul 한글";
    let sent = app.send(&alice, &id, odd, "f").await;
    let (_, history) = app.get(&format!("{path}?after=2"), &alice.token).await;
    assert_eq!(history["messages"][0], sent);
    assert_eq!(history["messages"][0]["msg"], odd);
}

async fn read_marks_never_move_backwards(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    for i in 1..=5 {
        app.send(&alice, &id, &format!("m{i}"), &format!("c{i}"))
            .await;
    }
    let conversation = async |user: &TestUser| {
        app.get(&format!("/api/conversations/{id}"), &user.token)
            .await
            .1["conversation"]
            .clone()
    };
    let bobs = conversation(&bob).await;
    assert_eq!(
        (bobs["unreadCount"].as_i64(), bobs["lastReadSeq"].as_i64()),
        (Some(5), Some(0))
    );
    assert_eq!(bobs["lastMessage"]["seq"], 5);
    let alices = conversation(&alice).await;
    assert_eq!(alices["unreadCount"], 0, "own messages are not unread");
    assert_eq!(alices["peerLastReadSeq"], 0);

    let read = async |seq: i64| {
        app.post(
            &format!("/api/conversations/{id}/read"),
            &bob.token,
            json!({"seq": seq}),
        )
        .await
    };
    assert_eq!(read(3).await.0, StatusCode::NO_CONTENT);
    assert_eq!(read(2).await.0, StatusCode::NO_CONTENT);
    let bobs = conversation(&bob).await;
    assert_eq!(
        (bobs["unreadCount"].as_i64(), bobs["lastReadSeq"].as_i64()),
        (Some(2), Some(3)),
        "not moved back to 2"
    );
    assert_eq!(conversation(&alice).await["peerLastReadSeq"], 3);
    let (status, body) = read(6).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "beyond the last message: {body}"
    );
    assert_eq!(read(-1).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(read(5).await.0, StatusCode::NO_CONTENT);
    assert_eq!(conversation(&bob).await["unreadCount"], 0);
}

async fn list_orders_by_recent_activity(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let with_bob = app.direct(&alice, &bob).await;
    let with_carol = app.direct(&alice, &carol).await;
    app.send(&bob, &with_bob, "hi alice", "b1").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.send(&carol, &with_carol, "hey", "c1").await;
    let ids = |body: &Value| -> Vec<String> {
        body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, list) = app.get("/api/conversations", &alice.token).await;
    assert_eq!(
        ids(&list),
        [with_carol.clone(), with_bob.clone(), "lobby".into()]
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.send(&bob, &with_bob, "again", "b2").await;
    let (_, list) = app.get("/api/conversations", &alice.token).await;
    assert_eq!(ids(&list), [with_bob.clone(), with_carol, "lobby".into()]);
    let first = &list["conversations"][0];
    assert_eq!(first["lastMessage"]["msg"], "again");
    assert_eq!(first["unreadCount"], 2);
    assert_eq!(first["peer"]["username"], "bob");
    for field in [
        "id",
        "kind",
        "peer",
        "lastMessage",
        "unreadCount",
        "lastReadSeq",
        "peerLastReadSeq",
        "createdAt",
    ] {
        assert!(first.get(field).is_some(), "conversation has {field}");
    }
}

async fn lobby_chat_endpoint(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, body) = app
        .post(
            "/api/chat",
            &alice.token,
            json!({"msg": "hello all", "user": "bob"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let message = &body["message"];
    assert_eq!(
        message["user"], "alice",
        "the sender is the signed-in user, never a name from the body"
    );
    assert_eq!(message["conversationId"], "lobby");
    assert!(message["createdAt"].as_i64().unwrap() > 1_700_000_000_000);
    let (status, _) = app
        .post("/api/chat", &bob.token, json!({"msg": "   "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/chat",
            None,
            Some(json!({"msg": "anon"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, history) = app
        .get("/api/conversations/lobby/messages", &bob.token)
        .await;
    assert_eq!(seqs(&history), [1]);
    assert_eq!(history["messages"][0]["msg"], "hello all");
    let (_, lobby) = app.get("/api/conversations/lobby", &bob.token).await;
    assert_eq!(lobby["conversation"]["kind"], "lobby");
    assert_eq!(lobby["conversation"]["peer"], Value::Null);
    assert_eq!(lobby["conversation"]["unreadCount"], 1);
}

/// Sends that reach the writer together (one commit) are answered as if each
/// came alone: a clientId sent twice at once is stored once and both answers
/// carry that message; a blocked pair's sends are refused among the others;
/// every conversation's seqs stay gapless.
async fn concurrent_sends_with_repeats_and_blocks(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let with_bob = app.direct(&alice, &bob).await;
    let with_carol = app.direct(&alice, &carol).await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/me/blocks/{}", alice.id),
            Some(&carol.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let client = reqwest::Client::new();
    let send = |conversation: String, token: String, msg: String, client_id: String| {
        let (client, base) = (client.clone(), app.base.clone());
        tokio::spawn(async move {
            let response = client
                .post(format!("{base}/api/conversations/{conversation}/messages"))
                .bearer_auth(token)
                .json(&json!({"msg": msg, "clientId": client_id}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    let mut sends = Vec::new();
    for i in 0..40 {
        // Every clientId twice, at once: 20 messages to bob.
        let client_id = format!("twice-{}", i / 2);
        sends.push((
            "bob",
            i / 2,
            send(
                with_bob.clone(),
                alice.token.clone(),
                format!("m{}", i / 2),
                client_id,
            ),
        ));
        if i % 4 == 0 {
            sends.push((
                "carol",
                i,
                send(
                    with_carol.clone(),
                    alice.token.clone(),
                    format!("c{i}"),
                    format!("c{i}"),
                ),
            ));
        }
    }
    let mut stored: std::collections::HashMap<usize, Vec<Value>> = Default::default();
    for (to, n, send) in sends {
        let (status, body) = send.await.unwrap();
        match to {
            "carol" => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
                assert_eq!(error_code(&body), "blocked");
            }
            _ => {
                assert!(
                    status == StatusCode::CREATED || status == StatusCode::OK,
                    "{status} {body}"
                );
                stored.entry(n).or_default().push(body["message"].clone());
            }
        }
    }
    for (n, answers) in &stored {
        assert_eq!(answers.len(), 2);
        assert_eq!(
            answers[0], answers[1],
            "both sends of twice-{n} answer one message"
        );
        assert_eq!(answers[0]["msg"], format!("m{n}"));
    }
    let (_, history) = app
        .get(
            &format!("/api/conversations/{with_bob}/messages"),
            &alice.token,
        )
        .await;
    assert_eq!(
        seqs(&history),
        (1..=20).collect::<Vec<_>>(),
        "once each, gapless"
    );
    let mut revs: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rev"].as_i64().unwrap())
        .collect();
    revs.sort_unstable();
    assert_eq!(revs, (1..=20).collect::<Vec<_>>());
    let (_, history) = app
        .get(
            &format!("/api/conversations/{with_carol}/messages"),
            &alice.token,
        )
        .await;
    assert_eq!(
        seqs(&history),
        Vec::<i64>::new(),
        "nothing to the blocked pair"
    );
}

on_both_backends!(
    directory_search_and_paging,
    direct_conversation_is_one_per_pair,
    outsiders_get_404_everywhere,
    seq_is_gapless_and_pages_are_keyset,
    retried_send_is_idempotent,
    concurrent_sends_with_repeats_and_blocks,
    message_limits,
    read_marks_never_move_backwards,
    list_orders_by_recent_activity,
    lobby_chat_endpoint,
);
