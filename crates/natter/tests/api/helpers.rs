//! Test harness: the real natter app on an ephemeral port with a fresh database
//! (a temp SQLite file, or a new PostgreSQL database), an HTTP client, and a real
//! Socket.IO client.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use natter::app::App;
use natter::config::Config;
use reqwest::{Method, StatusCode};
use rust_socketio::asynchronous::{Client as SioClient, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};

pub struct TestApp {
    database_url: Option<String>,
    /// The PostgreSQL database this app made for itself, dropped with it.
    owned_database: Option<TestDatabase>,
    pub base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

/// Sends a request to the server at `base`; returns the status and the JSON
/// body (Null when empty). Shared by the in-process apps and the spawned nodes.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body for {path}: {text}"))
    };
    (status, json)
}

/// The Redis the cluster tests use (`REDIS_URL`), if it accepts connections.
pub async fn reachable_redis() -> Option<String> {
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let host = redis_url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    tokio::net::TcpStream::connect(&host)
        .await
        .is_ok()
        .then_some(redis_url)
}

/// Runs one scenario against SQLite and against PostgreSQL (skipped, loudly,
/// when no PostgreSQL server is reachable).
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::helpers::TestApp::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::postgres().await {
                    super::$scenario(app).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// Runs one scenario on both back-ends with settings changed by `configure`.
macro_rules! on_both_backends_with {
    ($configure:expr => $($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::helpers::TestApp::sqlite_with($configure).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::postgres_with($configure).await {
                    super::$scenario(app).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends_with;

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    /// On SQLite, with settings changed by `configure`.
    pub async fn sqlite_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        configure(&mut config);
        Self::start(config, dir).await
    }

    /// A fresh database on the PostgreSQL server, or `None` (and a loud notice)
    /// when none is reachable.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(|_| {}).await
    }

    /// On PostgreSQL, with settings changed by `configure`.
    pub async fn postgres_with(configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let database = TestDatabase::create("PostgreSQL test").await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        config.database_url = Some(database.url.clone());
        configure(&mut config);
        let mut app = Self::start(config, dir).await;
        app.owned_database = Some(database);
        Some(app)
    }

    /// Two nodes sharing one fresh PostgreSQL database and fanning out through
    /// Redis, or `None` (and a loud notice) when either service is unreachable.
    pub async fn cluster() -> Option<(Self, Self)> {
        let Some(redis_url) = reachable_redis().await else {
            loud(
                "SKIPPED: multi-node test: no Redis at REDIS_URL (default redis://127.0.0.1:6379)",
            );
            return None;
        };
        let mut first = Self::postgres().await?;
        let database_url = first.database_url.clone();
        let database = first.owned_database.take();
        // A prefix of its own, so concurrent tests on one Redis do not hear each other.
        let prefix = format!("natter-test-{}", natter::domain::UserId::generate());
        let node = |dir: &tempfile::TempDir| {
            let mut config = Config::for_data_dir(dir.path());
            config.database_url = database_url.clone();
            config.redis_url = Some(redis_url.clone());
            config.redis_prefix = prefix.clone();
            config
        };
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (config_a, config_b) = (node(&dir_a), node(&dir_b));
        drop(first);
        let mut node_a = Self::start(config_a, dir_a).await;
        node_a.owned_database = database;
        Some((node_a, Self::start(config_b, dir_b).await))
    }

    async fn start(config: Config, dir: tempfile::TempDir) -> Self {
        let database_url = config.database_url.clone();
        let app = App::build(config).await.expect("app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            database_url,
            owned_database: None,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.http, &self.base, method, path, token, body).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// This app's data directory (attachment files live under it on SQLite).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// GET as `token`, the whole response (for its headers, or a body that is not JSON).
    pub async fn get_response(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, username: &str) -> TestUser {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({ "username": username, "password": "correct horse" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            username: username.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Signs in; returns the status and the body.
    pub async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "username": username, "password": password });
        self.call(Method::POST, "/api/auth/login", None, Some(body))
            .await
    }

    /// The direct conversation between two users (created on first call).
    pub async fn direct(&self, from: &TestUser, to: &TestUser) -> String {
        let (status, body) = self
            .post(
                "/api/conversations",
                &from.token,
                json!({ "userId": to.id }),
            )
            .await;
        assert!(status.is_success(), "open conversation: {body}");
        body["conversation"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn send(
        &self,
        user: &TestUser,
        conversation: &str,
        msg: &str,
        client_id: &str,
    ) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/conversations/{conversation}/messages"),
                &user.token,
                json!({ "msg": msg, "clientId": client_id }),
            )
            .await;
        assert!(status.is_success(), "send: {status} {body}");
        body["message"].clone()
    }

    pub async fn socket(&self, token: &str) -> TestSocket {
        TestSocket::connect(
            &self.base,
            Some(json!({ "token": token })),
            TransportType::Websocket,
        )
        .await
        .expect("socket connects")
    }
}

/// Clears the server configuration (`DATABASE_URL`, `REDIS_URL`, `NATTER_*`) that
/// `command` would inherit, so a natter process it starts, directly or through
/// npm, gets only the settings the test passes. All the tests share one process:
/// with `REDIS_URL` set for the cluster test, every spawned server would otherwise
/// join one Redis channel prefix and hear the others' events.
pub fn without_server_config(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("NATTER_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            command.env_remove(&*name);
        }
    }
    command
}

/// Writes past the test harness's output capture, so a skip is seen even on success.
pub fn loud(notice: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!! {notice} !!!\n");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The server stops first, then its database goes.
        drop(self.owned_database.take());
    }
}

/// A fresh PostgreSQL database, dropped (with its connections) when this is.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    /// `None`, and a loud notice naming `test`, when no server is reachable.
    pub async fn create(test: &str) -> Option<Self> {
        use sqlx::Connection;
        let admin_url = postgres_admin_url();
        let connect = sqlx::PgConnection::connect(&admin_url);
        let Ok(Ok(mut admin)) = tokio::time::timeout(Duration::from_secs(3), connect).await else {
            loud(&format!(
                "SKIPPED: {test}: no PostgreSQL at {admin_url} (set TEST_DATABASE_URL)"
            ));
            return None;
        };
        let name = format!("natter_t_{}", natter::domain::UserId::generate());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let (prefix, _) = admin_url.rsplit_once('/').expect("database URL has a path");
        let url = format!("{prefix}/{name}");
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for TestDatabase {
    /// Drop cannot await, so the DROP runs on a thread of its own.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(&sql).execute(&mut admin).await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database: {e:#}");
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// A Socket.IO client that records every event it receives.
pub struct TestSocket {
    client: SioClient,
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
}

impl TestSocket {
    /// Connects; `Err(message)` when the server refuses with `connect_error`.
    pub async fn connect(
        base: &str,
        auth: Option<Value>,
        transport: TransportType,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::unbounded_channel::<(String, Value)>();
        let (connected_tx, connected_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let events = tx.clone();
        let closed = tx.clone();
        let on_connect = connected_tx.clone();
        let mut builder = ClientBuilder::new(format!("{base}/api/socket.io/"))
            .transport_type(transport)
            .reconnect(false)
            .on_any(move |event, payload, _| {
                let events = events.clone();
                async move {
                    let _ = events.send((String::from(event), first_value(payload)));
                }
                .boxed()
            })
            .on("open", move |_, _| {
                let _ = on_connect.send(Ok(()));
                async {}.boxed()
            })
            .on("close", move |_, _| {
                let _ = closed.send(("close".to_owned(), Value::Null));
                async {}.boxed()
            })
            .on("error", move |payload, _| {
                let _ = connected_tx.send(Err(format!("{:?}", first_value(payload))));
                async {}.boxed()
            });
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        let client = builder.connect().await.map_err(|e| e.to_string())?;
        let mut connected_rx = connected_rx;
        match tokio::time::timeout(Duration::from_secs(5), connected_rx.recv()).await {
            Ok(Some(Ok(()))) => Ok(Self {
                client,
                events: Mutex::new(rx),
            }),
            Ok(Some(Err(e))) => Err(e),
            _ => Err("no connect answer".into()),
        }
    }

    /// Emits with an acknowledgement and waits for it.
    pub async fn emit_ack(&self, event: &str, payload: Value) -> Value {
        let (tx, rx) = oneshot::channel::<Value>();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        self.client
            .emit_with_ack(
                event,
                payload,
                Duration::from_secs(10),
                move |payload, _| {
                    if let Some(tx) = tx.lock().unwrap().take() {
                        // The client hands ack arguments over as one array.
                        let value = match first_value(payload) {
                            Value::Array(mut args) if args.len() == 1 => args.remove(0),
                            other => other,
                        };
                        let _ = tx.send(value);
                    }
                    async {}.boxed()
                },
            )
            .await
            .expect("emit");
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("ack within 10 s")
            .expect("ack")
    }

    /// Emits without waiting for anything.
    pub async fn emit_only(&self, event: &str, payload: Value) -> Result<(), String> {
        self.client
            .emit(event, payload)
            .await
            .map_err(|e| e.to_string())
    }

    /// The next event named `name` (others are skipped), within 5 s.
    pub async fn next(&self, name: &str) -> Value {
        self.try_next(name, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no '{name}' event within 5 s"))
    }

    pub async fn try_next(&self, name: &str, wait: Duration) -> Option<Value> {
        let mut events = self.events.lock().await;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some((event, payload))) if event == name => return Some(payload),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }

    /// `presence:subscribe` to these users; returns the ack.
    pub async fn subscribe(&self, user_ids: &[&str]) -> Value {
        self.emit_ack("presence:subscribe", json!({ "userIds": user_ids }))
            .await
    }

    /// Every event (name and payload) that arrives within `wait`, in order.
    pub async fn events_within(&self, wait: Duration) -> Vec<(String, Value)> {
        let mut events = self.events.lock().await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            seen.push(event);
        }
        seen
    }

    /// The `presence` events about `user_id` that arrive within `wait`, in order.
    pub async fn presence_of_within(&self, user_id: &str, wait: Duration) -> Vec<Value> {
        self.events_within(wait)
            .await
            .into_iter()
            .filter(|(name, payload)| name == "presence" && payload["userId"] == user_id)
            .map(|(_, payload)| payload)
            .collect()
    }

    /// The next event with any of the `names` (others are skipped), within 5 s.
    pub async fn next_of(&self, names: &[&str]) -> (String, Value) {
        let mut events = self.events.lock().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some((event, payload))) if names.contains(&event.as_str()) => {
                    return (event, payload);
                }
                Ok(Some(_)) => continue,
                _ => panic!("none of {names:?} within 5 s"),
            }
        }
    }

    /// The next `presence` event about `user_id`.
    pub async fn next_presence_of(&self, user_id: &str) -> Value {
        loop {
            let event = self.next("presence").await;
            if event["userId"] == user_id {
                return event;
            }
        }
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}

fn first_value(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.remove(0),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        _ => Value::Null,
    }
}
