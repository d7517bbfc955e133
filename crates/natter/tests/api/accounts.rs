//! Accounts over HTTP: register, sign in, sign out, sessions, profile limits, CSRF,
//! throttling and the error shape for malformed input.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSocket, on_both_backends};

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

async fn register_login_logout(app: TestApp) {
    let alice = app.register("Alice").await;
    assert_eq!(alice.username, "Alice");
    let (status, me) = app.get("/api/me", &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me["user"]["username"], "alice",
        "usernames are stored lower-case"
    );
    assert_eq!(
        me["user"]["displayName"], "alice",
        "display name defaults to the username"
    );
    assert_eq!(me["user"]["avatarUrl"], Value::Null);
    assert_eq!(me["user"]["statusMessage"], "");

    let (status, body) = app.login("ALICE", "wrong password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "invalid_credentials");
    let (status, body) = app.login("nobody", "correct horse").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "invalid_credentials");

    let (status, body) = app.login("alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["token"].as_str().unwrap().to_owned();
    assert_ne!(second, alice.token);
    assert_eq!(body["user"]["id"], alice.id.as_str());

    let (status, _) = app
        .call(Method::POST, "/api/auth/logout", Some(&alice.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/me", &alice.token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logged-out token stops working"
    );
    assert_eq!(error_code(&body), "unauthorized");
    let (status, _) = app.get("/api/me", &second).await;
    assert_eq!(status, StatusCode::OK, "other sessions live on");
    let (status, _) = app.call(Method::GET, "/api/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn registration_rules(app: TestApp) {
    app.register("taken").await;
    for (username, password, code, status) in [
        (
            "TAKEN",
            "correct horse",
            "username_taken",
            StatusCode::CONFLICT,
        ),
        (
            "ab",
            "correct horse",
            "invalid_username",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &"a".repeat(33) as &str,
            "correct horse",
            "invalid_username",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "bad name",
            "correct horse",
            "invalid_username",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "émile",
            "correct horse",
            "invalid_username",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "shorty",
            "1234567",
            "invalid_password",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "longpw",
            &"p".repeat(257),
            "invalid_password",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, body) = app
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(got, status, "{username}: {body}");
        assert_eq!(error_code(&body), code, "{username}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // The edges that are allowed.
    app.register(&"a".repeat(32)).await;
    app.register("a_b.c-9").await;
    let (status, body) = app
        .call(Method::POST, "/api/auth/register", None, Some(json!({"username": "named", "password": "12345678", "displayName": "  Named One  "})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["displayName"], "Named One");
}

async fn malformed_requests_get_the_error_shape(app: TestApp) {
    let alice = app.register("alice").await;
    let cases: Vec<(&str, &str, Option<&str>, StatusCode, &str)> = vec![
        (
            "/api/auth/register",
            "{\"username\": ",
            None,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/auth/register",
            "[1,2,3]",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "/api/auth/register",
            "{\"username\": 5, \"password\": \"x\"}",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "/api/chat",
            "not json",
            Some(&alice.token),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/conversations",
            "{}",
            Some(&alice.token),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (path, body, token, status, code) in cases {
        let mut request = app
            .http()
            .post(format!("{}{path}", app.base))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{path} {body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(error_code(&json), code, "{path} {body}");
    }
    // Wrong content type, oversized body, unknown route, wrong method.
    let response = app
        .http()
        .post(format!("{}/api/chat", app.base))
        .bearer_auth(&alice.token)
        .body("{\"msg\": \"hi\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Its own client: the server closes a connection whose body it refused unread.
    let response = reqwest::Client::new()
        .post(format!("{}/api/chat", app.base))
        .bearer_auth(&alice.token)
        .json(&json!({ "msg": "x".repeat(200_000) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "payload_too_large");
    let (status, body) = app.get("/api/nothing-here", &alice.token).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = app
        .call(Method::DELETE, "/api/chat", Some(&alice.token), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = app
        .get("/api/conversations/lobby/messages?limit=abc", &alice.token)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
}

async fn cookie_sessions_need_same_origin_for_writes(app: TestApp) {
    let response = app
        .http()
        .post(format!("{}/api/auth/register", app.base))
        .json(&json!({"username": "cookie", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let me = app
        .http()
        .get(format!("{}/api/me", app.base))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the cookie alone authenticates reads"
    );

    let post = |origin: Option<String>| {
        let mut request = app
            .http()
            .post(format!("{}/api/chat", app.base))
            .header(header::COOKIE, &cookie)
            .json(&json!({"msg": "via cookie"}));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send()
    };
    let response = post(None).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "no Origin: refused"
    );
    let response = post(Some("http://evil.example".into())).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "foreign Origin: refused"
    );
    let response = post(Some(app.base.clone())).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "same Origin: accepted"
    );
}

async fn login_failures_are_throttled(app: TestApp) {
    app.register("target").await;
    for _ in 0..10 {
        let (status, _) = app.login("target", "bad guess!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .http()
        .post(format!("{}/api/auth/login", app.base))
        .json(&json!({"username": "target", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "too_many_requests");
}

async fn profile_edits_and_limits(app: TestApp) {
    let alice = app.register("alice").await;
    let patch = |body: Value| app.call(Method::PATCH, "/api/me", Some(&alice.token), Some(body));
    let (status, body) =
        patch(json!({"displayName": "  Alice A.  ", "statusMessage": "away"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["displayName"], "Alice A.");
    assert_eq!(body["user"]["statusMessage"], "away");
    let (status, body) = patch(json!({"statusMessage": "s".repeat(140)})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["user"]["displayName"], "Alice A.",
        "absent fields stay"
    );
    for (body, code) in [
        (
            json!({"statusMessage": "s".repeat(141)}),
            "invalid_status_message",
        ),
        (json!({"displayName": "   "}), "invalid_display_name"),
        (
            json!({"displayName": "d".repeat(65)}),
            "invalid_display_name",
        ),
    ] {
        let (status, answer) = patch(body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&answer), code);
    }
    let (status, body) = patch(json!({"displayName": "d".repeat(64)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn password_change_ends_other_sessions(app: TestApp) {
    let alice = app.register("alice").await;
    let (_, login) = app.login("alice", "correct horse").await;
    let other = login["token"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            "/api/me/password",
            &alice.token,
            json!({"currentPassword": "not it at all", "newPassword": "battery staple"}),
        )
        .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
        "{status} {body}"
    );
    let (status, _) = app
        .post(
            "/api/me/password",
            &alice.token,
            json!({"currentPassword": "correct horse", "newPassword": "battery staple"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &other).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        TestSocket::connect(
            &app.base,
            Some(json!({"token": other})),
            rust_socketio::TransportType::Websocket
        )
        .await
        .is_err(),
        "the ended session cannot connect either"
    );
    assert_eq!(app.get("/api/me", &alice.token).await.0, StatusCode::OK);
    let (status, _) = app.login("alice", "battery staple").await;
    assert_eq!(status, StatusCode::OK);
}

on_both_backends!(
    register_login_logout,
    registration_rules,
    malformed_requests_get_the_error_shape,
    cookie_sessions_need_same_origin_for_writes,
    login_failures_are_throttled,
    profile_edits_and_limits,
    password_change_ends_other_sessions,
);
