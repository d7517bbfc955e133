//! The per-socket queue of packets waiting for the transport.
//!
//! It replaces a `tokio::sync::mpsc` channel plus a `watch` channel for volatile packets.
//! tokio's mpsc allocates its first block of 32 slots when it is created, whatever the
//! bound, and keeps it for the life of the channel: several KB per socket, mostly for
//! sockets that are idle. This queue is a [`VecDeque`] behind a mutex: it allocates
//! when a packet is queued and frees its buffer once the transport has drained it.
//!
//! Many producers, one consumer at a time: the transport that holds
//! `Socket::internal_rx`. Producers never wait; a full queue is an error for the caller.
use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use engineioxide_core::PacketBuf;
use tokio::sync::{Notify, mpsc::error::TrySendError};

#[derive(Debug)]
pub(crate) struct PacketQueue {
    state: Mutex<State>,
    /// Most packets queued (and reserved) at once: `max_buffer_size`.
    capacity: usize,
    /// Wakes [`PacketQueue::closed`].
    closed: Notify,
}

#[derive(Debug, Default)]
struct State {
    buf: VecDeque<PacketBuf>,
    /// Slots held by [`QueuePermit`]s that were not used yet.
    reserved: usize,
    /// The latest volatile packet: sent after the buffered ones, overwritten by the next.
    volatile: Option<PacketBuf>,
    closed: bool,
    /// The consumer waiting in [`PacketQueue::poll_recv`].
    rx_waker: Option<Waker>,
}

impl PacketQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            capacity,
            closed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues packets, unless the queue is full or closed.
    pub fn try_send(&self, packets: PacketBuf) -> Result<(), TrySendError<PacketBuf>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(packets));
        }
        if state.buf.len() + state.reserved >= self.capacity {
            return Err(TrySendError::Full(packets));
        }
        state.buf.push_back(packets);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Holds one slot for a later [`QueuePermit::send`].
    pub fn try_reserve(&self) -> Result<QueuePermit<'_>, TrySendError<()>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(()));
        }
        if state.buf.len() + state.reserved >= self.capacity {
            return Err(TrySendError::Full(()));
        }
        state.reserved += 1;
        Ok(QueuePermit { queue: self })
    }

    /// Replaces the pending volatile packet. Returns false once the queue is closed.
    pub fn send_volatile(&self, packets: PacketBuf) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.volatile = Some(packets);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The next packets: buffered ones first, then the volatile one.
    /// The buffer's memory is given back as soon as it is empty.
    pub fn try_recv(&self) -> Option<PacketBuf> {
        let mut state = self.lock();
        match state.buf.pop_front() {
            Some(packets) => {
                if state.buf.is_empty() {
                    state.buf = VecDeque::new();
                }
                Some(packets)
            }
            None => state.volatile.take(),
        }
    }

    /// Like [`try_recv`](Self::try_recv), but waits for packets; `None` once closed and drained.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<PacketBuf>> {
        if let Some(packets) = self.try_recv() {
            return Poll::Ready(Some(packets));
        }
        let mut state = self.lock();
        if !state.buf.is_empty() || state.volatile.is_some() {
            // queued between the two locks
            drop(state);
            return Poll::Ready(self.try_recv());
        }
        if state.closed {
            return Poll::Ready(None);
        }
        state.rx_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Only the test harness reads the queue outside a connection's `poll`.
    #[cfg(any(test, feature = "__test_harness"))]
    pub async fn recv(&self) -> Option<PacketBuf> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// No more packets can be queued; the consumer still gets what is queued, then `None`.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        self.closed.notify_waiters();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits for [`close`](Self::close).
    pub async fn closed(&self) {
        loop {
            let notified = self.closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

/// One reserved slot of a [`PacketQueue`]; given back if dropped unused.
pub(crate) struct QueuePermit<'a> {
    queue: &'a PacketQueue,
}

impl QueuePermit<'_> {
    pub fn send(self, packets: PacketBuf) {
        let queue = self.queue;
        std::mem::forget(self);
        let mut state = queue.lock();
        state.reserved -= 1;
        if state.closed {
            return;
        }
        state.buf.push_back(packets);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for QueuePermit<'_> {
    fn drop(&mut self) {
        self.queue.lock().reserved -= 1;
    }
}

#[cfg(test)]
mod tests {
    use engineioxide_core::Packet;
    use smallvec::smallvec;

    use super::*;

    #[test]
    fn bounded_with_permits_and_frees_when_drained() {
        let queue = PacketQueue::new(2);
        let permit = queue.try_reserve().unwrap();
        queue.try_send(smallvec![Packet::Ping]).unwrap();
        assert!(matches!(
            queue.try_send(smallvec![Packet::Pong]),
            Err(TrySendError::Full(_))
        ));
        drop(permit);
        queue.try_send(smallvec![Packet::Pong]).unwrap();
        assert!(queue.send_volatile(smallvec![Packet::Noop]));
        assert_eq!(queue.try_recv().unwrap()[0], Packet::Ping);
        assert_eq!(queue.try_recv().unwrap()[0], Packet::Pong);
        assert_eq!(queue.lock().buf.capacity(), 0);
        assert_eq!(queue.try_recv().unwrap()[0], Packet::Noop);
        assert!(queue.try_recv().is_none());
        queue.close();
        assert!(queue.is_closed());
        assert!(matches!(queue.try_reserve(), Err(TrySendError::Closed(()))));
    }

    #[tokio::test]
    async fn recv_waits_and_ends_when_closed() {
        let queue = std::sync::Arc::new(PacketQueue::new(4));
        let q = queue.clone();
        let rx = tokio::spawn(async move {
            let first = q.recv().await;
            let second = q.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        queue.try_reserve().unwrap().send(smallvec![Packet::Ping]);
        queue.close();
        queue.closed().await;
        let (first, second) = rx.await.unwrap();
        assert_eq!(first.unwrap()[0], Packet::Ping);
        assert!(second.is_none());
    }
}
