//! A lean Engine.IO v4 / Socket.IO v4 client over WebSocket only.
//!
//! Just enough of the protocol for load generation: the handshake
//! (`0{open}` → `40{auth}` → `40{sid}` / `44{error}`), events (`42["name",..]`),
//! emits with acknowledgement (`42<id>[..]` answered by `43<id>[..]`) and the
//! heartbeat (server `2` → client `3`). No long-polling, no binary packets,
//! default namespace only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// One decoded text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Engine.IO `0`: the open packet (`sid`, `pingInterval`, ...).
    Open(Value),
    /// Engine.IO `1`.
    Close,
    /// Engine.IO `2` (server heartbeat; answer with `3`).
    Ping,
    /// Engine.IO `3`.
    Pong,
    /// Engine.IO `6`.
    Noop,
    /// Socket.IO `0` CONNECT answer, e.g. `{"sid":".."}`.
    Connect(Value),
    /// Socket.IO `1` DISCONNECT.
    Disconnect,
    /// Socket.IO `2` EVENT, with an ack id when the sender wants an answer.
    Event {
        id: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    /// Socket.IO `3` ACK.
    Ack { id: u64, args: Vec<Value> },
    /// Socket.IO `4` CONNECT_ERROR, e.g. `{"message":"unauthorized"}`.
    ConnectError(Value),
}

fn json_or_null(s: &str) -> Result<Value> {
    if s.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_str(s).context("bad JSON in packet")
    }
}

/// Parses one Engine.IO text packet (and the Socket.IO packet inside a `4`).
pub fn parse(frame: &str) -> Result<Packet> {
    let mut chars = frame.char_indices();
    let (_, t) = chars.next().ok_or_else(|| anyhow!("empty packet"))?;
    let rest = &frame[1..];
    match t {
        '0' => Ok(Packet::Open(json_or_null(rest)?)),
        '1' => Ok(Packet::Close),
        '2' => Ok(Packet::Ping),
        '3' => Ok(Packet::Pong),
        '6' => Ok(Packet::Noop),
        '4' => parse_sio(rest),
        _ => bail!("unknown engine.io packet type {t:?}"),
    }
}

fn parse_sio(s: &str) -> Result<Packet> {
    let t = s
        .chars()
        .next()
        .ok_or_else(|| anyhow!("empty socket.io packet"))?;
    let mut rest = &s[1..];
    if t == '5' || t == '6' {
        bail!("binary socket.io packets are not supported");
    }
    // Optional namespace: "/nsp," (only "/" is used here; skip it either way).
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(i) => rest = &rest[i + 1..],
            None => rest = "",
        }
    }
    // Optional ack id: leading digits.
    let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    let id = if digits > 0 {
        Some(rest[..digits].parse::<u64>().context("bad ack id")?)
    } else {
        None
    };
    rest = &rest[digits..];
    match t {
        '0' => Ok(Packet::Connect(json_or_null(rest)?)),
        '1' => Ok(Packet::Disconnect),
        '2' => {
            let v = json_or_null(rest)?;
            let Value::Array(mut arr) = v else {
                bail!("event payload is not an array");
            };
            if arr.is_empty() {
                bail!("event without a name");
            }
            let name = match arr.remove(0) {
                Value::String(n) => n,
                other => bail!("event name is not a string: {other}"),
            };
            Ok(Packet::Event {
                id,
                name,
                args: arr,
            })
        }
        '3' => {
            let id = id.ok_or_else(|| anyhow!("ack without id"))?;
            match json_or_null(rest)? {
                Value::Array(args) => Ok(Packet::Ack { id, args }),
                other => bail!("ack payload is not an array: {other}"),
            }
        }
        '4' => Ok(Packet::ConnectError(json_or_null(rest)?)),
        _ => bail!("unknown socket.io packet type {t:?}"),
    }
}

/// `40{auth}`: Socket.IO CONNECT to the default namespace.
pub fn encode_connect(auth: &Value) -> String {
    format!("40{auth}")
}

/// `42["name",payload]` or, with an ack id, `42<id>["name",payload]`.
pub fn encode_event(name: &str, payload: &Value, ack_id: Option<u64>) -> String {
    let body = Value::Array(vec![Value::String(name.to_owned()), payload.clone()]);
    match ack_id {
        Some(id) => format!("42{id}{body}"),
        None => format!("42{body}"),
    }
}

/// What a connection hands to its owner: the packet and when its frame arrived.
#[derive(Debug)]
pub struct Incoming {
    pub at: Instant,
    pub packet: Packet,
}

/// A connected Socket.IO client. Dropping it closes the WebSocket.
pub struct Client {
    tx: mpsc::UnboundedSender<String>,
    #[allow(dead_code)]
    pub sid: String,
}

impl Client {
    /// Sends a raw text frame (e.g. from [`encode_event`]).
    pub fn send_raw(&self, frame: String) -> Result<()> {
        self.tx
            .send(frame)
            .map_err(|_| anyhow!("connection closed"))
    }

    pub fn emit(&self, name: &str, payload: &Value, ack_id: Option<u64>) -> Result<()> {
        self.send_raw(encode_event(name, payload, ack_id))
    }
}

/// Counters shared by many connections.
#[derive(Default, Debug)]
pub struct Stats {
    /// connections that ended without us closing them
    pub dropped: AtomicU64,
    /// frames we could not parse
    pub bad_frames: AtomicU64,
    /// heartbeats answered
    pub pings: AtomicU64,
}

/// `http://host:port` → `ws://host:port/api/socket.io/?EIO=4&transport=websocket`
pub fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .unwrap_or(base);
    format!("ws://{rest}/api/socket.io/?EIO=4&transport=websocket")
}

/// Opens a WebSocket, does the Engine.IO and Socket.IO handshakes with
/// `auth = {"token": token}`, then spawns a task that answers heartbeats and
/// forwards every event and ack to `events` (dropped when `events` is None).
/// Source addresses the tool's sockets spread over (127.0.0.1 to 127.0.0.64;
/// all of 127.0.0.0/8 is this machine).
const SOURCE_ADDRESSES: usize = 64;

/// A TCP connection to the server from the next of [`SOURCE_ADDRESSES`].
///
/// With thousands of sockets from one address to one port, the kernel's
/// search for a free ephemeral port in `connect` (`__inet_hash_connect`,
/// `__inet_check_established`) took a fifth of the tool's core, and the tool's
/// core, not the server, bounded the connect rate. Spread over 64 addresses,
/// each has few connections to check.
async fn tcp_from_spread_source(url: &str) -> Result<tokio::net::TcpStream> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse().context("socket url")?;
    let host: std::net::Ipv4Addr = uri
        .host()
        .unwrap_or("127.0.0.1")
        .parse()
        .context("the server's address must be an IPv4 address")?;
    let port = uri.port_u16().unwrap_or(80);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % SOURCE_ADDRESSES;
    let source = std::net::Ipv4Addr::new(127, 0, 0, 1 + n as u8);
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let stream = socket.connect((host, port).into()).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

pub async fn connect(
    url: &str,
    token: &str,
    events: Option<mpsc::UnboundedSender<Incoming>>,
    stats: Arc<Stats>,
    timeout: Duration,
) -> Result<Client> {
    let cfg = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let handshake = async {
        let stream = tcp_from_spread_source(url).await?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(cfg))
            .await
            .context("websocket connect")?;
        let mut sent_connect = false;
        loop {
            let msg = ws
                .next()
                .await
                .ok_or_else(|| anyhow!("closed during handshake"))?
                .context("websocket read during handshake")?;
            let Message::Text(text) = msg else { continue };
            match parse(text.as_str())? {
                Packet::Open(_) if !sent_connect => {
                    let auth = serde_json::json!({ "token": token });
                    ws.send(Message::text(encode_connect(&auth))).await?;
                    sent_connect = true;
                }
                Packet::Ping => ws.send(Message::text("3")).await?,
                Packet::Connect(v) => {
                    let sid = v
                        .get("sid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    return Ok::<_, anyhow::Error>((ws, sid));
                }
                Packet::ConnectError(v) => {
                    let m = v.get("message").and_then(Value::as_str).unwrap_or("?");
                    bail!("connect_error: {m}");
                }
                Packet::Close | Packet::Disconnect => bail!("closed during handshake"),
                _ => {}
            }
        }
    };
    let (ws, sid) = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| anyhow!("handshake timed out"))??;

    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(frame) => {
                        if sink.send(Message::text(frame)).await.is_err() {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                    None => {
                        // the owner dropped the client: close politely
                        let _ = sink.send(Message::Close(None)).await;
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            while let Some(Ok(_)) = stream.next().await {}
                        }).await;
                        return;
                    }
                },
                inc = stream.next() => {
                    let at = Instant::now();
                    let text = match inc {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Some(Ok(_)) => continue,
                    };
                    match parse(text.as_str()) {
                        Ok(Packet::Ping) => {
                            stats.pings.fetch_add(1, Ordering::Relaxed);
                            if sink.send(Message::text("3")).await.is_err() {
                                stats.dropped.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        }
                        Ok(Packet::Close) | Ok(Packet::Disconnect) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Ok(p @ (Packet::Event { .. } | Packet::Ack { .. })) => {
                            if let Some(ev) = &events {
                                let _ = ev.send(Incoming { at, packet: p });
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    });
    Ok(Client { tx, sid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn engine_io_packets() {
        assert_eq!(
            parse(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#).unwrap(),
            Packet::Open(json!({"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}))
        );
        assert_eq!(parse("2").unwrap(), Packet::Ping);
        assert_eq!(parse("3").unwrap(), Packet::Pong);
        assert_eq!(parse("1").unwrap(), Packet::Close);
        assert_eq!(parse("6").unwrap(), Packet::Noop);
        assert!(parse("").is_err());
        assert!(parse("9").is_err());
    }

    #[test]
    fn connect_and_connect_error() {
        assert_eq!(
            parse(r#"40{"sid":"x1"}"#).unwrap(),
            Packet::Connect(json!({"sid":"x1"}))
        );
        assert_eq!(parse("40").unwrap(), Packet::Connect(Value::Null));
        assert_eq!(
            parse(r#"44{"message":"unauthorized"}"#).unwrap(),
            Packet::ConnectError(json!({"message":"unauthorized"}))
        );
        assert_eq!(parse("41").unwrap(), Packet::Disconnect);
    }

    #[test]
    fn events_with_and_without_ack_id() {
        assert_eq!(
            parse(r#"42["message",{"seq":7,"msg":"hi [1]"}]"#).unwrap(),
            Packet::Event {
                id: None,
                name: "message".into(),
                args: vec![json!({"seq":7,"msg":"hi [1]"})]
            }
        );
        assert_eq!(
            parse(r#"4212["typing",{"conversationId":"c"}]"#).unwrap(),
            Packet::Event {
                id: Some(12),
                name: "typing".into(),
                args: vec![json!({"conversationId":"c"})]
            }
        );
        assert_eq!(
            parse(r#"42/,3["a",1,2]"#).unwrap(),
            Packet::Event {
                id: Some(3),
                name: "a".into(),
                args: vec![json!(1), json!(2)]
            }
        );
        assert!(parse("42[]").is_err());
        assert!(parse("42[1]").is_err());
        assert!(parse("42{}").is_err());
        assert!(parse(r#"452-["x",{"_placeholder":true,"num":0}]"#).is_err());
    }

    #[test]
    fn acks() {
        assert_eq!(
            parse(r#"43123[{"ok":true,"message":{"seq":1}}]"#).unwrap(),
            Packet::Ack {
                id: 123,
                args: vec![json!({"ok":true,"message":{"seq":1}})]
            }
        );
        assert_eq!(
            parse("430[]").unwrap(),
            Packet::Ack {
                id: 0,
                args: vec![]
            }
        );
        assert!(parse(r#"43[{"ok":true}]"#).is_err(), "ack needs an id");
    }

    #[test]
    fn encoding_round_trips() {
        let p = json!({"conversationId":"c1","msg":"x","clientId":"k"});
        let f = encode_event("message:send", &p, Some(42));
        assert_eq!(
            f,
            r#"4242["message:send",{"clientId":"k","conversationId":"c1","msg":"x"}]"#
        );
        assert_eq!(
            parse(&f).unwrap(),
            Packet::Event {
                id: Some(42),
                name: "message:send".into(),
                args: vec![p.clone()]
            }
        );
        assert_eq!(
            encode_event("typing", &json!({}), None),
            r#"42["typing",{}]"#
        );
        assert_eq!(encode_connect(&json!({"token":"t"})), r#"40{"token":"t"}"#);
    }

    #[test]
    fn ws_urls() {
        assert_eq!(
            ws_url("http://127.0.0.1:3100"),
            "ws://127.0.0.1:3100/api/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            ws_url("http://127.0.0.1:3100/"),
            "ws://127.0.0.1:3100/api/socket.io/?EIO=4&transport=websocket"
        );
    }
}
