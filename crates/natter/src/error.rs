//! The one error type of natter.
//!
//! Every failure a client can see has a stable snake_case `code`, a status and a
//! human message. It is mapped once to an HTTP response (`IntoResponse`) and once to
//! a Socket.IO acknowledgement (`AppError::ack`), so both wire paths speak alike.
//! Internal causes (SQL, I/O) are logged here and never sent to the client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::contract::events::{ErrorBody, ErrorDetail};
use crate::store::StoreError;
use crate::store::writer::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request could not be understood (bad JSON, wrong types).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no valid session.
    #[error("sign in first")]
    Unauthorized,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403 with its own code (`not_sender`, `not_owner`).
    #[error("{message}")]
    NotAllowed {
        code: &'static str,
        message: &'static str,
    },
    /// 404, also for things the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 403: a block between the two users stands in the way (contract v2 "Blocking").
    #[error("you cannot message this user")]
    Blocked,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: a body, file or picture over its limit; `limit_bytes` is that limit,
    /// for a client to show, where it is one number.
    #[error("{message}")]
    TooLarge {
        message: String,
        limit_bytes: Option<u64>,
    },
    #[error("{0}")]
    UnsupportedMedia(String),
    /// 422: well-formed, but a value breaks a rule.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("too many attempts, try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 429 on a socket: too many of its requests are still being answered.
    #[error("too many requests in flight on this connection; wait for their answers")]
    Busy,
    /// 429: a rate limit's bucket is empty ([`crate::services::rate_limits`]).
    #[error("too many requests, try again in {} s", whole_secs(*retry_after))]
    RateLimited { retry_after: Duration },
    /// 408: the request took longer than `NATTER_REQUEST_TIMEOUT_SECS`.
    #[error("the request took too long; try again")]
    Timeout,
    #[error("a backing service is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn too_large(message: impl Into<String>, limit_bytes: Option<u64>) -> Self {
        Self::TooLarge {
            message: message.into(),
            limit_bytes,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Invalid { code, .. }
            | Self::NotAllowed { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Blocked => "blocked",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "payload_too_large",
            Self::UnsupportedMedia(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Busy => "busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout => "request_timeout",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Blocked | Self::NotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } | Self::Busy | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `{error: {code, message}}` body shared by HTTP answers and socket acks.
    pub fn body(&self) -> ErrorBody {
        match self {
            Self::Unavailable(cause) | Self::Internal(cause) => {
                tracing::error!(code = self.code(), "{cause:#}");
            }
            Self::TooManyRequests { .. } | Self::Busy | Self::RateLimited { .. } => {
                metrics::counter!(crate::telemetry::RATE_LIMITED, "code" => self.code())
                    .increment(1);
            }
            _ => {}
        }
        let retry_after_ms = match self {
            Self::RateLimited { retry_after } => Some(
                u64::try_from(retry_after.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            ),
            _ => None,
        };
        let limit_bytes = match self {
            Self::TooLarge { limit_bytes, .. } => *limit_bytes,
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                retry_after_ms,
                limit_bytes,
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let retry_after_secs = match self {
            Self::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            Self::RateLimited { retry_after } => Some(whole_secs(retry_after)),
            _ => None,
        };
        if let Some(secs) = retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// `Retry-After` counts whole seconds: rounded up, and at least one.
fn whole_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// A store failure the service did not turn into something more specific.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(_) => Self::Conflict {
                code: "conflict",
                message: "this already exists".into(),
            },
            StoreError::Unavailable(e) => Self::Unavailable(e.into()),
            StoreError::Database(e) => Self::Internal(e.into()),
            StoreError::Page(e) if page_read_unavailable(&e) => Self::Unavailable(e.into()),
            StoreError::Page(e) => Self::Internal(e.into()),
        }
    }
}

/// SQLite busy past its timeout, or the readers closed for shutdown: try again.
fn page_read_unavailable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::ApiMisuse
        )
    )
}

/// A change the writer did not apply, and why.
impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(what) => Self::NotFound(what),
            Refusal::Blocked => Self::Blocked,
            Refusal::NotSender => Self::NotAllowed {
                code: "not_sender",
                message: "only the sender may change this message",
            },
            Refusal::NotOwner => Self::NotAllowed {
                code: "not_owner",
                message: "only the group's owner may remove other members",
            },
            Refusal::NotEditable => Self::Conflict {
                code: "not_editable",
                message: "a deleted or system message cannot be changed".into(),
            },
            Refusal::NotAGroup => {
                Self::invalid("not_a_group", "only a group has a title and a member list")
            }
            Refusal::TooManyReactions => Self::invalid(
                "too_many_reactions",
                format!(
                    "a message has at most {} different reactions",
                    crate::store::changes::MAX_REACTIONS
                ),
            ),
            Refusal::TooManyMembers => crate::domain::group::too_many_members(),
            Refusal::InvalidAttachment => Self::invalid(
                "invalid_attachment",
                "every attachment must be one of your own uploads",
            ),
            Refusal::AttachmentUsed => Self::Conflict {
                code: "attachment_used",
                message: "this upload is already attached to a message".into(),
            },
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.into())
    }
}
