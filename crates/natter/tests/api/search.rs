//! `GET /api/search` on both databases: Korean inside words, English in any
//! case, two-character queries (below the trigram index), only the caller's
//! current conversations, edits and deletes, paging, and every bad input.

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, on_both_backends};

/// `/api/search` with its query string encoded.
fn search_path(params: &[(&str, &str)]) -> String {
    let url = Url::parse_with_params("http://natter/api/search", params).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

async fn search(app: &TestApp, user: &TestUser, params: &[(&str, &str)]) -> (StatusCode, Value) {
    app.get(&search_path(params), &user.token).await
}

/// The texts found for `q`, newest first (one page of up to 50).
async fn found(app: &TestApp, user: &TestUser, q: &str) -> Vec<String> {
    let (status, body) = search(app, user, &[("q", q), ("limit", "50")]).await;
    assert_eq!(status, StatusCode::OK, "{q}: {body}");
    assert_eq!(body["nextCursor"], Value::Null);
    texts(&body)
}

fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg"].as_str().unwrap().to_owned())
        .collect()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn korean_english_and_short_queries(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    app.send(&alice, &id, "우리 채팅방에서 만나요", "k1").await;
    app.send(&bob, &id, "Hello World from Natter", "e1").await;
    app.send(&bob, &id, "다른 이야기", "k2").await;
    app.send(&alice, &id, "50% off_sale", "p1").await;

    assert_eq!(found(&app, &bob, "채팅").await, ["우리 채팅방에서 만나요"]);
    assert_eq!(
        found(&app, &bob, "채팅방에서").await,
        ["우리 채팅방에서 만나요"]
    );
    assert_eq!(
        found(&app, &alice, "hello world").await,
        ["Hello World from Natter"]
    );
    assert_eq!(
        found(&app, &alice, "WORLD").await,
        ["Hello World from Natter"]
    );
    assert_eq!(
        found(&app, &alice, "  nAtT ").await,
        ["Hello World from Natter"]
    );
    // Two characters are below the trigram minimum: the fallback finds them.
    assert_eq!(found(&app, &alice, "LO").await, ["Hello World from Natter"]);
    assert_eq!(found(&app, &alice, "이야").await, ["다른 이야기"]);
    // Wildcards and quotes are plain characters.
    assert_eq!(found(&app, &alice, "0%").await, ["50% off_sale"]);
    assert_eq!(found(&app, &alice, "f_s").await, ["50% off_sale"]);
    assert!(found(&app, &alice, "o%f").await.is_empty());
    assert!(found(&app, &alice, "\"OR\"").await.is_empty());
    assert!(found(&app, &alice, "없는말").await.is_empty());

    // Trimmed before counting; a result is the whole message object.
    let (status, page) = search(&app, &alice, &[("q", "o ")]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "trimmed to one: {page}"
    );
    let (status, page) = search(&app, &alice, &[("q", "er")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"][0]["conversationId"], id.as_str());
    assert_eq!(page["messages"][0]["seq"], 2);
    assert_eq!(page["messages"][0]["senderId"], bob.id.as_str());
}

async fn only_the_callers_current_conversations(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let ours = app.direct(&alice, &bob).await;
    let theirs = app.direct(&bob, &carol).await;
    app.send(&alice, &ours, "secret plan A", "a1").await;
    app.send(&bob, &theirs, "secret plan B", "b1").await;
    app.send(&carol, "lobby", "secret plan lobby", "l1").await;
    let (status, group) = app
        .post(
            "/api/conversations",
            &carol.token,
            json!({"kind": "group", "title": "g", "userIds": [alice.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group = group["conversation"]["id"].as_str().unwrap().to_owned();
    app.send(&carol, &group, "secret plan group", "g1").await;

    assert_eq!(
        found(&app, &alice, "secret plan").await,
        ["secret plan group", "secret plan lobby", "secret plan A"]
    );
    assert_eq!(found(&app, &alice, "an").await.len(), 3, "the fallback too");

    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/conversations/{group}/members/{}", alice.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        found(&app, &alice, "secret plan").await,
        ["secret plan lobby", "secret plan A"],
        "a group left is no longer searched"
    );
    assert_eq!(found(&app, &alice, "an").await.len(), 2);

    let (status, page) = search(&app, &alice, &[("q", "secret"), ("conversationId", &ours)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page), ["secret plan A"]);
    for foreign in [theirs.as_str(), group.as_str(), "no-such-thing", "bad id!"] {
        let (status, body) = search(
            &app,
            &alice,
            &[("q", "secret"), ("conversationId", foreign)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{foreign}: {body}");
        assert_eq!(code(&body), "not_found");
    }
}

async fn edits_and_deletes_change_what_is_found(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    app.send(&alice, &id, "meet at the old café", "m1").await;
    app.send(&alice, &id, "remove this 비밀번호", "m2").await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}/messages/1"),
            Some(&alice.token),
            Some(json!({"msg": "meet at the new bar"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/conversations/{id}/messages/2"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert!(
        found(&app, &bob, "old café").await.is_empty(),
        "pre-edit text"
    );
    assert!(
        found(&app, &bob, "ol").await.is_empty(),
        "pre-edit text, fallback"
    );
    assert_eq!(found(&app, &bob, "new bar").await, ["meet at the new bar"]);
    assert_eq!(found(&app, &bob, "ba").await, ["meet at the new bar"]);
    for q in ["비밀번호", "비밀", "remove this"] {
        assert!(found(&app, &bob, q).await.is_empty(), "deleted: {q}");
    }
    // System messages (the group's `created` line) are never results.
    let (status, _) = app
        .post(
            "/api/conversations",
            &alice.token,
            json!({"kind": "group", "title": "new bar crew", "userIds": [bob.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(found(&app, &bob, "new bar").await, ["meet at the new bar"]);
}

async fn pages_by_cursor_newest_first(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    for n in 1..=7 {
        app.send(&alice, &id, &format!("검색 테스트 {n}"), &format!("c{n}"))
            .await;
        app.send(&bob, "lobby", &format!("검색 로비 {n}"), &format!("l{n}"))
            .await;
    }
    for q in ["검색", "검색 "] {
        for limit in ["1", "3", "50"] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut params = vec![("q", q), ("limit", limit)];
                if let Some(c) = &cursor {
                    params.push(("cursor", c));
                }
                let (status, page) = search(&app, &alice, &params).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                let n = page["messages"].as_array().unwrap().len();
                assert!(n <= limit.parse().unwrap());
                seen.extend(texts(&page));
                match page["nextCursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let expected: Vec<String> = (1..=7)
                .rev()
                .flat_map(|n| [format!("검색 로비 {n}"), format!("검색 테스트 {n}")])
                .collect();
            assert_eq!(seen, expected, "q={q:?} limit={limit}");
        }
    }
    let (status, page) = search(&app, &alice, &[("q", "검색")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"].as_array().unwrap().len(), 14, "default 20");
}

async fn bad_input_is_refused(app: TestApp) {
    let alice = app.register("alice").await;
    let long = "가".repeat(101);
    for q in ["", "a", "  b  ", long.as_str(), "a\u{7}b"] {
        let (status, body) = search(&app, &alice, &[("q", q)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q:?}: {body}");
        assert_eq!(code(&body), "invalid_search_query");
    }
    let (status, body) = app.get("/api/search", &alice.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no q: {body}");
    let (status, _) = search(&app, &alice, &[("q", &"가".repeat(100))]).await;
    assert_eq!(status, StatusCode::OK);
    for limit in ["0", "51", "-1"] {
        let (status, body) = search(&app, &alice, &[("q", "ab"), ("limit", limit)]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit {limit}: {body}"
        );
        assert_eq!(code(&body), "invalid_limit");
    }
    for limit in ["1", "50"] {
        let (status, _) = search(&app, &alice, &[("q", "ab"), ("limit", limit)]).await;
        assert_eq!(status, StatusCode::OK);
    }
    for cursor in ["garbage!", "MTJh"] {
        let (status, body) = search(&app, &alice, &[("q", "ab"), ("cursor", cursor)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{cursor}: {body}");
        assert_eq!(code(&body), "invalid_cursor");
    }
    let (status, _) = app
        .call(Method::GET, &search_path(&[("q", "ab")]), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    korean_english_and_short_queries,
    only_the_callers_current_conversations,
    edits_and_deletes_change_what_is_found,
    pages_by_cursor_newest_first,
    bad_input_is_refused,
);
