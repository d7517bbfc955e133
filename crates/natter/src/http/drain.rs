//! Answers that the client can read even when the request body was refused.
//!
//! A handler that refuses a body (over a limit, or before reading it: no
//! session) answers while the client is still sending. Closing a socket with
//! unread bytes makes the kernel send a reset, which destroys the answer before
//! the client reads it: the browser shows a network error instead of "too
//! large", and a proxy in front counts the reset as a dead upstream. So whatever
//! the handler left unread is read and discarded first, up to a bound; past the
//! bound the connection is closed (`Connection: close`), as before.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;

/// Bytes read and discarded after the handler answered, at most: more than any
/// body limit of natter (5 MiB for a picture) plus the proxy's slack
/// (`client_max_body_size 8m` in docs/nginx.conf).
pub const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Time spent discarding, at most.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// Middleware: runs the request, then discards what its handler did not read.
pub async fn drain_unread_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let slot = Arc::new(Mutex::new(Some(body)));
    let request = Request::from_parts(parts, Body::new(Shared(slot.clone())));
    let mut response = next.run(request).await;
    let unread = slot.lock().expect("not poisoned").take();
    if let Some(unread) = unread.filter(|body| !body.is_end_stream()) {
        let drained = tokio::time::timeout(DRAIN_MAX_TIME, discard(unread)).await;
        if !matches!(drained, Ok(true)) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Reads `body` to its end; false when it is longer than the bound or broken.
async fn discard(mut body: Body) -> bool {
    if body.size_hint().lower() > DRAIN_MAX_BYTES {
        return false;
    }
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        read += frame.data_ref().map_or(0, |data| data.len() as u64);
        if read > DRAIN_MAX_BYTES {
            return false;
        }
    }
    true
}

/// The request body, lent to the handler while this middleware keeps the rest.
struct Shared(Arc<Mutex<Option<Body>>>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.lock().expect("not poisoned").as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .expect("not poisoned")
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}
