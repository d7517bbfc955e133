//! Sockets closed because their queue of outgoing events was full.
//!
//! The delivery policy: an event is delivered or the socket is closed, never skipped
//! on a live socket. engineioxide (patched, `vendor/README.md`) closes a socket whose
//! queue is full ([`super::SOCKET_QUEUE`] events) with `DisconnectReason::BufferFull`;
//! the client sees its transport close, reconnects and catches up through the history
//! (`after=`). This counts those closes so that an operator can see them.

use std::sync::atomic::{AtomicU64, Ordering};

use socketioxide::socket::DisconnectReason;

static CLOSED_FULL: AtomicU64 = AtomicU64::new(0);

/// Called with every socket's disconnect reason; counts and logs the full-queue ones.
pub fn count(reason: DisconnectReason) {
    if reason == DisconnectReason::BufferFull {
        let total = CLOSED_FULL.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::counter!(crate::telemetry::SLOW_SOCKETS_DISCONNECTED).increment(1);
        tracing::warn!(
            total,
            "closed a socket whose event queue was full (slow client)"
        );
    }
}

/// Sockets closed so far because their queue was full.
pub fn closed_full() -> u64 {
    CLOSED_FULL.load(Ordering::Relaxed)
}
