//! The server's edges over raw TCP: a half-sent request head is closed at the
//! header timeout, a trickled body gets a 408, connections over the cap wait for
//! a free slot, and shutdown gives up on a stuck request at its deadline.

use std::time::Duration;

use futures_util::StreamExt;
use natter::app::App;
use natter::config::Config;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    // A reset counts as closed too.
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_closed_at_the_header_timeout() {
    let app = TestApp::sqlite_with(|config| config.header_timeout_secs = 1).await;
    let mut half = TcpStream::connect(addr(&app)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: natter\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();

    // Well within the 30 s; the configured second plus scheduling slack.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let half = read_until_closed(&mut half).await;
        let silent = read_until_closed(&mut silent).await;
        (half, silent)
    })
    .await
    .expect("both connections closed by the server");
    // hyper may say 408 before closing; it never answers the request itself.
    assert!(!closed.0.contains("200 OK"), "{}", closed.0);
    assert!(closed.1.is_empty(), "{}", closed.1);

    let (status, _) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_a_readable_408_at_the_request_timeout() {
    let app = TestApp::sqlite_with(|config| config.request_timeout_secs = 1).await;
    let chunks = futures_util::stream::iter([&b"{\"username\": \"al"[..], b"ice\"}"])
        .enumerate()
        .then(|(i, chunk)| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Ok::<_, std::io::Error>(chunk)
        });
    let response = app
        .http()
        .post(format!("{}/api/auth/login", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let app = TestApp::sqlite_with(|config| config.max_connections = 1).await;
    let mut first = TcpStream::connect(addr(&app)).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: natter\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    first.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    // The first connection is kept alive and holds the only slot.
    let client = reqwest::Client::new();
    let url = format!("{}/healthz", app.base);
    let mut second = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut second)
            .await
            .is_err(),
        "the second connection waits while the first is open"
    );
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("served once the slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_holds_its_connection_slot_until_it_closes() {
    let app = TestApp::sqlite_with(|config| {
        config.max_connections = 2;
        config.header_timeout_secs = 1;
    })
    .await;
    let alice = app.register("alice").await;
    // The server closes the registration's idle kept-alive connection first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sockets = [
        app.socket(&alice.token).await,
        app.socket(&alice.token).await,
    ];

    let client = reqwest::Client::new();
    let url = format!("{}/healthz", app.base);
    let mut waiting = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "two WebSockets hold both slots"
    );
    let [first, _second] = sockets;
    first.disconnect().await;
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a socket has closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_stuck_request_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.shutdown_secs = 1;
    config.request_timeout_secs = 0;
    let app = App::build(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    // A request whose body never comes: its handler waits for ever.
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: natter\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let healthy = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), serving)
        .await
        .expect("serve returns once the deadline has passed")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
