//! Frees hyper's read buffer from long-lived sockets.
//!
//! engineioxide keeps the upgrade request's head (headers, URI, extensions) for
//! the socket's whole life. Parsed by hyper, those header values are slices of
//! hyper's 16 KiB connection read buffer, so each idle socket would pin a whole
//! buffer. This layer rebuilds the head of Socket.IO requests from owned copies
//! (a few hundred bytes) before engineioxide sees it; measured in
//! `../shared/notes/idle-memory.md`: 28.3 → 21.3 KiB per idle connection.

use std::task::{Context, Poll};

use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use tower::{Layer, Service};

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
        parts.extensions.remove::<OriginalUri>();
        self.inner.call(Request::from_parts(parts, body))
    }
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let mut owned = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            continue;
        };
        owned.append(name, value);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_header_value() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", HeaderValue::from_static("a=1"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        headers.insert("x-custom", HeaderValue::from_static("v"));
        let owned = owned_headers(&headers);
        assert_eq!(owned, headers);
        assert_eq!(owned.get_all("cookie").iter().count(), 2);
    }
}
