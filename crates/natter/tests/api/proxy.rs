//! Two nodes (PostgreSQL + Redis) behind a private nginx running docs/nginx.conf
//! with the ports substituted. An oversized upload through nginx gets a readable
//! 413 from natter (and from nginx itself past `client_max_body_size`); both
//! nodes keep serving everyone afterwards (no upstream marked failed, no 502);
//! Socket.IO works through nginx over WebSocket and long-polling. Skipped, loudly,
//! without nginx, PostgreSQL or Redis.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use rust_socketio::TransportType;
use serde_json::json;

use crate::body_limits::put_avatar;
use crate::helpers::{TestApp, TestSocket, loud};

const NGINX: &str = "/usr/sbin/nginx";
const MIB: usize = 1024 * 1024;

struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn documented_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/nginx.conf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// docs/nginx.conf with these nodes and port, in the foreground, with its files
/// in `dir`; each answer names its upstream (`X-Upstream`), for the test only.
fn test_config(dir: &Path, nodes: [&str; 2], port: u16) -> String {
    let documented = documented_config();
    let mut config = documented
        .replacen("10.0.0.1:3000", nodes[0], 1)
        .replacen("10.0.0.2:3000", nodes[1], 1)
        .replacen("listen 80;", &format!("listen 127.0.0.1:{port};"), 1)
        .replacen(
            "proxy_pass http://natter;",
            "proxy_pass http://natter;\n            add_header X-Upstream $upstream_addr always;",
            1,
        );
    let dir = dir.display();
    config =
        format!("daemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n{config}")
            .replacen(
                "http {",
                &format!(
                    "http {{\n    access_log off;\n    client_body_temp_path {dir}/body;\n    \
             proxy_temp_path {dir}/proxy;\n    fastcgi_temp_path {dir}/fastcgi;\n    \
             uwsgi_temp_path {dir}/uwsgi;\n    scgi_temp_path {dir}/scgi;"
                ),
                1,
            );
    assert_ne!(config.matches("127.0.0.1:").count(), 0);
    assert!(
        !config.contains("10.0.0."),
        "docs/nginx.conf changed shape: {config}"
    );
    config
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_nginx(nodes: [&str; 2]) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as an unprivileged user when started by root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let port = free_port();
    let conf: PathBuf = dir.path().join("nginx.conf");
    std::fs::write(&conf, test_config(dir.path(), nodes, port)).unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    let base = format!("http://127.0.0.1:{port}");
    let nginx = Nginx { child, dir, base };
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{}/healthz", nginx.base)).await
            && r.status().is_success()
        {
            return nginx;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not come up: {}", nginx.error_log());
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// A client from its own loopback address, so `hash $remote_addr` spreads
/// clients over both nodes.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uploads_through_nginx_leave_both_nodes_serving() {
    if !Path::new(NGINX).exists() {
        return loud(
            "SKIPPED: proxy test: no nginx at /usr/sbin/nginx (apt-get install nginx-light)",
        );
    }
    let Some((node_a, node_b)) = TestApp::cluster().await else {
        return;
    };
    let nodes = [&node_a.base, &node_b.base].map(|b| b.trim_start_matches("http://"));
    let nginx = start_nginx(nodes).await;
    let alice = node_a.register("alice").await;

    // From several addresses, so both nodes get one: natter's own readable 413.
    let mut upstreams = BTreeSet::new();
    for n in 2..=9 {
        let (status, body) = put_avatar(
            &client_from(n),
            &nginx.base,
            &alice.token,
            6 * MIB,
            n % 2 == 0,
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("5 MiB"),
            "natter's answer: {body}"
        );
    }
    // Past client_max_body_size nginx answers itself, in the same shape.
    let (status, body) =
        put_avatar(&client_from(10), &nginx.base, &alice.token, 9 * MIB, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");

    // An attachment past that limit (but within NATTER_MAX_UPLOAD) goes
    // through whole, and comes back whole.
    let bytes: Vec<u8> = (0..12 * MIB).map(|i| (i % 251) as u8).collect();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.clone()).file_name("big.bin"),
    );
    let response = client_from(10)
        .post(format!("{}/api/uploads", nginx.base))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let attachment: serde_json::Value = response.json().await.unwrap();
    let url = attachment["attachment"]["url"].as_str().unwrap();
    let fetched = client_from(10)
        .get(format!("{}{url}", nginx.base))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert!(
        fetched.bytes().await.unwrap() == bytes,
        "the same bytes back"
    );

    // Everyone else is still served, by both nodes.
    for n in 11..=40 {
        let response = client_from(n)
            .get(format!("{}/api/me", nginx.base))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "client 127.0.0.{n}");
        let upstream = response.headers()["x-upstream"]
            .to_str()
            .unwrap()
            .to_owned();
        upstreams.insert(upstream);
    }
    assert_eq!(upstreams.len(), 2, "both nodes serve: {upstreams:?}");
    let log = nginx.error_log();
    assert!(!log.contains("no live upstreams"), "{log}");
    assert!(!log.contains("reset by peer"), "{log}");

    // Socket.IO through nginx, on both transports.
    let bob = node_b.register("bob").await;
    let id = node_a.direct(&alice, &bob).await;
    for (name, transport) in [
        ("websocket", TransportType::Websocket),
        ("polling", TransportType::Polling),
    ] {
        let socket = TestSocket::connect(&nginx.base, Some(json!({"token": bob.token})), transport)
            .await
            .expect("socket connects through nginx");
        let sent = node_a.send(&alice, &id, "through nginx", name).await;
        assert_eq!(socket.next("message").await, sent);
        let ack = socket
            .emit_ack("typing", json!({"conversationId": id}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        socket.disconnect().await;
    }
}

#[test]
fn operations_md_shows_the_tested_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let operations = std::fs::read_to_string(path).unwrap();
    let documented = documented_config();
    let (_, body) = documented
        .split_once("\n\n")
        .expect("a header comment, then the configuration");
    assert!(
        operations.contains(body.trim_end()),
        "docs/operations.md must show docs/nginx.conf as it is (after its header comment)"
    );
}
