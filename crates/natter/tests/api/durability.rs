//! Durability: an acknowledged message survives `kill -9` of the server.
//!
//! The real binary runs as a child process on a temp data directory; senders
//! stream messages and note every one that was acknowledged; the process is
//! killed with SIGKILL in the middle of the stream and started again on the same
//! directory. Every acknowledged message must be in the history, in order, with
//! gapless seqs.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::without_server_config;

struct Server {
    child: Child,
    base: String,
}

/// A server still running when its test ends (or fails) is killed, not leaked.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data_dir: &std::path::Path, port: u16) -> Server {
    let mut child = without_server_config(&mut Command::new(env!("CARGO_BIN_EXE_natter")))
        .env("NATTER_ADDR", format!("127.0.0.1:{port}"))
        // Four senders stream as fast as they can: no send rate limit here.
        .env("NATTER_SEND_RATE", "0")
        .env("NATTER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("natter starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("natter did not become healthy");
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> reqwest::Result<(u16, Value)> {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port).await;
    let client = reqwest::Client::new();
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let (status, body) = post(
            &client,
            format!("{}/api/auth/register", server.base),
            None,
            json!({"username": name, "password": "correct horse"}),
        )
        .await
        .unwrap();
        assert_eq!(status, 201);
        users.push((
            body["user"]["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        ));
    }
    let (_, body) = post(
        &client,
        format!("{}/api/conversations", server.base),
        Some(&users[0].1),
        json!({"userId": users[1].0}),
    )
    .await
    .unwrap();
    let conversation = body["conversation"]["id"].as_str().unwrap().to_owned();

    // Four senders stream messages until the server dies under them.
    let acked: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let mut senders = Vec::new();
    for sender in 0..4 {
        let (client, acked) = (client.clone(), acked.clone());
        let token = users[sender % 2].1.clone();
        let url = format!("{}/api/conversations/{conversation}/messages", server.base);
        senders.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let client_id = format!("s{sender}-{i}");
                let body = json!({"msg": format!("message {client_id}"), "clientId": client_id});
                match post(&client, url.clone(), Some(&token), body).await {
                    Ok((201, answer)) => {
                        acked
                            .lock()
                            .unwrap()
                            .insert(client_id, answer["message"].clone());
                    }
                    _ => return,
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    server.child.wait().unwrap();
    for sender in senders {
        let _ = sender.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);

    let server = start(dir.path(), port).await;
    let mut history = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{}/api/conversations/{conversation}/messages?after={after}&limit=100",
                server.base
            ))
            .bearer_auth(&users[0].1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let messages = page["messages"].as_array().unwrap().clone();
        if let Some(last) = messages.last() {
            after = last["seq"].as_i64().unwrap();
        }
        history.extend(messages);
        if page["hasMore"] == false {
            break;
        }
    }
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as i64).collect::<Vec<_>>(),
        "gapless and in order"
    );
    let stored: HashMap<&str, &Value> = history
        .iter()
        .map(|m| (m["clientId"].as_str().unwrap(), m))
        .collect();
    for (client_id, message) in &acked {
        assert_eq!(
            stored.get(client_id.as_str()),
            Some(&message),
            "acknowledged {client_id} survived"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port).await;
    let client = reqwest::Client::new();
    let (status, body) = post(
        &client,
        format!("{}/api/auth/register", server.base),
        None,
        json!({"username": "alice", "password": "correct horse"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &client,
        format!("{}/api/chat", server.base),
        Some(&token),
        json!({"msg": "before stop"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "graceful exit, got {exit}");

    let server = start(dir.path(), port).await;
    let page: Value = client
        .get(format!("{}/api/conversations/lobby/messages", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["messages"][0]["msg"], "before stop",
        "sessions and messages persist"
    );
}
