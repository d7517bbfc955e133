//! Over-limit bodies get a 413 the client can read (not a connection reset),
//! whether the size is declared up front or only found out while streaming, and
//! the server keeps serving. Also used through nginx by `proxy`.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

const MIB: usize = 1024 * 1024;
const BOUNDARY: &str = "natter-test-boundary";

/// A multipart avatar upload of `size` bytes of picture, sent in 64 KiB chunks;
/// `declared` gives it a Content-Length, else it goes chunked.
pub fn avatar_upload(size: usize, declared: bool) -> (reqwest::Body, Option<usize>) {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = head.len() + size + tail.len();
    let picture = (0..size.div_ceil(64 * 1024))
        .map(move |i| vec![0x89u8; (size - i * 64 * 1024).min(64 * 1024)]);
    let parts = std::iter::once(head.into_bytes())
        .chain(picture)
        .chain(std::iter::once(tail.into_bytes()))
        .map(Ok::<_, std::io::Error>);
    let body = if declared {
        reqwest::Body::from(parts.flat_map(Result::unwrap).collect::<Vec<u8>>())
    } else {
        reqwest::Body::wrap_stream(futures_util::stream::iter(parts).boxed())
    };
    (body, declared.then_some(length))
}

/// `PUT /api/me/avatar` with [`avatar_upload`]; the status and the JSON body.
pub async fn put_avatar(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    size: usize,
    declared: bool,
) -> (StatusCode, Value) {
    let (body, _) = avatar_upload(size, declared);
    let response = http
        .put(format!("{base}/api/me/avatar"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("an answer, not a connection reset");
    let status = response.status();
    let text = response.text().await.expect("the whole answer");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON answer: {text}"));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_6_mib_avatar_gets_a_readable_413_declared_or_streamed() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    for declared in [true, false] {
        // A fresh client each time: no kept-alive connection to fall back on.
        let http = reqwest::Client::new();
        let (status, body) = put_avatar(&http, &app.base, &alice.token, 6 * MIB, declared).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
        assert_eq!(body["error"]["limitBytes"], 5 * MIB, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("5 MiB"),
            "{body}"
        );
    }
    let (status, me) = app.get("/api/me", &alice.token).await;
    assert_eq!(status, StatusCode::OK, "still serving: {me}");
    assert_eq!(me["user"]["avatarUrl"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_before_reading_gets_a_readable_answer() {
    let app = TestApp::sqlite().await;
    let (status, body) = put_avatar(
        &reqwest::Client::new(),
        &app.base,
        "not-a-token",
        3 * MIB,
        true,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_json_body_gets_a_readable_413() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let id = {
        let bob = app.register("bob").await;
        app.direct(&alice, &bob).await
    };
    let huge = "x".repeat(2 * MIB);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/conversations/{id}/messages"),
            Some(&alice.token),
            Some(json!({"msg": huge, "clientId": "big"})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(body["error"]["limitBytes"], 64 * 1024, "{body}");
    let sent = app.send(&alice, &id, "small", "small").await;
    assert_eq!(sent["seq"], 1, "still serving");
}
