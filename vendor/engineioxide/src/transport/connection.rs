//! A WebSocket session after its handshake, as one hand-written future.
//!
//! [`Connection`] reads frames and hands them to the handler, writes the packets of
//! the socket's queue and, for a session opened on this WebSocket, runs the heartbeat,
//! all from one `poll`. It replaces a reader, a writer and a heartbeat future joined
//! with `join!`/`select!`: those held the WebSocket split in two halves (a `BiLock`,
//! one more allocation), an interval with a boxed timer, two more timers and three
//! cancellation waiters, each in its own compiler-generated state. An idle connection
//! now holds the WebSocket, one timer and one cancellation waiter.
//!
//! What it does is what the three futures did:
//! - reading stops when the session is closed; the end of the stream, a close frame or
//!   packet, or an error close the session;
//! - writing takes the queued packets (buffered ones, then the volatile one), feeds them
//!   to the WebSocket and flushes once the queue is empty, and waits for the flush
//!   before taking more, so a peer that reads slowly fills the queue, not memory;
//!   once the session is closed, it flushes and sends a close frame;
//! - a session closed while its writer is stuck (a peer that no longer reads) gets
//!   `ping_timeout` to finish, then the connection is dropped;
//! - the heartbeat (v4: ping every `ping_interval`, the pong due within `ping_timeout`;
//!   v3: the client's ping due within `ping_interval + ping_timeout`) closes the socket
//!   with [`DisconnectReason::HeartbeatTimeout`] when a pong or ping is late.
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use engineioxide_core::{Packet, PacketBuf, ProtocolVersion};
use futures_util::{FutureExt, Sink, Stream};
use pin_project_lite::pin_project;
use smallvec::smallvec;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::{Instant, Sleep},
};
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};
use tokio_util::sync::WaitForCancellationFuture;

use crate::{DisconnectReason, Socket, engine::EngineIo, errors::Error, handler::EngineIoHandler};

use super::ws::ws_bytes_to_str;

/// Where the heartbeat run by this connection stands. The timer holds its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heartbeat {
    /// Not run here: an upgraded session keeps the heartbeat task it started on
    /// polling, and a closed session has none.
    Off,
    /// v4, first poll: a pong sent before the first ping is dropped, then the ping.
    Start,
    /// v4: the next ping is due at the timer.
    Tick,
    /// v4: a ping was sent; its pong is due at the timer.
    Pong,
    /// v3: the client's next ping is due at the timer.
    Ping,
}

/// Where the writer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Waiting for packets.
    Recv,
    /// Feeding the packets of `Connection::feeding` to the WebSocket.
    Feed,
    /// Flushing what was fed.
    Flush,
    /// The session is closed: flushing what is left.
    FinalFlush,
    /// The session is closed: sending the close frame.
    Close,
    /// Nothing more to write.
    Done,
}

pin_project! {
    /// One WebSocket session after its handshake; completes when the session is closed
    /// and the connection is done with.
    pub(crate) struct Connection<'a, H: EngineIoHandler, S> {
        engine: &'a Arc<EngineIo<H>>,
        socket: &'a Arc<Socket<H::Data>>,
        ws: WebSocketStream<S>,
        // The session was closed; from then on `timer` is the writer's deadline.
        closing: bool,
        reading: bool,
        heartbeat: Heartbeat,
        writer: Writer,
        // v4: when the next ping is due, counted from the first one so that it does
        // not drift (like `tokio::time::interval`).
        next_tick: Instant,
        // The packets being fed, and the message that waits for room in the WebSocket.
        feeding: smallvec::IntoIter<[Packet; 2]>,
        pending: Option<Message>,
        #[pin]
        timer: Sleep,
        #[pin]
        cancelled: WaitForCancellationFuture<'a>,
    }
}

impl<'a, H: EngineIoHandler, S> Connection<'a, H, S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// `heartbeat`: whether this connection runs the session's heartbeat (a session
    /// opened on this WebSocket) or not (one upgraded from polling).
    pub(crate) fn new(
        engine: &'a Arc<EngineIo<H>>,
        socket: &'a Arc<Socket<H::Data>>,
        ws: WebSocketStream<S>,
        heartbeat: bool,
    ) -> Self {
        let now = Instant::now();
        let config = &engine.config;
        let (heartbeat, deadline) = match (heartbeat, socket.protocol) {
            (false, _) => (Heartbeat::Off, now + config.ping_timeout),
            (true, ProtocolVersion::V3) => (
                Heartbeat::Ping,
                now + config.ping_interval + config.ping_timeout,
            ),
            (true, ProtocolVersion::V4) => (Heartbeat::Start, now),
        };
        Self {
            engine,
            socket,
            ws,
            closing: false,
            reading: true,
            heartbeat,
            writer: Writer::Recv,
            next_tick: now,
            feeding: PacketBuf::new().into_iter(),
            pending: None,
            timer: tokio::time::sleep_until(deadline),
            cancelled: socket.cancellation_token.cancelled(),
        }
    }
}

impl<H: EngineIoHandler, S> Future for Connection<'_, H, S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let (engine, socket) = (*this.engine, *this.socket);
        if !*this.closing && this.cancelled.as_mut().poll(cx).is_ready() {
            start_closing(this.closing, this.timer.as_mut(), engine);
        }
        if !*this.closing {
            read(engine, socket, this.ws, this.reading, cx);
            run_heartbeat(
                socket,
                this.heartbeat,
                this.next_tick,
                this.timer.as_mut(),
                &engine.config,
                cx,
            );
            // The reader or the heartbeat may just have closed the session.
            if socket.cancellation_token.is_cancelled() {
                start_closing(this.closing, this.timer.as_mut(), engine);
            }
        }
        write(
            socket,
            this.ws,
            this.writer,
            this.feeding,
            this.pending,
            *this.closing,
            cx,
        );
        if !*this.closing {
            return Poll::Pending;
        }
        if *this.writer == Writer::Done {
            return Poll::Ready(());
        }
        if this.timer.poll(cx).is_ready() {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "ws writer did not finish in time");
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// The session is closed: reading and the heartbeat stop, and the writer has
/// `ping_timeout` to flush and close.
fn start_closing<H: EngineIoHandler>(
    closing: &mut bool,
    timer: Pin<&mut Sleep>,
    engine: &Arc<EngineIo<H>>,
) {
    *closing = true;
    timer.reset(Instant::now() + engine.config.ping_timeout);
}

/// Hands the frames received to the handler until none is ready; the end of the
/// stream, a close frame or packet, and errors close the session.
fn read<H: EngineIoHandler, S>(
    engine: &Arc<EngineIo<H>>,
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
    reading: &mut bool,
    cx: &mut Context<'_>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    while *reading && !socket.cancellation_token.is_cancelled() {
        let res = match Pin::new(&mut *ws).poll_next(cx) {
            Poll::Pending => return,
            Poll::Ready(None) => Ok(false),
            Poll::Ready(Some(Err(e))) => Err(Error::from(e)),
            Poll::Ready(Some(Ok(msg))) => on_frame(engine, socket, msg),
        };
        match res {
            Ok(true) => continue,
            Ok(false) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = %socket.id, "ws transport was closed");
                engine.close_session(socket.id, DisconnectReason::TransportClose);
            }
            Err(ref _e) => {
                let reason = Option::<DisconnectReason>::from(_e)
                    .unwrap_or(DisconnectReason::TransportError);
                #[cfg(feature = "tracing")]
                tracing::debug!("error when handling packet: {:?}", _e);
                engine.close_session(socket.id, reason);
            }
        }
        *reading = false;
    }
}

/// Handles one frame; `Ok(false)` when the client closed the session.
fn on_frame<H: EngineIoHandler>(
    engine: &Arc<EngineIo<H>>,
    socket: &Arc<Socket<H::Data>>,
    msg: Message,
) -> Result<bool, Error> {
    match msg {
        Message::Text(msg) => match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
            Packet::Close => {
                #[cfg(feature = "tracing")]
                tracing::debug!("[sid={}] closing session", socket.id);
                engine.close_session(socket.id, DisconnectReason::TransportClose);
                Ok(false)
            }
            Packet::Pong | Packet::Ping => {
                // A pending signal means that the client is already known to be alive.
                socket.heartbeat.notify_one();
                Ok(true)
            }
            Packet::Message(msg) => {
                engine.handler.on_message(msg, socket.clone());
                Ok(true)
            }
            p => Err(Error::BadPacket(p)),
        },
        Message::Binary(mut data) => {
            if socket.protocol == ProtocolVersion::V3 && !data.is_empty() {
                // The first byte is the message type, which we don't need.
                data = data.split_off(1);
            }
            engine.handler.on_binary(data, socket.clone());
            Ok(true)
        }
        Message::Close(_) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("websocket closed, closing session");
            engine.close_session(socket.id, DisconnectReason::TransportClose);
            Ok(false)
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = ?socket.id, "unexpected ws message");
            Ok(true)
        }
    }
}

/// Sends pings (v4) or answers the client's (v3), and closes the socket with
/// [`DisconnectReason::HeartbeatTimeout`] when the other side is late. A pong (v4)
/// or ping (v3) read by [`read`] is a permit of `socket.heartbeat`.
fn run_heartbeat<D: Default + Send + Sync + 'static>(
    socket: &Socket<D>,
    heartbeat: &mut Heartbeat,
    next_tick: &mut Instant,
    mut timer: Pin<&mut Sleep>,
    config: &crate::config::EngineIoConfig,
    cx: &mut Context<'_>,
) {
    let (interval, timeout): (Duration, Duration) = (config.ping_interval, config.ping_timeout);
    let received = || socket.heartbeat.notified().now_or_never().is_some();
    let ok = loop {
        match *heartbeat {
            Heartbeat::Off => return,
            Heartbeat::Start => {
                // Some clients send the pong packet first: it answers no ping.
                received();
                *next_tick = Instant::now();
                *heartbeat = Heartbeat::Tick;
                timer.as_mut().reset(*next_tick);
                if !ping(
                    socket,
                    heartbeat,
                    next_tick,
                    interval,
                    timeout,
                    timer.as_mut(),
                ) {
                    break false;
                }
            }
            Heartbeat::Tick => {
                if timer.as_mut().poll(cx).is_pending() {
                    return;
                }
                if !ping(
                    socket,
                    heartbeat,
                    next_tick,
                    interval,
                    timeout,
                    timer.as_mut(),
                ) {
                    break false;
                }
            }
            Heartbeat::Pong => {
                if received() {
                    *next_tick += interval;
                    *heartbeat = Heartbeat::Tick;
                    timer.as_mut().reset(*next_tick);
                } else if timer.as_mut().poll(cx).is_pending() {
                    return;
                } else {
                    break false;
                }
            }
            Heartbeat::Ping => {
                if received() {
                    #[cfg(feature = "tracing")]
                    tracing::trace!(sid = ?socket.id, "ping received, sending pong");
                    if socket.queue.try_send(smallvec![Packet::Pong]).is_err() {
                        break false;
                    }
                    timer.as_mut().reset(Instant::now() + interval + timeout);
                } else if timer.as_mut().poll(cx).is_pending() {
                    return;
                } else {
                    break false;
                }
            }
        }
    };
    if !ok {
        #[cfg(feature = "tracing")]
        tracing::debug!(id = ?socket.id, "heartbeat error: {}", Error::HeartbeatTimeout);
        *heartbeat = Heartbeat::Off;
        socket.close(DisconnectReason::HeartbeatTimeout);
    }
}

/// The v4 ping of the current tick (skipped while the session upgrades); false when
/// it cannot be queued.
fn ping<D: Default + Send + Sync + 'static>(
    socket: &Socket<D>,
    heartbeat: &mut Heartbeat,
    next_tick: &mut Instant,
    interval: Duration,
    timeout: Duration,
    timer: Pin<&mut Sleep>,
) -> bool {
    if socket.is_upgrading() {
        *next_tick += interval;
        timer.reset(*next_tick);
        return true;
    }
    #[cfg(feature = "tracing")]
    tracing::trace!(sid = ?socket.id, "emitting ping");
    if socket.queue.try_send(smallvec![Packet::Ping]).is_err() {
        return false;
    }
    *heartbeat = Heartbeat::Pong;
    timer.reset(Instant::now() + timeout);
    true
}

/// Moves queued packets to the WebSocket until it or the queue has to wait.
fn write<D: Default + Send + Sync + 'static, S>(
    socket: &Socket<D>,
    ws: &mut WebSocketStream<S>,
    writer: &mut Writer,
    feeding: &mut smallvec::IntoIter<[Packet; 2]>,
    pending: &mut Option<Message>,
    closing: bool,
    cx: &mut Context<'_>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut ws = Pin::new(ws);
    loop {
        match *writer {
            Writer::Recv => match socket.queue.poll_recv(cx) {
                Poll::Ready(Some(packets)) => {
                    *feeding = packets.into_iter();
                    *writer = Writer::Feed;
                }
                Poll::Ready(None) => *writer = Writer::FinalFlush,
                Poll::Pending if closing => *writer = Writer::FinalFlush,
                Poll::Pending => return,
            },
            Writer::Feed => {
                if pending.is_none() {
                    match feeding.next() {
                        // A Noop wakes a polling request during an upgrade; one that
                        // was not polled in time has nothing to say here.
                        Some(Packet::Noop) => continue,
                        Some(packet) => *pending = Some(to_message(socket, packet)),
                        None => {
                            match socket.queue.try_recv() {
                                Some(packets) => *feeding = packets.into_iter(),
                                None => *writer = Writer::Flush,
                            }
                            continue;
                        }
                    }
                }
                let res = match ws.as_mut().poll_ready(cx) {
                    Poll::Pending => return,
                    Poll::Ready(Ok(())) => {
                        let msg = pending.take().expect("a message to send");
                        ws.as_mut().start_send(msg)
                    }
                    Poll::Ready(Err(e)) => {
                        pending.take();
                        Err(e)
                    }
                };
                if let Err(_e) = res {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                }
            }
            Writer::Flush => {
                if ws.as_mut().poll_flush(cx).is_pending() {
                    return;
                }
                #[cfg(feature = "tracing")]
                tracing::trace!(sid = %socket.id, "ws flush");
                *writer = Writer::Recv;
            }
            Writer::FinalFlush => {
                #[cfg(feature = "tracing")]
                tracing::trace!(sid = %socket.id, "ws closing flush");
                if ws.as_mut().poll_flush(cx).is_pending() {
                    return;
                }
                *writer = Writer::Close;
            }
            Writer::Close => {
                if ws.as_mut().poll_close(cx).is_pending() {
                    return;
                }
                *writer = Writer::Done;
            }
            Writer::Done => return,
        }
    }
}

/// The WebSocket message of a packet.
fn to_message<D: Default + Send + Sync + 'static>(socket: &Socket<D>, packet: Packet) -> Message {
    match packet {
        Packet::Binary(bin) | Packet::BinaryV3(bin) => {
            if socket.protocol == ProtocolVersion::V3 {
                // v3 protocol requires packet type as the first byte.
                // This requires a new buffer. This is OK as it is only for the V3 protocol.
                let mut buff = Vec::with_capacity(bin.len() + 1);
                buff.push(0x04);
                buff.extend(bin);
                Message::Binary(buff.into())
            } else {
                Message::Binary(bin)
            }
        }
        packet => {
            let packet: String = packet.try_into().unwrap();
            Message::Text(packet.into())
        }
    }
}
