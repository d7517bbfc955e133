//! A deadline for each `/api` request, body upload included, so a client that
//! trickles its body, or a handler stuck on a slow database, cannot hold a
//! connection and its memory for ever. Socket.IO is outside this router and
//! not subject to it (a long-poll waits by design).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Middleware: `408 request_timeout` once `limit` has passed (`ZERO`: none).
pub async fn limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if limit.is_zero() {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}
