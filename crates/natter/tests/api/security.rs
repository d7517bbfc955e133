//! Safe on the open internet: the Origin policy (Socket.IO handshakes and
//! cookie-authenticated writes), the security headers, sessions that end, and
//! the send rate limit. Each through the public surface, with the error in the
//! contract's shape, and the server still up afterwards.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use natter::config::Config;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_backends, on_both_backends_with};

async fn assert_up(app: &TestApp) {
    let healthz = app
        .http()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(healthz.status(), StatusCode::OK);
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A Socket.IO handshake over HTTP long-polling with the given `Origin` (and
/// cookie): returns what the server answers to the namespace CONNECT, `40…`
/// (connected) or `44{"message":…}` (connect_error), other packets skipped.
async fn polling_connect(
    app: &TestApp,
    origin: Option<&str>,
    auth: Option<Value>,
    cookie: Option<&str>,
) -> String {
    let http = reqwest::Client::new();
    let url = format!("{}/api/socket.io/?EIO=4&transport=polling", app.base);
    let request = |method: Method, url: String| {
        let mut request = http.request(method, url);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request
    };
    let open = request(Method::GET, url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let open: Value = serde_json::from_str(open.strip_prefix('0').expect("engine.io OPEN"))
        .unwrap_or_else(|_| panic!("engine.io OPEN: {open}"));
    let url = format!("{url}&sid={}", open["sid"].as_str().unwrap());
    let connect = match auth {
        Some(auth) => format!("40{auth}"),
        None => "40".to_owned(),
    };
    let posted = request(Method::POST, url.clone())
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(connect)
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    // The answer to CONNECT may come after other packets (a ping): poll on.
    for _ in 0..10 {
        let answer = request(Method::GET, url.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if let Some(packet) = answer
            .split('\u{1e}')
            .find(|packet| packet.starts_with("40") || packet.starts_with("44"))
        {
            return packet.to_owned();
        }
    }
    panic!("no answer to the namespace CONNECT");
}

async fn register_with_cookie(app: &TestApp, username: &str) -> (String, String) {
    let response = app
        .http()
        .post(format!("{}/api/auth/register", app.base))
        .json(&json!({"username": username, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    (body["token"].as_str().unwrap().to_owned(), cookie)
}

async fn cookie_post(app: &TestApp, cookie: &str, origin: &str) -> (StatusCode, Value) {
    let response = app
        .http()
        .post(format!("{}/api/chat", app.base))
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, origin)
        .header("x-requested-with", "XMLHttpRequest")
        .json(&json!({"msg": "via cookie"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

// 1. Cross-site

async fn foreign_origins_are_refused(app: TestApp) {
    let (token, cookie) = register_with_cookie(&app, "alice").await;
    let auth = Some(json!({ "token": token }));

    let answer = polling_connect(&app, Some("http://evil.example"), auth.clone(), None).await;
    assert!(answer.starts_with("44"), "foreign origin: {answer}");
    assert!(answer.contains(r#""message":"forbidden""#), "{answer}");
    let answer = polling_connect(&app, Some("http://evil.example"), None, Some(&cookie)).await;
    assert!(
        answer.contains(r#""message":"forbidden""#),
        "the cookie from a foreign page: {answer}"
    );
    let answer = polling_connect(&app, Some("null"), auth.clone(), None).await;
    assert!(answer.starts_with("44"), "an opaque origin: {answer}");

    let answer = polling_connect(&app, Some(&app.base), auth.clone(), None).await;
    assert!(answer.starts_with("40{"), "own origin: {answer}");
    let answer = polling_connect(&app, Some(&app.base), None, Some(&cookie)).await;
    assert!(answer.starts_with("40{"), "own origin, cookie: {answer}");
    let answer = polling_connect(&app, None, auth, None).await;
    assert!(
        answer.starts_with("40{"),
        "no Origin (not a browser): {answer}"
    );

    // Cookie writes: a foreign Origin is refused even with X-Requested-With.
    let (status, body) = cookie_post(&app, &cookie, "http://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    let response = app
        .http()
        .post(format!("{}/api/auth/logout-all", app.base))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, _) = cookie_post(&app, &cookie, &app.base).await;
    assert_eq!(status, StatusCode::CREATED, "own origin");
    // The bearer token is not sent by browsers on their own: no Origin rule.
    let (status, _) = app.get("/api/me", &token).await;
    assert_eq!(status, StatusCode::OK, "the session survived the attempts");

    assert_up(&app).await;
    app.socket(&token).await.disconnect().await;
}

async fn listed_origins_are_allowed(app: TestApp) {
    let (token, cookie) = register_with_cookie(&app, "alice").await;
    let auth = Some(json!({ "token": token }));
    let answer = polling_connect(&app, Some("https://chat.example"), auth.clone(), None).await;
    assert!(answer.starts_with("40{"), "listed origin: {answer}");
    let answer = polling_connect(&app, Some("https://other.example"), auth, None).await;
    assert!(answer.starts_with("44"), "unlisted origin: {answer}");
    let (status, body) = cookie_post(&app, &cookie, "https://chat.example").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = cookie_post(&app, &cookie, "https://other.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    assert_up(&app).await;
}

// 2. Security headers

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "connect-src 'self' ws: wss:",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(
        !csp.split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap()
            .contains("unsafe"),
        "{what}: {csp}"
    );
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

async fn every_answer_carries_security_headers(app: TestApp) {
    let alice = app.register("alice").await;
    let http = app.http();

    let index = http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_security_headers(&index, "the web UI");
    let html = index.text().await.unwrap();
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src="),
            "an inline script in index.html: {html}"
        );
    }
    let route = http
        .get(format!("{}/some/app/route", app.base))
        .send()
        .await
        .unwrap();
    assert_security_headers(&route, "an SPA route");

    let me = app.get_response("/api/me", &alice.token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_security_headers(&me, "/api/me");

    let anonymous = http
        .get(format!("{}/api/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(&anonymous, "a 401");
    assert_error(&anonymous.json().await.unwrap(), "unauthorized");

    let missing = http
        .get(format!("{}/api/no-such-route", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&missing, "a 404");

    let malformed = http
        .post(format!("{}/api/auth/login", app.base))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&malformed, "a 400");
    assert_up(&app).await;
}

// 3. Sessions that end

async fn idle_sessions_expire(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let carols_socket = app.socket(&carol.token).await;

    // Bob keeps using his session for longer than the idle lifetime.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(4_500) {
        let (status, body) = app.get("/api/me", &bob.token).await;
        assert_eq!(status, StatusCode::OK, "a session in use stays: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Alice did not: her session ended.
    let (status, body) = app.get("/api/me", &alice.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    let (status, _) = app.get("/api/me", &alice.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and stays ended");
    let refused = crate::helpers::TestSocket::connect(
        &app.base,
        Some(json!({ "token": alice.token })),
        rust_socketio::TransportType::Websocket,
    )
    .await;
    assert!(refused.is_err(), "no socket on an expired session");

    // Carol's socket was idle: the pruner ended her session and closed it.
    assert!(
        carols_socket
            .try_next("close", Duration::from_secs(10))
            .await
            .is_some(),
        "the expired session's socket is closed"
    );
    let (status, _) = app.get("/api/me", &carol.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signing in again starts a fresh session.
    let (status, body) = app.login("alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/me", body["token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_up(&app).await;
}

async fn old_sessions_expire_however_used(app: TestApp) {
    let alice = app.register("alice").await;
    let start = Instant::now();
    loop {
        let (status, body) = app.get("/api/me", &alice.token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_error(&body, "unauthorized");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session outlived its maximum"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(1_500),
        "ended too early: {:?}",
        start.elapsed()
    );
    assert_up(&app).await;
}

async fn logout_all_ends_every_session(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, body) = app.login("alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK);
    let phone = body["token"].as_str().unwrap().to_owned();
    let phone_socket = app.socket(&phone).await;
    let bobs_socket = app.socket(&bob.token).await;

    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/logout-all",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    phone_socket.next("close").await;
    for token in [&alice.token, &phone] {
        let (status, body) = app.get("/api/me", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_error(&body, "unauthorized");
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/logout-all",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");

    // Other users are untouched.
    let (status, _) = app.get("/api/me", &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bobs_socket
            .try_next("close", Duration::from_millis(300))
            .await
            .is_none()
    );
    let ack = bobs_socket
        .emit_ack("typing", json!({"conversationId": "lobby"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_up(&app).await;
}

// 4. Rate limits on sends

async fn a_flood_of_sends_is_limited(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let conversation = app.direct(&alice, &bob).await;
    let socket = app.socket(&alice.token).await;
    let url = format!("{}/api/conversations/{conversation}/messages", app.base);

    let http_sends = (0..150).map(|i| {
        let request = app
            .http()
            .post(&url)
            .bearer_auth(&alice.token)
            .json(&json!({"msg": format!("flood {i}"), "clientId": format!("h{i}")}));
        async move {
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
            let body: Value = response.json().await.unwrap();
            (format!("h{i}"), status, retry_after, body)
        }
    });
    // One at a time on the socket (the test client mishandles concurrent acks),
    // alongside the HTTP flood.
    let socket_sends = async {
        let mut results = Vec::new();
        for i in 0..150 {
            let payload = json!({"conversationId": conversation, "msg": format!("flood s{i}"), "clientId": format!("s{i}")});
            results.push((
                format!("s{i}"),
                socket.emit_ack("message:send", payload).await,
            ));
        }
        results
    };
    let (http_results, socket_results) = tokio::join!(join_all(http_sends), socket_sends);

    let mut accepted = HashSet::new();
    let mut limited = 0;
    for (client_id, status, retry_after, body) in http_results {
        assert!(!status.is_server_error(), "{status} {body}");
        match status {
            StatusCode::CREATED => assert!(accepted.insert(client_id)),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_error(&body, "rate_limited");
                let seconds: u64 = retry_after
                    .expect("Retry-After")
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&seconds), "Retry-After: {seconds}");
                limited += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    for (client_id, ack) in socket_results {
        if ack["ok"] == true {
            assert!(accepted.insert(client_id));
        } else {
            assert_error(&ack, "rate_limited");
            limited += 1;
        }
    }
    assert!(limited > 0, "300 sends at once, none limited");
    assert!(!accepted.is_empty(), "the burst is accepted");
    assert_eq!(accepted.len() + limited, 300);

    assert_up(&app).await;
    let (status, page) = app
        .get(
            &format!("/api/conversations/{conversation}/messages?limit=100"),
            &bob.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["hasMore"], false, "more stored than accepted: {page}");
    let stored: HashSet<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["clientId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stored, accepted,
        "every accepted send, and only those, is stored"
    );

    // Another user is not limited by Alice's flood.
    let sent = app.send(&bob, &conversation, "still fine", "bob-1").await;
    assert_eq!(sent["msg"], "still fine");
}

on_both_backends!(
    foreign_origins_are_refused,
    every_answer_carries_security_headers,
    logout_all_ends_every_session,
);

on_both_backends_with!(|c: &mut Config| c.allowed_origins = vec!["https://chat.example".into()] =>
    listed_origins_are_allowed);
on_both_backends_with!(|c: &mut Config| c.session_idle_secs = Some(3) => idle_sessions_expire);
on_both_backends_with!(|c: &mut Config| c.session_max_secs = Some(2) =>
    old_sessions_expire_however_used);
on_both_backends_with!(|c: &mut Config| { c.send_rate = 5; c.send_burst = 10; } =>
    a_flood_of_sends_is_limited);
