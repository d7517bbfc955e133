//! Redis goes away and comes back (issue 12).
//!
//! A private `redis-server` on a port of its own, and two real natter processes
//! on one fresh PostgreSQL database fanning out through it. Redis is killed with
//! SIGKILL while users on both nodes chat: each node must keep delivering to its
//! own users, `/readyz` must say Redis is down, sign-out must answer 503 rather
//! than pretend, and no node may exit. Redis is then started again on the same
//! port: cross-node delivery must come back within 10 s by itself, with nothing
//! lost from the history. Skipped, loudly, without PostgreSQL or `redis-server`.
//!
//! Every child process (Redis, both nodes) is killed when its guard drops, so a
//! failing assertion leaks none; they also get SIGKILL if this test process dies.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestDatabase, TestSocket, loud, without_server_config};
use reqwest::{Method, StatusCode};
use rust_socketio::TransportType;
use serde_json::{Value, json};

/// How long a condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// Users keep chatting at least this long with Redis down: longer than one round
/// of the driver's reconnection attempts (about 2.5 s), so recovery is also shown
/// after the connection manager gave up once.
const OUTAGE: Duration = Duration::from_secs(4);

/// A child process killed (and reaped) when dropped, on every exit path.
pub(crate) struct Process {
    name: &'static str,
    child: Option<Child>,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL
        // the child when the thread that spawned it (the test's) goes away.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Self {
            name,
            child: Some(child),
        }
    }

    /// Whether the process is still running.
    pub(crate) fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("process present");
        matches!(child.try_wait(), Ok(None))
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.is_some() {
            eprintln!("stopping {}", self.name);
        }
        self.kill();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn has_redis_server() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts the private Redis and waits until it answers PING.
async fn start_redis(port: u16, dir: &Path) -> Process {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut redis = Process::spawn("redis-server", &mut command);
    let started = Instant::now();
    while !redis_answers(port).await {
        assert!(redis.running(), "redis-server exited at start-up");
        assert!(
            started.elapsed() < DEADLINE,
            "redis-server did not answer on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis
}

async fn redis_answers(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut reply).await.is_ok()
        && &reply == b"+PONG\r\n"
}

/// One natter process.
pub(crate) struct Node {
    pub(crate) process: Process,
    pub(crate) base: String,
    log: std::path::PathBuf,
    http: reqwest::Client,
}

impl Node {
    async fn start(
        name: &'static str,
        dir: &Path,
        database_url: &str,
        redis_url: &str,
        prefix: &str,
    ) -> Self {
        Self::start_with(name, dir, database_url, redis_url, prefix, &[]).await
    }

    /// Starts a node with extra environment settings, e.g. `NATTER_PRESENCE_TTL`.
    pub(crate) async fn start_with(
        name: &'static str,
        dir: &Path,
        database_url: &str,
        redis_url: &str,
        prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
        without_server_config(&mut command)
            .env("NATTER_ADDR", format!("127.0.0.1:{port}"))
            .env("NATTER_DATA_DIR", dir)
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("NATTER_REDIS_PREFIX", prefix)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(Stdio::inherit());
        let mut node = Self {
            process: Process::spawn(name, &mut command),
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = node.http.get(format!("{}/healthz", node.base)).send().await
                && r.status().is_success()
            {
                return node;
            }
            assert!(node.process.running(), "{name} exited at start-up");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        crate::helpers::call(&self.http, &self.base, method, path, token, body).await
    }

    /// Registers a user; returns (id, token).
    pub(crate) async fn register(&self, username: &str) -> (String, String) {
        let body = json!({ "username": username, "password": "correct horse" });
        let (status, body) = self
            .call(Method::POST, "/api/auth/register", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        (
            body["user"]["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn login(&self, username: &str) -> String {
        let body = json!({ "username": username, "password": "correct horse" });
        let (status, body) = self
            .call(Method::POST, "/api/auth/login", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Sends a message over HTTP; the send must be acknowledged (stored).
    async fn send(&self, token: &str, conversation: &str, msg: &str) -> Value {
        let body = json!({ "msg": msg, "clientId": msg });
        let path = format!("/api/conversations/{conversation}/messages");
        let (status, body) = self
            .call(Method::POST, &path, Some(token), Some(body))
            .await;
        assert!(status.is_success(), "send {msg}: {status} {body}");
        body["message"].clone()
    }

    pub(crate) async fn socket(&self, token: &str) -> TestSocket {
        TestSocket::connect(
            &self.base,
            Some(json!({ "token": token })),
            TransportType::Websocket,
        )
        .await
        .expect("socket connects")
    }

    async fn readyz(&self) -> (StatusCode, Value) {
        self.call(Method::GET, "/readyz", None, None).await
    }

    /// Polls `/readyz` until it answers `status`; returns the body and how long it took.
    async fn wait_readyz(&self, status: StatusCode) -> (Value, Duration) {
        let started = Instant::now();
        loop {
            let (now, body) = self.readyz().await;
            if now == status {
                return (body, started.elapsed());
            }
            assert!(
                started.elapsed() < DEADLINE,
                "/readyz on {} still {now} {body}, expected {status}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The next `message` event with text `msg` on `socket`, within 5 s.
async fn receives(socket: &TestSocket, msg: &str) -> Value {
    let started = Instant::now();
    loop {
        let left = Duration::from_secs(5).saturating_sub(started.elapsed());
        match socket.try_next("message", left).await {
            Some(m) if m["msg"] == msg => return m,
            Some(_) => continue,
            None => panic!("no message {msg:?} within 5 s"),
        }
    }
}

/// Sends probes from `from` until `to` hears one live, across nodes; returns
/// how long that took. Probes not heard stay in the history all the same.
async fn delivery_resumes(
    from: &Node,
    token: &str,
    conversation: &str,
    to: &TestSocket,
    label: &str,
    since: Instant,
    sent: &mut Vec<String>,
) -> Duration {
    for i in 0.. {
        let msg = format!("{label} probe {i}");
        from.send(token, conversation, &msg).await;
        sent.push(msg.clone());
        let wait = Instant::now() + Duration::from_millis(500);
        while let Some(m) = to
            .try_next("message", wait.saturating_duration_since(Instant::now()))
            .await
        {
            if m["msg"].as_str().is_some_and(|t| t.starts_with(label)) {
                return since.elapsed();
            }
        }
        assert!(
            since.elapsed() < DEADLINE,
            "{label}: no cross-node delivery within {DEADLINE:?} of Redis coming back"
        );
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_a_redis_restart() {
    if !has_redis_server() {
        loud("SKIPPED: Redis restart test: no redis-server binary on PATH");
        return;
    }
    let Some(database) = TestDatabase::create("Redis restart test").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let redis_port = free_port();
    let mut redis = start_redis(redis_port, dir.path()).await;
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let prefix = format!("natter-restart-{}", natter::domain::UserId::generate());
    // One after the other: the first runs the migrations.
    let mut a = Node::start("node A", dir.path(), &database.url, &redis_url, &prefix).await;
    let mut b = Node::start("node B", dir.path(), &database.url, &redis_url, &prefix).await;
    for node in [&a, &b] {
        let (status, body) = node.readyz().await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({"status": "ready", "database": "ok", "redis": "ok"})
        );
    }

    // alice lives on node A, bob on node B; each also has a tab on the other node.
    let (alice_id, alice) = a.register("alice").await;
    let (bob_id, bob) = b.register("bob").await;
    let alice_a = a.socket(&alice).await;
    let bob_b = b.socket(&bob).await;
    let bob_a = a.socket(&bob).await;
    let alice_b = b.socket(&alice).await;
    let (_, open) = a
        .call(
            Method::POST,
            "/api/conversations",
            Some(&alice),
            Some(json!({ "userId": bob_id })),
        )
        .await;
    let id = open["conversation"]["id"].as_str().unwrap().to_owned();
    let before = a.send(&alice, &id, "before the outage").await;
    receives(&bob_b, "before the outage").await;
    let last_seq = before["seq"].as_i64().unwrap();
    let mut sent: Vec<String> = Vec::new();

    // Redis dies.
    redis.kill();
    let killed = Instant::now();
    for node in [&a, &b] {
        let (body, took) = node.wait_readyz(StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            body,
            json!({"status": "unavailable", "database": "ok", "redis": "down"})
        );
        eprintln!("/readyz on {} said redis down after {took:?}", node.base);
    }

    // Each node keeps serving its own users, promptly: sends are stored and
    // delivered locally, round after round, for the whole outage.
    let mut slowest = Duration::ZERO;
    let mut i = 0;
    while i < 3 || killed.elapsed() < OUTAGE {
        let started = Instant::now();
        let msg = format!("outage from A {i}");
        a.send(&alice, &id, &msg).await;
        sent.push(msg.clone());
        receives(&bob_a, &msg).await;
        receives(&alice_a, &msg).await;
        let msg = format!("outage from B {i}");
        b.send(&bob, &id, &msg).await;
        sent.push(msg.clone());
        receives(&alice_b, &msg).await;
        receives(&bob_b, &msg).await;
        slowest = slowest.max(started.elapsed());
        i += 1;
        // A chat's pace, not a flood.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{i} rounds of local chat during the outage, slowest {slowest:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "local delivery waited on Redis: {slowest:?}"
    );
    let ack = bob_b
        .emit_ack(
            "message:send",
            json!({"conversationId": id, "msg": "outage socket B", "clientId": "osb"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    sent.push("outage socket B".into());
    receives(&alice_b, "outage socket B").await;
    // A user can still connect during the outage, and hears their node.
    let (carol_id, carol) = a.register("carol").await;
    let carol_a = a.socket(&carol).await;
    let (_, lobby) = a
        .call(
            Method::POST,
            "/api/chat",
            Some(&alice),
            Some(json!({"msg": "lobby during the outage"})),
        )
        .await;
    assert!(lobby["message"]["seq"].is_i64(), "{lobby}");
    receives(&carol_a, "lobby during the outage").await;

    // Sign-out and password change cannot reach the other node: 503, not a pretence.
    let session = b.login("bob").await;
    let (status, body) = b
        .call(Method::POST, "/api/auth/logout", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    let (status, body) = a
        .call(
            Method::POST,
            "/api/me/password",
            Some(&carol),
            Some(json!({"currentPassword": "correct horse", "newPassword": "battery staple"})),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    let (status, _) = b.call(Method::GET, "/api/me", Some(&session), None).await;
    assert_eq!(status, StatusCode::OK, "the refused sign-out ended nothing");
    assert!(a.process.running() && b.process.running(), "a node exited");
    eprintln!("Redis was down for {:?}", killed.elapsed());

    // Redis comes back on the same port, empty.
    redis = start_redis(redis_port, dir.path()).await;
    let restarted = Instant::now();
    for node in [&a, &b] {
        let (body, _) = node.wait_readyz(StatusCode::OK).await;
        assert_eq!(
            body,
            json!({"status": "ready", "database": "ok", "redis": "ok"})
        );
        eprintln!(
            "/readyz on {} ready {:?} after Redis restarted",
            node.base,
            restarted.elapsed()
        );
    }
    let a_to_b = delivery_resumes(&a, &alice, &id, &bob_b, "A→B", restarted, &mut sent).await;
    let b_to_a = delivery_resumes(&b, &bob, &id, &alice_a, "B→A", restarted, &mut sent).await;
    eprintln!("cross-node delivery back after {a_to_b:?} (A→B), {b_to_a:?} (B→A)");
    // Fully back: the next message and a sign-out reach the other node at once.
    let after = b.send(&bob, &id, "after the outage").await;
    assert_eq!(receives(&alice_a, "after the outage").await, after);
    sent.push("after the outage".into());
    let watched = a.socket(&session).await;
    let (status, _) = b
        .call(Method::POST, "/api/auth/logout", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    watched.next("close").await;
    let _ = carol_id;
    let _ = alice_id;

    // Nothing sent during or after the outage is missing from the history, on either node.
    for (node, token) in [(&a, &alice), (&b, &bob)] {
        let mut messages = Vec::new();
        loop {
            let after = messages
                .last()
                .map_or(last_seq, |m: &Value| m["seq"].as_i64().unwrap());
            let path = format!("/api/conversations/{id}/messages?after={after}&limit=100");
            let (status, page) = node.call(Method::GET, &path, Some(token), None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            messages.extend(page["messages"].as_array().unwrap().iter().cloned());
            if page["hasMore"] != true {
                break;
            }
        }
        let texts: Vec<&str> = messages
            .iter()
            .map(|m| m["msg"].as_str().unwrap())
            .collect();
        let seqs: Vec<i64> = messages
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(texts, sent, "every message, in order");
        let gapless: Vec<i64> = (last_seq + 1..=last_seq + sent.len() as i64).collect();
        assert_eq!(seqs, gapless);
    }

    assert!(a.process.running() && b.process.running(), "a node exited");
    for node in [&a, &b] {
        let log = node.log_text();
        assert!(
            log.contains("redis connection lost") && log.contains("redis connection restored"),
            "the outage is in the log of {}:\n{log}",
            node.base
        );
    }
    drop((alice_b, bob_a, carol_a));
    drop(redis);
}
