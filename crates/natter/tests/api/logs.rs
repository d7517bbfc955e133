//! No secret in the logs: the real binary runs with `RUST_LOG=trace` while a user
//! signs up, signs in, connects a socket (bearer token in its `auth`, over
//! WebSocket and long-polling), sends a message and changes the password. The
//! captured log must hold none of the tokens, the cookie, the passwords or the
//! message.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use rust_socketio::TransportType;
use serde_json::{Value, json};

use crate::helpers::{TestSocket, call, without_server_config};

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_level_log_holds_no_token_password_or_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("natter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server(
        without_server_config(&mut Command::new(env!("CARGO_BIN_EXE_natter")))
            .env("NATTER_ADDR", format!("127.0.0.1:{port}"))
            .env("NATTER_DATA_DIR", dir.path())
            .env(
                "RUST_LOG",
                "trace,socketioxide=trace,engineioxide::socket=trace",
            )
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("natter starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "natter did not start");

    let (password, new_password) = ("Pa55-first-secret", "Pa55-second-secret");
    let (_, signed_up) = call(
        &http,
        &base,
        Method::POST,
        "/api/auth/register",
        None,
        Some(json!({"username": "alice", "password": password})),
    )
    .await;
    let first_token = signed_up["token"].as_str().unwrap().to_owned();
    let response = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "alice", "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = response
        .cookies()
        .find(|c| c.name() == "natter_session")
        .expect("a session cookie")
        .value()
        .to_owned();
    let signed_in: Value = response.json().await.unwrap();
    let token = signed_in["token"].as_str().unwrap().to_owned();

    let message = "a-very-private-message-text";
    for (name, transport) in [
        ("websocket", TransportType::Websocket),
        ("polling", TransportType::Polling),
    ] {
        let socket = TestSocket::connect(&base, Some(json!({"token": token})), transport)
            .await
            .expect("socket connects");
        let ack = socket
            .emit_ack(
                "message:send",
                json!({"conversationId": "lobby", "msg": message, "clientId": name}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        socket.disconnect().await;
    }
    let (status, _) = call(
        &http,
        &base,
        Method::POST,
        "/api/me/password",
        Some(&token),
        Some(json!({"currentPassword": password, "newPassword": new_password})),
    )
    .await;
    assert!(status.is_success(), "{status}");
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("listening on"),
        "the log was captured: {}",
        &log[..log.len().min(2000)]
    );
    for (what, secret) in [
        ("the sign-up token", first_token.as_str()),
        ("the sign-in token", token.as_str()),
        ("the session cookie", cookie.as_str()),
        ("the password", password),
        ("the new password", new_password),
        ("the message", message),
    ] {
        if let Some(at) = log.find(secret) {
            let line = log[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = log[at..].find('\n').map_or(log.len(), |n| at + n);
            panic!("{what} is in the log: {}", &log[line..end]);
        }
    }
}
