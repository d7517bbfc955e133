//! The accept loop: hyper connections with a header-read deadline, a cap on open
//! connections, WebSocket upgrades, and a graceful shutdown that gives up at a
//! deadline.
//!
//! `axum::serve` has none of these knobs (hyper's header-read timeout needs a
//! timer, which it does not set), so a client that sends half a request head, or
//! nothing at all, would hold its connection for ever.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits of [`serve`], from `Config`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a whole request head; also how long a kept-alive connection
    /// may sit idle between requests.
    pub header_timeout: Duration,
    /// Open connections at most (a WebSocket or long-polling session counts
    /// while it lives); the next ones wait in the kernel's listen backlog.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` yields a deadline, then stops
/// accepting and waits for open requests to finish until that deadline.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = Instant>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    tokio::pin!(stop);
    let deadline = loop {
        // Over the cap, stop accepting: newcomers queue in the backlog, none is dropped.
        let permit = tokio::select! {
            deadline = &mut stop => break deadline,
            permit = slots.clone().acquire_owned() => permit.expect("never closed"),
        };
        let (tcp, remote) = tokio::select! {
            deadline = &mut stop => break deadline,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Socket.IO sends small frames back to back (an event, then an ack): with
        // Nagle's algorithm on, the second waits for the client's delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let head_seen = Arc::new(Notify::new());
        let seen = head_seen.clone();
        // Every request carries the slot: a WebSocket outlives its HTTP connection
        // (engineioxide keeps the upgrade request), and keeps the slot with it.
        let slot = ConnectionSlot {
            _permit: Arc::new(permit),
        };
        let request_slot = slot.clone();
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                seen.notify_one();
                request.extensions_mut().insert(ConnectInfo(remote));
                request.extensions_mut().insert(request_slot.clone());
                request
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                closed = connection => if let Err(e) = closed {
                    tracing::debug!("connection from {remote} ended: {e}");
                },
                () = first_head_missed(&head_seen, limits.header_timeout) => {
                    tracing::debug!("closed the connection from {remote}: no request head in time");
                }
            }
            drop(slot);
        });
    };
    drop(listener);
    let open = graceful.count();
    if tokio::time::timeout_at(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline passed: closing the connections still open (of {open})");
    }
}

/// One of the `max_connections` slots, held while its connection, or the
/// Socket.IO session it started, lives.
#[derive(Clone)]
pub struct ConnectionSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// Resolves when no request head arrived within `timeout`. hyper's own
/// header-read timer starts only once it has seen the protocol, so a client that
/// sends nothing at all would otherwise never be timed out.
async fn first_head_missed(seen: &Notify, timeout: Duration) {
    if tokio::time::timeout(timeout, seen.notified()).await.is_ok() {
        std::future::pending::<()>().await;
    }
}

/// Answers to an `accept` error: the per-connection ones are the client's
/// business; others (out of file descriptors) would spin, so wait a little.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(250)).await;
}
