//! `PUT /api/conversations/{id}/mute` on both databases: stored per member,
//! shown as `muted` in the conversation object, idempotent, only for members.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, on_both_backends};

async fn mute(app: &TestApp, user: &TestUser, id: &str, muted: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/api/conversations/{id}/mute"),
        Some(&user.token),
        Some(json!({ "muted": muted })),
    )
    .await
}

/// `muted` of each of the user's conversations, by id.
async fn muted_in_list(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let (status, body) = app.get("/api/conversations", &user.token).await;
    assert_eq!(status, StatusCode::OK);
    let list = body["conversations"].as_array().unwrap();
    list.iter().find(|c| c["id"] == id).unwrap()["muted"].clone()
}

async fn muting_is_per_member_and_idempotent(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let id = app.direct(&alice, &bob).await;
    assert_eq!(muted_in_list(&app, &alice, &id).await, false);

    for _ in 0..2 {
        let (status, body) = mute(&app, &alice, &id, json!(true)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["conversation"]["muted"], true);
        assert_eq!(body["conversation"]["id"], id.as_str());
    }
    assert_eq!(muted_in_list(&app, &alice, &id).await, true);
    assert_eq!(muted_in_list(&app, &bob, &id).await, false, "per member");
    let (_, body) = app
        .get(&format!("/api/conversations/{id}"), &alice.token)
        .await;
    assert_eq!(body["conversation"]["muted"], true);

    let (status, body) = mute(&app, &alice, "lobby", json!(true)).await;
    assert_eq!(
        (status, &body["conversation"]["muted"]),
        (StatusCode::OK, &json!(true))
    );
    assert_eq!(muted_in_list(&app, &bob, "lobby").await, false);

    for _ in 0..2 {
        let (status, body) = mute(&app, &alice, &id, json!(false)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["conversation"]["muted"], false);
    }
    assert_eq!(muted_in_list(&app, &alice, &id).await, false);

    let (status, body) = mute(&app, &carol, &id, json!(true)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a member: {body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = mute(&app, &alice, "no-such-id", json!(true)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = mute(&app, &alice, &id, json!("yes")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_body");
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/conversations/{id}/mute"),
            None,
            Some(json!({"muted": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

on_both_backends!(muting_is_per_member_and_idempotent);
