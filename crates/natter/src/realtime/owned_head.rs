//! Frees hyper's read buffer from long-lived sockets.
//!
//! engineioxide keeps the upgrade request's head (headers, URI, extensions) for
//! the socket's whole life. Parsed by hyper, those header values are slices of
//! hyper's 16 KiB connection read buffer, so each idle socket would pin a whole
//! buffer. This layer rebuilds the head of Socket.IO requests from owned copies
//! before engineioxide sees it; measured in `../shared/notes/idle-memory.md`:
//! 28.3 → 21.3 KiB per idle connection.
//!
//! Only the headers someone reads are copied ([`KEPT`]): the rest (user agent,
//! languages, WebSocket extensions...) would cost every socket a few hundred
//! bytes for nothing. A Socket.IO handler that needs another header must add
//! it there.

use std::task::{Context, Poll};

use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Request, header};
use hyper::upgrade::OnUpgrade;
use tower::{Layer, Service};

use crate::server::ConnectionSlot;

#[derive(Clone, Copy, Default)]
pub struct OwnedHeadLayer;

impl<S> Layer<S> for OwnedHeadLayer {
    type Service = OwnedHead<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OwnedHead { inner }
    }
}

#[derive(Clone)]
pub struct OwnedHead<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for OwnedHead<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !request.uri().path().starts_with(super::PATH) {
            return self.inner.call(request);
        }
        let (mut parts, body) = request.into_parts();
        parts.headers = owned_headers(&parts.headers);
        if let Ok(uri) = parts.uri.to_string().parse() {
            parts.uri = uri;
        }
        parts.extensions = kept_extensions(&mut parts.extensions);
        self.inner.call(Request::from_parts(parts, body))
    }
}

/// The headers of a Socket.IO request that are read: by the connect handler (the
/// origin check: `Origin` and `Host`; the session cookie) and by engineioxide
/// (`Content-Type` of a polling POST, `Sec-WebSocket-Key` of an upgrade).
const KEPT: [HeaderName; 5] = [
    header::HOST,
    header::ORIGIN,
    header::COOKIE,
    header::CONTENT_TYPE,
    header::SEC_WEBSOCKET_KEY,
];

/// Of the request's extensions, what a Socket.IO session needs: the connection's
/// slot (it holds the slot while it lives, see `server`) and hyper's upgrade (taken
/// by engineioxide at once). The rest, the router's `OriginalUri` and the peer's
/// address, is read by no Socket.IO handler; in a map of its own, what stays fits
/// the smallest table instead of the one grown for every entry.
fn kept_extensions(extensions: &mut Extensions) -> Extensions {
    let mut kept = Extensions::new();
    if let Some(upgrade) = extensions.remove::<OnUpgrade>() {
        kept.insert(upgrade);
    }
    if let Some(slot) = extensions.remove::<ConnectionSlot>() {
        kept.insert(slot);
    }
    kept
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let kept = || headers.iter().filter(|(name, _)| KEPT.contains(name));
    let mut owned = HeaderMap::with_capacity(kept().count());
    for (name, value) in kept() {
        let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) else {
            continue;
        };
        owned.append(name.clone(), value);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_value_of_the_kept_headers_only() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", HeaderValue::from_static("a=1"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        headers.insert("host", HeaderValue::from_static("example.org"));
        headers.insert("origin", HeaderValue::from_static("https://example.org"));
        headers.insert("x-custom", HeaderValue::from_static("v"));
        let owned = owned_headers(&headers);
        headers.remove("x-custom");
        assert_eq!(owned, headers);
        assert_eq!(owned.get_all("cookie").iter().count(), 2);
    }
}
