//! A socket that cannot keep up is closed, never skipped: the delivery policy
//! ("an event is delivered or the socket is closed; never skipped on a live socket").
//!
//! The receiver is a raw Engine.IO long-polling client that connects and then stops
//! polling while several senders store more messages than its queue holds
//! (`SOCKET_QUEUE`). When it polls again it must find either every stored seq of each
//! conversation, in order, or a closed session after a gapless prefix; the rest is in
//! the history. The server must stay healthy and deliver to a new socket.

use std::collections::HashMap;
use std::time::Duration;

use crate::helpers::{TestApp, TestUser};
use natter::realtime::{SOCKET_QUEUE, overflow};
use serde_json::{Value, json};

const SENDERS: usize = 4;

/// A raw Engine.IO v4 long-polling client (no reconnection, no automatic polling).
struct Poller {
    http: reqwest::Client,
    url: String,
}

impl Poller {
    async fn connect(app: &TestApp, token: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let base = format!("{}/api/socket.io/?EIO=4&transport=polling", app.base);
        let open = http.get(&base).send().await.unwrap().text().await.unwrap();
        let handshake: Value = serde_json::from_str(open.strip_prefix('0').expect(&open)).unwrap();
        let url = format!("{base}&sid={}", handshake["sid"].as_str().unwrap());
        let poller = Self { http, url };
        poller
            .post(&format!("40{}", json!({ "token": token })))
            .await;
        // The CONNECT answer may follow a ping in a later poll.
        let mut seen = Vec::new();
        for _ in 0..5 {
            let (packets, open) = poller.poll().await;
            assert!(open, "the session stays open after CONNECT");
            seen.extend(packets);
            if seen.iter().any(|p| p.starts_with("40")) {
                return poller;
            }
        }
        panic!("no CONNECT answer in five polls: {seen:?}")
    }

    async fn post(&self, packet: &str) {
        let response = self
            .http
            .post(&self.url)
            .body(packet.to_owned())
            .send()
            .await;
        assert!(response.unwrap().status().is_success(), "POST {packet}");
    }

    /// One polling request: the packets, and whether the session is still open.
    /// An empty, timed-out poll means that nothing is waiting.
    async fn poll(&self) -> (Vec<String>, bool) {
        match self.http.get(&self.url).send().await {
            Err(e) if e.is_timeout() => (Vec::new(), true),
            Err(e) => panic!("poll: {e}"),
            Ok(response) if !response.status().is_success() => (Vec::new(), false),
            Ok(response) => {
                let body = response.text().await.unwrap();
                let packets: Vec<String> = body.split('\x1e').map(str::to_owned).collect();
                // "1" is the Engine.IO close packet.
                let open = !packets.iter().any(|p| p == "1");
                (packets, open)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_cannot_keep_up_is_closed_never_skipped() {
    // The senders outpace the send rate limit on purpose: this is about delivery.
    let app = TestApp::sqlite_with(|config| config.send_rate = 0).await;
    let receiver = app.register("slowreader").await;
    let mut senders: Vec<(TestUser, String)> = Vec::new();
    for i in 0..SENDERS {
        let sender = app.register(&format!("sender{i}")).await;
        let conversation = app.direct(&sender, &receiver).await;
        senders.push((sender, conversation));
    }
    let poller = Poller::connect(&app, &receiver.token).await;

    // More messages than the receiver's queue holds, from several senders at once,
    // while the receiver does not poll.
    let per_sender = SOCKET_QUEUE / SENDERS + 50;
    let sends = senders.iter().map(|(sender, conversation)| {
        let app = &app;
        async move {
            let mut seqs = Vec::new();
            for n in 0..per_sender {
                let text = format!("m{n}");
                let message = app.send(sender, conversation, &text, &text).await;
                seqs.push(message["seq"].as_i64().unwrap());
            }
            (conversation.clone(), seqs)
        }
    });
    let stored: HashMap<String, Vec<i64>> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .collect();
    assert!(stored.values().map(Vec::len).sum::<usize>() > SOCKET_QUEUE);

    // Poll until the session ends or nothing more is waiting.
    let mut delivered: HashMap<String, Vec<i64>> = HashMap::new();
    let mut open = true;
    while open {
        let (packets, still_open) = poller.poll().await;
        open = still_open;
        for packet in &packets {
            match packet.as_str() {
                "2" => poller.post("3").await, // a ping: answer it
                p if p.starts_with("42") => {
                    let event: Value = serde_json::from_str(&p[2..]).unwrap();
                    if event[0] == "message" {
                        let message = &event[1];
                        let conversation = message["conversationId"].as_str().unwrap();
                        let seq = message["seq"].as_i64().unwrap();
                        delivered
                            .entry(conversation.to_owned())
                            .or_default()
                            .push(seq);
                    }
                }
                _ => {}
            }
        }
        if open && packets.is_empty() {
            break;
        }
    }

    // Never a silent gap: per conversation, a prefix of the stored seqs, in order;
    // and all of them unless the session was closed.
    for (conversation, seqs) in &stored {
        let got = delivered
            .get(conversation)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        assert_eq!(
            got,
            &seqs[..got.len()],
            "conversation {conversation}: a gap"
        );
        if open {
            assert_eq!(
                got.len(),
                seqs.len(),
                "conversation {conversation}: open, incomplete"
            );
        }
        // What was not delivered is in the history, for the catch-up after reconnecting.
        let after = got.last().copied().unwrap_or(0);
        let (status, page) = app
            .get(
                &format!("/api/conversations/{conversation}/messages?after={after}&limit=100"),
                &receiver.token,
            )
            .await;
        assert!(status.is_success(), "history: {page}");
        let rest: Vec<i64> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = seqs[got.len()..].iter().copied().take(100).collect();
        assert_eq!(
            rest, expected,
            "conversation {conversation}: history after {after}"
        );
    }
    // The queue holds SOCKET_QUEUE events and more were sent without a poll: this
    // receiver cannot have had everything, so it must have been closed, and counted.
    assert!(
        !open,
        "more than SOCKET_QUEUE events waited, the socket must be closed"
    );
    // on_disconnect runs in a task of its own: give it a moment.
    let counted = async {
        while overflow::closed_full() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), counted)
        .await
        .expect("the close is counted");

    // The server stays healthy: it answers, and a new socket gets new messages.
    let (status, _) = app.get("/healthz", &receiver.token).await;
    assert!(status.is_success());
    let socket = app.socket(&receiver.token).await;
    let (sender, conversation) = &senders[0];
    let sent = app.send(sender, conversation, "after", "after").await;
    let event = socket.next("message").await;
    assert_eq!(event["seq"], sent["seq"]);
    socket.disconnect().await;
}
