//! The one error type of natter.
//!
//! Every failure a client can see has a stable snake_case `code`, a status and a
//! human message. It is mapped once to an HTTP response (`IntoResponse`) and once to
//! a Socket.IO acknowledgement (`AppError::ack`), so both wire paths speak alike.
//! Internal causes (SQL, I/O) are logged here and never sent to the client.

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
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    TooLarge(String),
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
    /// 429: the user sends messages faster than the send rate limit allows.
    #[error("sending too fast, try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
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
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge(_) => "payload_too_large",
            Self::UnsupportedMedia(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Busy => "busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::NotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } | Self::Busy | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
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
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Self::TooManyRequests { retry_after_secs } | Self::RateLimited { retry_after_secs } =
            self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
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
        }
    }
}

/// A change the writer did not apply, and why.
impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(what) => Self::NotFound(what),
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
