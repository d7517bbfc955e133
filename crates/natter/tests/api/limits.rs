//! Rate limits and sign-in limits through the public surface: each write
//! flooded past its bucket gets `rate_limited` (HTTP 429 + `Retry-After`, the
//! socket ack with `retryAfterMs`), `typing` is coalesced, an unchanged read
//! mark is not announced, failed sign-ins lock an account and an address,
//! `X-Forwarded-For` counts only from a trusted proxy, the socket cap, and a
//! password change that no concurrent sign-in outlives.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use natter::config::Config;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSocket, on_both_backends_with};

/// Runs one scenario on SQLite with settings changed by `configure`.
macro_rules! on_sqlite_with {
    ($configure:expr => $($scenario:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $scenario() {
            super::$scenario(TestApp::sqlite_with($configure).await).await;
        }
    )*};
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn assert_up(app: &TestApp) {
    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "the server is still up");
}

/// A request with `X-Forwarded-For`; returns the status, `Retry-After` and body.
async fn forwarded(
    app: &TestApp,
    path: &str,
    forwarded_for: &str,
    body: Value,
) -> (StatusCode, Option<u64>, Value) {
    let response = app
        .http()
        .post(format!("{}{path}", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn sign_up_from(
    app: &TestApp,
    username: &str,
    from: &str,
) -> (StatusCode, Option<u64>, Value) {
    let body = json!({"username": username, "password": "correct horse"});
    forwarded(app, "/api/auth/register", from, body).await
}

async fn sign_in_from(
    app: &TestApp,
    username: &str,
    password: &str,
    from: &str,
) -> (StatusCode, Option<u64>, Value) {
    let body = json!({"username": username, "password": password});
    forwarded(app, "/api/auth/login", from, body).await
}

/// Sends over the socket until one is refused; returns that ack.
async fn socket_sends_until_refused(socket: &TestSocket, conversation: &str) -> Value {
    for i in 0..50 {
        let payload = json!({"conversationId": conversation, "msg": format!("s{i}"), "clientId": format!("s{i}")});
        let ack = socket.emit_ack("message:send", payload).await;
        if ack["ok"] != true {
            return ack;
        }
    }
    panic!("50 socket sends, none refused");
}

async fn floods_are_refused_with_a_wait(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let conversation = app.direct(&alice, &bob).await;
    let socket = app.socket(&alice.token).await;

    let ack = socket_sends_until_refused(&socket, &conversation).await;
    assert_eq!(code(&ack), "rate_limited", "{ack}");
    let wait = ack["error"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!((1..=1_000).contains(&wait), "retryAfterMs {wait}");

    let url = format!("/api/conversations/{conversation}/messages");
    let response = app
        .http()
        .post(format!("{}{url}", app.base))
        .bearer_auth(&alice.token)
        .json(&json!({"msg": "http", "clientId": "h1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");
    assert!(body["error"]["retryAfterMs"].as_u64().is_some(), "{body}");

    // Read marks and profile changes have buckets of their own.
    let read =
        |seq: i64| socket.emit_ack("read", json!({"conversationId": conversation, "seq": seq}));
    for _ in 0..3 {
        assert_eq!(read(1).await["ok"], true);
    }
    let ack = read(1).await;
    assert_eq!(code(&ack), "rate_limited", "{ack}");
    assert!(
        ack["error"]["retryAfterMs"].as_u64().unwrap() > 1_000,
        "{ack}"
    );
    let patch = || {
        app.call(
            Method::PATCH,
            "/api/me",
            Some(&alice.token),
            Some(json!({"statusMessage": "hi"})),
        )
    };
    for _ in 0..2 {
        assert_eq!(patch().await.0, StatusCode::OK);
    }
    let (status, body) = patch().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");

    // Bob's buckets are his own, and the server is fine.
    let sent = app.send(&bob, &conversation, "still fine", "bob-1").await;
    assert_eq!(sent["msg"], "still fine");
    assert_up(&app).await;
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let payload = json!({"conversationId": conversation, "msg": "later", "clientId": "later"});
    assert_eq!(
        socket.emit_ack("message:send", payload).await["ok"],
        true,
        "a token came back"
    );
}

async fn typing_is_coalesced(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let conversation = app.direct(&alice, &bob).await;
    let (alice_socket, bob_socket) = (app.socket(&alice.token).await, app.socket(&bob.token).await);
    for _ in 0..50 {
        let ack = alice_socket
            .emit_ack("typing", json!({"conversationId": conversation}))
            .await;
        assert_eq!(ack, json!({"ok": true}), "every typing is acknowledged");
    }
    // One goes through at once; one more, held back, when the interval ends
    // (so typing right after a send still shows); the other 48 are dropped.
    assert!(
        bob_socket
            .try_next("typing", Duration::from_secs(2))
            .await
            .is_some()
    );
    assert!(
        bob_socket
            .try_next("typing", Duration::from_secs(5))
            .await
            .is_some(),
        "the held-back typing arrives when the interval ends"
    );
    assert!(
        bob_socket
            .try_next("typing", Duration::from_secs(3))
            .await
            .is_none(),
        "no more than two typing events reached the peer for 50 sent"
    );
}

async fn an_unchanged_read_mark_is_not_announced(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let conversation = app.direct(&alice, &bob).await;
    let (alice_socket, bob_socket) = (app.socket(&alice.token).await, app.socket(&bob.token).await);
    app.send(&alice, &conversation, "one", "1").await;
    app.send(&alice, &conversation, "two", "2").await;
    let read = json!({"conversationId": conversation, "seq": 2});
    assert_eq!(bob_socket.emit_ack("read", read.clone()).await["seq"], 2);
    assert_eq!(alice_socket.next("read").await["seq"], 2);
    for _ in 0..3 {
        let ack = bob_socket.emit_ack("read", read.clone()).await;
        assert_eq!(ack, json!({"ok": true, "seq": 2}));
    }
    let (status, _) = app
        .post(
            &format!("/api/conversations/{conversation}/read"),
            &bob.token,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        alice_socket
            .try_next("read", Duration::from_millis(500))
            .await,
        None,
        "a read mark that did not move is not announced"
    );

    // Lobby read marks are stored, and announced to nobody.
    app.send(&alice, "lobby", "hello all", "l1").await;
    let ack = bob_socket
        .emit_ack("read", json!({"conversationId": "lobby", "seq": 1}))
        .await;
    assert_eq!(ack, json!({"ok": true, "seq": 1}));
    let (_, lobby) = app.get("/api/conversations/lobby", &bob.token).await;
    assert_eq!(lobby["conversation"]["lastReadSeq"], 1, "{lobby}");
    assert_eq!(
        alice_socket
            .try_next("read", Duration::from_millis(500))
            .await,
        None
    );
}

async fn failed_sign_ins_lock_the_account_from_any_address(app: TestApp) {
    app.register("target").await;
    app.register("other").await;
    for i in 1..=3 {
        let (status, _, body) =
            sign_in_from(&app, "target", "bad guess!", &format!("10.0.0.{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, retry_after, body) =
        sign_in_from(&app, "TARGET", "correct horse", "10.9.9.9").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "too_many_requests");
    assert!((1..=900).contains(&retry_after.expect("Retry-After")));
    let (status, _, _) = sign_in_from(&app, "other", "correct horse", "10.9.9.9").await;
    assert_eq!(status, StatusCode::OK, "other accounts are not locked");
    assert_up(&app).await;
}

async fn failed_sign_ins_lock_the_address_by_its_64(app: TestApp) {
    app.register("real").await;
    for (i, name) in ["ann", "bob", "cat"].iter().enumerate() {
        let from = format!("2001:db8::{}", i + 1);
        let (status, _, _) = sign_in_from(&app, name, "spray password", &from).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, body) = sign_in_from(&app, "real", "correct horse", "2001:db8::ffff").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "same /64: {body}");
    assert_eq!(code(&body), "too_many_requests");
    let (status, _, body) = sign_in_from(&app, "real", "correct horse", "2001:db8:0:1::1").await;
    assert_eq!(status, StatusCode::OK, "another /64: {body}");
    // A username that cannot exist is refused before any lookup, like a wrong password.
    let (status, _, body) = sign_in_from(&app, "no", "whatever", "10.1.1.1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "invalid_credentials");
}

async fn forwarded_for_counts_only_from_a_trusted_proxy(trusted: TestApp, untrusted: TestApp) {
    // Not trusted: every sign-up comes from 127.0.0.1, whatever the header says.
    for (i, from) in ["1.1.1.1", "2.2.2.2"].iter().enumerate() {
        assert_eq!(
            sign_up_from(&untrusted, &format!("u{i}aa"), from).await.0,
            StatusCode::CREATED
        );
    }
    let (status, retry_after, body) = sign_up_from(&untrusted, "u3aa", "3.3.3.3").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");
    assert!(retry_after.expect("Retry-After") >= 1);

    // Trusted: the right-most address not a proxy counts; what the client wrote
    // to its left does not.
    for (i, from) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        assert_eq!(
            sign_up_from(&trusted, &format!("t{i}aa"), from).await.0,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        sign_up_from(&trusted, "t3aa", "9.9.9.9, 1.1.1.1").await.0,
        StatusCode::CREATED
    );
    let (status, _, body) = sign_up_from(&trusted, "t4aa", "8.8.8.8, 1.1.1.1, 127.0.0.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_up(&trusted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_honoured_only_from_trusted_proxies() {
    let limit = |c: &mut Config| c.signup_per_hour = 2;
    let trusted = TestApp::sqlite_with(|c| {
        limit(c);
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let untrusted = TestApp::sqlite_with(limit).await;
    forwarded_for_counts_only_from_a_trusted_proxy(trusted, untrusted).await;
}

async fn password_changes_are_throttled_like_sign_in(app: TestApp) {
    let alice = app.register("alice").await;
    let change = |current: &str| {
        let body = json!({"currentPassword": current, "newPassword": "a new password"});
        app.call(
            Method::POST,
            "/api/me/password",
            Some(&alice.token),
            Some(body),
        )
    };
    for _ in 0..3 {
        let (status, body) = change("wrong password").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = change("correct horse").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "too_many_requests");
    let (status, body) = app.login("alice", "correct horse").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the account is locked for sign-in too: {body}"
    );
    assert_eq!(app.get("/api/me", &alice.token).await.0, StatusCode::OK);
}

async fn sockets_per_user_are_capped(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(app.socket(&alice.token).await);
    }
    let refused = TestSocket::connect(
        &app.base,
        Some(json!({"token": alice.token})),
        rust_socketio::TransportType::Websocket,
    )
    .await;
    let error = refused.err().expect("the fourth socket is refused");
    assert!(error.contains("too_many_sockets"), "{error}");
    let _bob_socket = app.socket(&bob.token).await;
    assert_up(&app).await;

    sockets.pop().unwrap().disconnect().await;
    let mut again = None;
    for _ in 0..50 {
        let connected = TestSocket::connect(
            &app.base,
            Some(json!({"token": alice.token})),
            rust_socketio::TransportType::Websocket,
        )
        .await;
        if let Ok(socket) = connected {
            again = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = again.expect("a closed socket gives its place back");
    let ack = again
        .emit_ack("typing", json!({"conversationId": "lobby"}))
        .await;
    assert_eq!(ack["ok"], true);
}

/// Many sign-ins with the old password race a password change: afterwards
/// every token any of them got answers 401, and the changer's session works.
/// The sign-ins start over three times one sign-in's duration, so that some
/// verify the old password before the change commits and store their session
/// after it.
async fn no_sign_in_outlives_a_password_change(app: TestApp) {
    let alice = app.register("alice").await;
    let started = Instant::now();
    assert_eq!(app.login("alice", "correct horse").await.0, StatusCode::OK);
    let step = started.elapsed() * 3 / 24;
    let app = &app;
    let logins = (0..24u32).map(|i| async move {
        tokio::time::sleep(step * i).await;
        let (status, body) = app.login("alice", "correct horse").await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
            "{status} {body}"
        );
        body["token"].as_str().map(str::to_owned)
    });
    let change = async {
        let body = json!({"currentPassword": "correct horse", "newPassword": "a new password"});
        app.call(
            Method::POST,
            "/api/me/password",
            Some(&alice.token),
            Some(body),
        )
        .await
    };
    let (tokens, (status, body)) = tokio::join!(join_all(logins), change);
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let tokens: Vec<String> = tokens.into_iter().flatten().collect();
    for token in &tokens {
        let (status, body) = app.get("/api/me", token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a session outlived the change: {body}"
        );
    }
    assert_eq!(app.get("/api/me", &alice.token).await.0, StatusCode::OK);
    assert_eq!(app.login("alice", "a new password").await.0, StatusCode::OK);
    eprintln!(
        "{} of 24 racing sign-ins got a token, all ended",
        tokens.len()
    );
}

fn small_buckets(c: &mut Config) {
    c.send_rate = 1;
    c.send_burst = 5;
    c.read_per_minute = 3;
    c.profile_per_minute = 2;
}

fn behind_a_proxy(c: &mut Config) {
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    c.login_failures_per_account = 3;
    c.login_failures_per_address = 3;
}

on_both_backends_with!(small_buckets => floods_are_refused_with_a_wait);
// The sign-ins that lose the race are failures: room for them.
on_both_backends_with!(|c: &mut Config| { c.signin_per_minute = 1_000; c.login_failures_per_account = 1_000; } =>
    no_sign_in_outlives_a_password_change);

mod sqlite {
    use super::*;

    on_sqlite_with!(|_: &mut Config| {} =>
        typing_is_coalesced, an_unchanged_read_mark_is_not_announced);
    on_sqlite_with!(behind_a_proxy =>
        failed_sign_ins_lock_the_account_from_any_address,
        failed_sign_ins_lock_the_address_by_its_64);
    on_sqlite_with!(|c: &mut Config| c.login_failures_per_account = 3 =>
        password_changes_are_throttled_like_sign_in);
    on_sqlite_with!(|c: &mut Config| c.max_sockets_per_user = 3 => sockets_per_user_are_capped);
}
