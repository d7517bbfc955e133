//! Groups over HTTP and Socket.IO: creating one, messages, renaming, adding and
//! removing members (a removed member's open socket gets nothing more and HTTP
//! answers 404), ownership passing on, per-member unread counts, and every bad
//! input's error.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSocket, TestUser, on_both_backends};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn create_group(app: &TestApp, owner: &TestUser, title: &str, others: &[&TestUser]) -> Value {
    let ids: Vec<&str> = others.iter().map(|u| u.id.as_str()).collect();
    let (status, body) = app
        .post(
            "/api/conversations",
            &owner.token,
            json!({"kind": "group", "title": title, "userIds": ids}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["conversation"].clone()
}

/// The next `message` and the next `conversation` event, in whichever order
/// they come (the writer announces one, the group service the other).
async fn message_and_conversation(socket: &TestSocket) -> (Value, Value) {
    let (mut message, mut conversation) = (None, None);
    while message.is_none() || conversation.is_none() {
        match socket.next_of(&["message", "conversation"]).await {
            (name, m) if name == "message" => message = Some(m),
            (_, c) => conversation = Some(c),
        }
    }
    (message.unwrap(), conversation.unwrap())
}

async fn member_ids(app: &TestApp, user: &TestUser, id: &str) -> Vec<String> {
    let (status, body) = app
        .get(&format!("/api/conversations/{id}/members"), &user.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_over_socket_io_and_a_removed_member_hears_nothing_more() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let (a, b, c, d) = (
        app.socket(&alice.token).await,
        app.socket(&bob.token).await,
        app.socket(&carol.token).await,
        app.socket(&dave.token).await,
    );

    let group = create_group(&app, &alice, "  Team  ", &[&bob, &carol]).await;
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["kind"], "group");
    assert_eq!(group["title"], "Team", "trimmed");
    assert_eq!(group["ownerId"], alice.id.as_str());
    assert_eq!(group["memberCount"], 3);
    assert_eq!(group["peer"], Value::Null);
    for socket in [&a, &b, &c] {
        let seen = socket.next("conversation").await;
        assert_eq!(seen["id"], id.as_str());
        let created = socket.next("message").await;
        assert_eq!(created["type"], "system");
        assert_eq!(created["seq"], 1);
        assert_eq!(created["system"]["action"], "created");
        assert_eq!(created["system"]["title"], "Team");
        assert_eq!(created["system"]["userIds"], json!([bob.id, carol.id]));
    }

    let ack = a
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "hi all", "clientId": "g1"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["type"], "text");
    for socket in [&a, &b, &c] {
        assert_eq!(socket.next("message").await, ack["message"]);
    }

    let (status, renamed) = app
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(&bob.token),
            Some(json!({"title": "Team 2"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "any member renames: {renamed}");
    assert_eq!(renamed["conversation"]["title"], "Team 2");
    for socket in [&a, &b, &c] {
        let (m, conversation) = message_and_conversation(socket).await;
        assert_eq!(
            (m["seq"].clone(), m["system"]["action"].clone()),
            (json!(3), json!("title_changed"))
        );
        assert_eq!(conversation["title"], "Team 2");
    }

    let (status, added) = app
        .post(
            &format!("/api/conversations/{id}/members"),
            &carol.token,
            json!({"userIds": [dave.id, bob.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["conversation"]["memberCount"], 4);
    let (m, joined) = message_and_conversation(&d).await;
    assert_eq!(joined["id"], id.as_str());
    assert_eq!(m["system"]["action"], "members_added");
    assert_eq!(
        m["system"]["userIds"],
        json!([dave.id]),
        "only the newly added"
    );
    let (_, history) = app
        .get(&format!("/api/conversations/{id}/messages"), &dave.token)
        .await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        4,
        "the whole history"
    );

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/conversations/{id}/members/{}", carol.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (earlier, _) = message_and_conversation(&c).await;
    assert_eq!(
        earlier["system"]["action"], "members_added",
        "the earlier change first"
    );
    let (removed, conversation) = message_and_conversation(&c).await;
    assert_eq!(removed["system"]["action"], "member_removed");
    assert_eq!(removed["system"]["userIds"], json!([carol.id]));
    assert_eq!(conversation["id"], id.as_str());

    let after = app.send(&alice, &id, "after carol", "g2").await;
    for socket in [&b, &d] {
        loop {
            let m = socket.next("message").await;
            if m["seq"] == after["seq"] {
                break;
            }
        }
    }
    assert!(
        c.try_next("message", Duration::from_millis(500))
            .await
            .is_none(),
        "the removed member's socket gets nothing more"
    );
    for path in [
        format!("/api/conversations/{id}"),
        format!("/api/conversations/{id}/messages"),
        format!("/api/conversations/{id}/members"),
    ] {
        let (status, body) = app.get(&path, &carol.token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (_, list) = app.get("/api/conversations", &carol.token).await;
    assert!(
        !list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str()),
        "the group left carol's list"
    );
    let ack = c
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "still here?", "clientId": "g3"}),
        )
        .await;
    assert_eq!(code(&ack), "not_found");
    let typing = c.emit_ack("typing", json!({"conversationId": id})).await;
    assert_eq!(code(&typing), "not_found");
    assert_eq!(
        member_ids(&app, &bob, &id).await,
        [alice.id.clone(), bob.id.clone(), dave.id.clone()]
    );
}

async fn ownership_unread_and_errors(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = create_group(&app, &alice, "Trio", &[&bob, &carol]).await;
    let id = group["id"].as_str().unwrap();

    app.send(&alice, id, "one", "u1").await;
    app.send(&alice, id, "two", "u2").await;
    let (_, seen_by_bob) = app
        .get(&format!("/api/conversations/{id}"), &bob.token)
        .await;
    assert_eq!(
        seen_by_bob["conversation"]["unreadCount"], 3,
        "created + two"
    );
    let (_, seen_by_alice) = app
        .get(&format!("/api/conversations/{id}"), &alice.token)
        .await;
    assert_eq!(seen_by_alice["conversation"]["unreadCount"], 0);
    let (status, _) = app
        .post(
            &format!("/api/conversations/{id}/read"),
            &bob.token,
            json!({"seq": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, members) = app
        .get(&format!("/api/conversations/{id}/members"), &carol.token)
        .await;
    let bob_entry = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == bob.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(bob_entry["lastReadSeq"], 2);
    assert!(bob_entry["joinedAt"].as_i64().unwrap() > 0);

    let remove = |who: &TestUser, target: &TestUser| {
        let path = format!("/api/conversations/{id}/members/{}", target.id);
        let token = who.token.clone();
        let app = &app;
        async move { app.call(Method::DELETE, &path, Some(&token), None).await }
    };
    let (status, body) = remove(&bob, &carol).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_owner"));
    let (status, _) = remove(&alice, &alice).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the owner leaves");
    let (_, now) = app
        .get(&format!("/api/conversations/{id}"), &bob.token)
        .await;
    assert_eq!(
        now["conversation"]["ownerId"],
        bob.id.as_str(),
        "the longest-standing member"
    );
    assert_eq!(now["conversation"]["memberCount"], 2);
    let (status, body) = remove(&bob, &carol).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "the new owner removes: {body}"
    );
    let (_, history) = app
        .get(&format!("/api/conversations/{id}/messages"), &bob.token)
        .await;
    let actions: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["system"]["action"].as_str().unwrap_or("text"))
        .collect();
    assert_eq!(
        actions,
        ["created", "text", "text", "member_left", "member_removed"]
    );

    // Acting on a group you left: 404 everywhere.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(&alice.token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/conversations/{id}/messages"),
            &alice.token,
            json!({"msg": "hi", "clientId": "u3"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/conversations/{id}/members"),
            &alice.token,
            json!({"userIds": [alice.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not even to re-add yourself");
    let (status, _) = remove(&alice, &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input.
    let (status, body) = app
        .post(
            &format!("/api/conversations/{id}/members"),
            &bob.token,
            json!({"userIds": ["0123456789abcdef0123456789abcdef"]}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "an unknown user"
    );
    let (status, body) = app
        .post(
            "/api/conversations",
            &bob.token,
            json!({"kind": "group", "title": "", "userIds": [alice.id]}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_title")
    );
    let (status, body) = app
        .post(
            "/api/conversations",
            &bob.token,
            json!({"kind": "group", "title": "Solo", "userIds": []}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_members")
    );
    let too_many: Vec<String> = (0..256).map(|i| format!("{i:032x}")).collect();
    let (status, body) = app
        .post(
            "/api/conversations",
            &bob.token,
            json!({"kind": "group", "title": "Crowd", "userIds": too_many}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_members")
    );
    let direct = app.direct(&alice, &bob).await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/conversations/{direct}"),
            Some(&bob.token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_group")
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/conversations/lobby",
            Some(&bob.token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_group")
    );
    let (_, direct_view) = app
        .get(&format!("/api/conversations/{direct}"), &bob.token)
        .await;
    assert_eq!(direct_view["conversation"]["memberCount"], 2);
    assert_eq!(direct_view["conversation"]["title"], Value::Null);
}

on_both_backends!(ownership_unread_and_errors);
