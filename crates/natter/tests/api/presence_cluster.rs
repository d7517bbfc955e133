//! Presence across nodes (issue 12).
//!
//! Three real natter processes on one fresh PostgreSQL database and one Redis
//! prefix, with a 3 s heartbeat TTL. alice is connected to node 1, bob to node 2,
//! carol to node 3. `online` in HTTP answers is cluster-wide: node 2 says alice
//! is online though she has no socket there. Node 1 is then killed with SIGKILL
//! (its sockets never close cleanly): within the TTL and a tick, bob and carol
//! each hear `presence {userId: alice, online: false}` exactly once (two live
//! nodes race to announce it), and node 2 answers online=false with a
//! `lastSeenAt`. Skipped, loudly, without PostgreSQL or Redis.
//!
//! The node processes are killed and the database dropped on every exit path
//! (guards from `redis_restart`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestDatabase, TestSocket, loud, reachable_redis};
use crate::redis_restart::Node;

/// The heartbeat TTL the nodes run with, in seconds.
const TTL: &str = "3";

/// How long a killed node's users may stay online: the TTL, a tick, slack for
/// a loaded machine. Well under the 60 s promise.
const OFFLINE_WITHIN: Duration = Duration::from_secs(20);

/// How long presence may take to spread to the other nodes' HTTP answers.
const DEADLINE: Duration = Duration::from_secs(10);

async fn user(node: &Node, token: &str, id: &str) -> Value {
    let path = format!("/api/users/{id}");
    let (status, body) = node.call(Method::GET, &path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"].clone()
}

/// Polls `GET /api/users/{id}` on `node` until its `online` is `online`.
async fn wait_online(node: &Node, token: &str, id: &str, online: bool) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let user = user(node, token, id).await;
        if user["online"] == online {
            return (user, started.elapsed());
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{} still says {user} after {DEADLINE:?}, expected online={online}",
            node.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every `presence` event about `id` that arrives on `socket` before `until`.
async fn presence_of(socket: &TestSocket, id: &str, until: Instant) -> Option<Value> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let event = socket.try_next("presence", left).await?;
        if event["userId"] == id {
            return Some(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_go_offline_everywhere() {
    let Some(redis_url) = reachable_redis().await else {
        loud(
            "SKIPPED: presence across nodes: no Redis at REDIS_URL (default redis://127.0.0.1:6379)",
        );
        return;
    };
    let Some(database) = TestDatabase::create("presence across nodes").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = format!("natter-presence-{}", natter::domain::UserId::generate());
    let env = [("NATTER_PRESENCE_TTL", TTL)];
    let (path, url, redis, prefix, env) = (
        dir.path(),
        database.url.as_str(),
        redis_url.as_str(),
        prefix.as_str(),
        &env[..],
    );
    let start = move |name| Node::start_with(name, path, url, redis, prefix, env);
    // One after the other: the first runs the migrations.
    let mut one = start("node 1").await;
    let two = start("node 2").await;
    let three = start("node 3").await;

    let (alice_id, alice) = one.register("alice").await;
    let (bob_id, bob) = two.register("bob").await;
    let (carol_id, carol) = three.register("carol").await;
    let _alice_1 = one.socket(&alice).await;
    let bob_2 = two.socket(&bob).await;
    let carol_3 = three.socket(&carol).await;
    for socket in [&bob_2, &carol_3] {
        socket.subscribe(&[&alice_id]).await;
    }

    // Cluster-wide `online`: each node knows of the users on the others.
    let (_, took) = wait_online(&two, &bob, &alice_id, true).await;
    eprintln!("node 2 saw alice online after {took:?}");
    wait_online(&one, &alice, &bob_id, true).await;
    wait_online(&two, &bob, &carol_id, true).await;
    let (status, directory) = two.call(Method::GET, "/api/users", Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK, "{directory}");
    let listed: Vec<(&str, bool)> = directory["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].as_str().unwrap(), u["online"] == true))
        .collect();
    assert_eq!(
        listed,
        [("alice", true), ("carol", true)],
        "the directory too"
    );
    let alice_now = user(&two, &bob, &alice_id).await;
    assert_eq!(alice_now["lastSeenAt"], Value::Null, "{alice_now}");

    // Announcements of the connects above may still be on their way: take
    // them now, so that what follows the kill is only what the kill caused.
    for socket in [&bob_2, &carol_3] {
        while socket
            .try_next("presence", Duration::from_millis(300))
            .await
            .is_some()
        {}
    }

    // Node 1 dies without closing anything.
    let before_kill = natter::domain::now_ms();
    one.process.kill();
    let killed = Instant::now();
    let until = killed + OFFLINE_WITHIN;
    let heard = presence_of(&bob_2, &alice_id, until)
        .await
        .unwrap_or_else(|| panic!("bob heard no presence of alice within {OFFLINE_WITHIN:?}"));
    let took = killed.elapsed();
    eprintln!("bob heard alice offline {took:?} after node 1 was killed");
    assert_eq!(heard["online"], false, "{heard}");
    let last_seen = heard["lastSeenAt"]
        .as_i64()
        .unwrap_or_else(|| panic!("lastSeenAt in {heard}"));
    assert!(
        last_seen <= before_kill && last_seen > before_kill - 10_000,
        "lastSeenAt {last_seen} is node 1's last heartbeat, before the kill at {before_kill}"
    );
    let carol_heard = presence_of(&carol_3, &alice_id, until)
        .await
        .expect("carol heard alice go offline too");
    assert_eq!(
        carol_heard, heard,
        "one announcement, the same for everyone"
    );

    // Every node answers offline with the last-seen time.
    for (node, token) in [(&two, &bob), (&three, &carol)] {
        let (alice_now, _) = wait_online(node, token, &alice_id, false).await;
        assert_eq!(alice_now["lastSeenAt"], last_seen, "{alice_now}");
    }
    // Two live nodes saw node 1 die; only one announced it. A few ticks later
    // there is still no second announcement.
    let quiet = Instant::now() + Duration::from_millis(2_500);
    if let Some(again) = presence_of(&bob_2, &alice_id, quiet).await {
        panic!("alice announced again: {again}");
    }
    // The survivors stay online for each other.
    assert_eq!(user(&two, &bob, &carol_id).await["online"], true);
    assert_eq!(user(&three, &carol, &bob_id).await["online"], true);

    let reaped: Vec<&Node> = [&two, &three]
        .into_iter()
        .filter(|node| node.log_text().contains("stopped sending heartbeats"))
        .collect();
    assert_eq!(reaped.len(), 1, "exactly one node logged the reaping");
    drop((bob_2, carol_3));
}
