//! The ws transport module is responsible for handling websocket connections
//! The only public function is [`new_req`] which is used to upgrade a http request to a websocket connection
//!
//! Other functions are used internally to handle the websocket connection through tasks and channels
//! and to handle upgrade from polling to ws

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, request::Parts};
use smallvec::smallvec;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::mpsc::error::TrySendError,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        self, Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};
use tokio_util::future::FutureExt as _;

use engineioxide_core::{Packet, ProtocolVersion, Sid, Str, TransportType};

use crate::{
    DisconnectReason, Socket, body::ResponseBody, config::EngineIoConfig, engine::EngineIo,
    errors::Error, handler::EngineIoHandler, transport::make_open_packet,
};

use super::connection::Connection;

/// Create a response for websocket upgrade
fn ws_response<B>(ws_key: &HeaderValue) -> Response<ResponseBody<B>> {
    let derived = derive_accept_key(ws_key.as_bytes());
    let sec = derived.parse::<HeaderValue>().unwrap();
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        )
        .header(http::header::SEC_WEBSOCKET_ACCEPT, sec)
        .body(ResponseBody::empty_response())
        .unwrap() // we are only using constants
}

/// Upgrade a websocket request to create a websocket connection.
///
/// If a sid is provided in the query it means that is is upgraded from an existing HTTP polling request.
/// In this case the http polling request is closed and the SID is kept for the websocket
pub fn new_req<R: Send + 'static, B, H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req: Request<R>,
) -> Result<Response<ResponseBody<B>>, Error> {
    let ws_key = req
        .headers()
        .get("Sec-WebSocket-Key")
        .ok_or(Error::InvalidWebSocketKey)?
        .clone();
    // Takes the upgrade out of the request's extensions rather than cloning the request
    // head: the socket keeps the head for its whole life, and needs it only once.
    let mut req = req;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, _) = req.into_parts();

    tokio::spawn(async move {
        let conn = on_upgrade.await.map(hyper_util::rt::TokioIo::new);

        let res = match conn {
            Ok(conn) => on_init(engine.clone(), conn, protocol, sid, parts).await,
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("ws upgrade error: {}", _e);
                return;
            }
        };

        match res {
            Ok(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed")
            }
            Err(Error::MultipleWebsocketRequests) => {}
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed with error: {_e}");
                if let Some(sid) = sid {
                    engine.close_session(sid, DisconnectReason::TransportError);
                }
            }
        }
    });

    Ok(ws_response(&ws_key))
}

/// Handle a websocket connection upgrade
///
/// Sends an open packet if it is not an upgrade from a polling request
///
/// Read packets from the websocket and handle them, it will block until the connection is closed
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", name = "init_websocket", skip(engine, conn, req_data))
)]
pub async fn on_init<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(engine.config.ws_read_buffer_size)
        .max_message_size(Some(engine.config.ws_max_message_size))
        .max_frame_size(Some(engine.config.ws_max_frame_size));

    let ws_init = move || WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config));
    let (socket, ws) = if let Some(sid) = sid {
        match engine.get_socket(sid) {
            None => return Err(Error::UnknownSessionID(sid)),
            Some(socket) if socket.is_ws() => return Err(Error::MultipleWebsocketRequests),
            Some(socket) => {
                let mut ws = ws_init().await;

                let upgrade_fut = upgrade_handshake::<H, S>(&socket, &mut ws);
                match tokio::time::timeout(engine.config.upgrade_timeout, upgrade_fut)
                    .with_cancellation_token(&socket.cancellation_token)
                    .await
                {
                    Some(Ok(res)) => res?,
                    Some(Err(_)) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "ws upgrade timed out, closing session");
                        engine.close_session(socket.id, DisconnectReason::TransportError);
                        return Err(Error::Upgrade);
                    }
                    None => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "socket is being closed");
                        return Err(Error::Upgrade);
                    }
                }
                (socket, ws)
            }
        }
    } else {
        let socket = engine.create_session(protocol, TransportType::Websocket, req_data, false);

        #[cfg(feature = "tracing")]
        tracing::debug!("new websocket connection");

        let mut ws = ws_init().await;
        init_handshake(socket.id, &mut ws, &engine.config).await?;
        (socket, ws)
    };
    // An upgraded session keeps the heartbeat task it started with.
    run(&engine, &socket, ws, sid.is_none()).await;
    Ok(())
}

/// Runs the session on its WebSocket until it is closed: reads, writes and (with
/// `heartbeat`) runs the heartbeat, in one future ([`Connection`]).
async fn run<H: EngineIoHandler, S>(
    engine: &Arc<EngineIo<H>>,
    socket: &Arc<Socket<H::Data>>,
    ws: WebSocketStream<S>,
    heartbeat: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A polling request that was in progress during the upgrade may still hold the
    // lock; the queue is read only once it is released.
    let lock = socket.internal_rx.lock();
    let Some(_internal_rx) = lock
        .with_cancellation_token(&socket.cancellation_token)
        .await
    else {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "session closed before starting the ws writer");
        return;
    };
    Connection::new(engine, socket, ws, heartbeat).await;
}

/// Send a Engine.IO [`OpenPacket`] to initiate a websocket connection
async fn init_handshake<S>(
    sid: Sid,
    ws: &mut WebSocketStream<S>,
    config: &EngineIoConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let packet = Packet::Open(make_open_packet(TransportType::Websocket, sid, config));
    let packet: String = packet.into();
    ws.send(Message::Text(packet.into())).await?;
    Ok(())
}

/// Upgrade a session from a polling request to a websocket request.
///
/// Before upgrading the session the server should send a NOOP packet to any pending polling request.
///
/// ## Handshake :
/// ```text
/// CLIENT                                                 SERVER
///│                                                      │
///│   GET /engine.io/?EIO=4&transport=websocket&sid=...  │
///│ ───────────────────────────────────────────────────► │
///│  ◄─────────────────────────────────────────────────┘ │
///│            HTTP 101 (WebSocket handshake)            │
///│                                                      │
///│            -----  WebSocket frames -----             │
///│  ─────────────────────────────────────────────────►  │
///│                         2probe                       │ (ping packet)
///│  ◄─────────────────────────────────────────────────  │
///│                         3probe                       │ (pong packet)
///│  ─────────────────────────────────────────────────►  │
///│                         5                            │ (upgrade packet)
///│                                                      │
///│            -----  WebSocket frames -----             │
/// ```
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", skip(socket, ws))
)]
async fn upgrade_handshake<H: EngineIoHandler, S>(
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tracing")]
    tracing::debug!("starting websocket connection upgrade");

    // The socket is upgrading, from now on all polling
    // request will return a `Packet::Noop`
    socket.start_upgrade();

    // We send a last Noop request to close a potential waiting polling request.
    // A full queue needs none: a polling request does not wait while packets are queued.
    if let Err(TrySendError::Closed(_)) = socket.queue.try_send(smallvec![Packet::Noop]) {
        return Err(Error::Upgrade);
    }

    // wait for any current polling connection to finish by waiting for the socket to be unlocked
    // All other polling connection will be immediately closed with a NOOP packet.
    let _lock = socket.internal_rx.lock().await;

    // Fetch the next packet from the ws stream, it should be a PingUpgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        _ => Err(Error::Upgrade)?,
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::PingUpgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("received first ping upgrade");
            // Respond with a PongUpgrade packet
            ws.send(Message::Text(String::from(Packet::PongUpgrade).into()))
                .await?;
        }
        p => Err(Error::BadPacket(p))?,
    };

    // Fetch the next packet from the ws stream, it should be an Upgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        Some(Ok(Message::Close(_))) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws stream closed before upgrade");
            Err(Error::Upgrade)?
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!("unexpected ws message before upgrade");
            Err(Error::Upgrade)?
        }
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::Upgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgraded successfully")
        }
        p => Err(Error::BadPacket(p))?,
    };

    socket.upgrade_to_websocket();
    Ok(())
}

pub(super) fn ws_bytes_to_str(bytes: tungstenite::Utf8Bytes) -> Str {
    // SAFETY: the bytes are guaranteed to be valid UTF-8 by the tungstenite parser
    unsafe { Str::from_bytes_unchecked(bytes.into()) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use http::Request;
    use tokio::io::DuplexStream;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[derive(Debug)]
    struct StubHandler;
    impl EngineIoHandler for StubHandler {
        type Data = ();
        fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
        fn on_disconnect(&self, _: Arc<Socket<()>>, _: DisconnectReason) {}
        fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
        fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
    }

    fn socket() -> Arc<Socket<()>> {
        Arc::new(Socket::new(
            ProtocolVersion::V4,
            TransportType::Websocket,
            &EngineIoConfig::default(),
            Request::<()>::default().into_parts().0,
            Box::new(|_, _| ()),
            false,
        ))
    }

    async fn ws_pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(1024);
        (
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
        )
    }

    fn engine() -> Arc<EngineIo<StubHandler>> {
        Arc::new(EngineIo::new(
            Arc::new(StubHandler),
            EngineIoConfig::default(),
        ))
    }

    /// A polling request can still hold the lock at the end of an upgrade.
    #[tokio::test]
    async fn writer_waits_for_the_lock_of_a_polling_request() {
        let (engine, socket) = (engine(), socket());
        let (server, mut client) = ws_pair().await;

        let polling = socket.internal_rx.lock().await;
        let s = socket.clone();
        let writer = tokio::spawn(async move { run(&engine, &s, server, false).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "the writer should wait for the lock");

        drop(polling);
        socket.emit(Str::from("hello")).unwrap();
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the writer should send the packet")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("4hello"));
    }

    #[tokio::test]
    async fn writer_waiting_for_the_lock_stops_with_the_session() {
        let (engine, socket) = (engine(), socket());
        let (server, _client) = ws_pair().await;

        let _polling = socket.internal_rx.lock().await;
        let s = socket.clone();
        let writer = tokio::spawn(async move { run(&engine, &s, server, false).await });
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.cancellation_token.cancel();
        tokio::time::timeout(TIMEOUT, writer)
            .await
            .expect("the writer should stop")
            .unwrap();
    }

    /// Packets queued before the session closes are sent, then a close frame.
    #[tokio::test]
    async fn a_closed_session_flushes_then_closes_the_websocket() {
        let (engine, socket) = (engine(), socket());
        let (server, mut client) = ws_pair().await;
        let s = socket.clone();
        let conn = tokio::spawn(async move { run(&engine, &s, server, false).await });
        // A session closed before its connection holds the queue's lock sends nothing.
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.emit(Str::from("a")).unwrap();
        socket.emit(Str::from("b")).unwrap();
        socket.cancellation_token.cancel();
        let mut got = Vec::new();
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(TIMEOUT, client.next()).await {
            got.push(msg);
        }
        assert_eq!(got[..2], [Message::text("4a"), Message::text("4b")]);
        assert!(matches!(got.get(2), Some(Message::Close(_))), "{got:?}");
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection should end")
            .unwrap();
    }

    /// A text frame reaches the handler; the client's close frame ends the connection.
    #[tokio::test]
    async fn frames_reach_the_handler_and_a_close_frame_ends_the_connection() {
        #[derive(Debug, Default)]
        struct Recorder(std::sync::Mutex<Vec<String>>);
        impl EngineIoHandler for Recorder {
            type Data = ();
            fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
            fn on_disconnect(&self, _: Arc<Socket<()>>, r: DisconnectReason) {
                self.0.lock().unwrap().push(format!("{r:?}"));
            }
            fn on_message(self: &Arc<Self>, msg: Str, _: Arc<Socket<()>>) {
                self.0.lock().unwrap().push(msg.to_string());
            }
            fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
        }
        let handler = Arc::new(Recorder::default());
        let engine = Arc::new(EngineIo::new(handler.clone(), EngineIoConfig::default()));
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        );
        let (server, mut client) = ws_pair().await;
        let conn = tokio::spawn(async move { run(&engine, &socket, server, false).await });

        client.send(Message::text("4hello")).await.unwrap();
        client.close(None).await.unwrap();
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection should end")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*handler.0.lock().unwrap(), ["hello", "TransportClose"]);
    }

    /// v4: a ping at once and every interval while pongs come; a missing pong closes.
    #[tokio::test]
    async fn heartbeat_pings_and_closes_when_a_pong_is_late() {
        #[derive(Debug, Default)]
        struct Reasons(std::sync::Mutex<Vec<DisconnectReason>>);
        impl EngineIoHandler for Reasons {
            type Data = ();
            fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
            fn on_disconnect(&self, _: Arc<Socket<()>>, r: DisconnectReason) {
                self.0.lock().unwrap().push(r);
            }
            fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
            fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
        }
        let handler = Arc::new(Reasons::default());
        let config = EngineIoConfig::builder()
            .ping_interval(Duration::from_millis(60))
            .ping_timeout(Duration::from_millis(40))
            .build();
        let engine = Arc::new(EngineIo::new(handler.clone(), config));
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        );
        let (server, mut client) = ws_pair().await;
        let conn = tokio::spawn(async move { run(&engine, &socket, server, true).await });

        for _ in 0..3 {
            let msg = tokio::time::timeout(TIMEOUT, client.next()).await.unwrap();
            assert_eq!(msg.unwrap().unwrap(), Message::text("2"));
            client.send(Message::text("3")).await.unwrap();
        }
        // No pong for the fourth ping: the close packet, then the close frame.
        let msg = tokio::time::timeout(TIMEOUT, client.next()).await.unwrap();
        assert_eq!(msg.unwrap().unwrap(), Message::text("2"));
        let msg = tokio::time::timeout(TIMEOUT, client.next()).await.unwrap();
        assert_eq!(msg.unwrap().unwrap(), Message::text("1"));
        let msg = tokio::time::timeout(TIMEOUT, client.next()).await.unwrap();
        assert!(matches!(msg, Some(Ok(Message::Close(_)))), "{msg:?}");
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection should end")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            *handler.0.lock().unwrap(),
            [DisconnectReason::HeartbeatTimeout]
        );
    }
}
