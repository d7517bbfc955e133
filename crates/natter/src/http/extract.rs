//! Request extractors that answer in the contract's error shape: JSON bodies and
//! query strings (400 when malformed), the signed-in caller (401/403), and the
//! client's address ([`ClientAddr`]).
//!
//! A caller is identified by `Authorization: Bearer <token>` or by the session
//! cookie. A cookie is sent by the browser on cross-site requests too, so a
//! cookie-authenticated request that changes state must also prove it comes from
//! an allowed origin ([`origin::check`]: our own, or one in
//! `NATTER_ALLOWED_ORIGINS`): an allowed `Origin` header, or, without any `Origin`,
//! the custom `X-Requested-With` header that a cross-site form cannot set. A
//! foreign `Origin` is refused whatever else the request carries.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};

use crate::error::AppError;
use crate::services::client_address;
use crate::services::origin::{self, OriginCheck};
use crate::services::sessions::{self, AuthUser, SESSION_COOKIE};
use crate::state::Ctx;

/// `axum::Json`, with rejections in the contract's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                AppError::UnsupportedMedia("send the body as application/json".into())
            }
            JsonRejection::JsonDataError(e) => AppError::bad_request("invalid_body", e.body_text()),
            JsonRejection::JsonSyntaxError(_) => {
                AppError::bad_request("malformed_json", "the body is not valid JSON")
            }
            JsonRejection::BytesRejection(e) if e.status() == 413 => {
                AppError::too_large("the body is too large", Some(super::JSON_BODY_LIMIT as u64))
            }
            other => AppError::bad_request("bad_request", other.body_text()),
        }
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, with rejections in the contract's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::bad_request("invalid_query", rejection.body_text())
    }
}

/// The signed-in caller.
pub struct Auth(pub AuthUser);

impl FromRequestParts<Ctx> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, AppError> {
        if let Some(token) = bearer_token(parts) {
            return Ok(Self(sessions::authenticate(ctx, token).await?));
        }
        let token = sessions::token_from_cookie(&parts.headers).ok_or(AppError::Unauthorized)?;
        if !is_safe(&parts.method) && !allowed_origin(parts, ctx) {
            return Err(AppError::Forbidden(
                "cross-site request refused: this origin may not act with the session cookie",
            ));
        }
        Ok(Self(sessions::authenticate(ctx, &token).await?))
    }
}

/// The client's address: the peer, or what a trusted proxy forwarded
/// ([`client_address::resolve`]).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<Ctx> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Infallible> {
        // Served without connect info (in-process routers), the peer is unknown.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        let client = client_address::resolve(peer, &parts.headers, &ctx.config.trusted_proxies);
        Ok(Self(client))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn allowed_origin(parts: &Parts, ctx: &Ctx) -> bool {
    match origin::check(&parts.headers, &ctx.config.allowed_origins) {
        OriginCheck::Allowed => true,
        OriginCheck::Absent => parts.headers.contains_key("x-requested-with"),
        OriginCheck::Refused => false,
    }
}

/// `Set-Cookie` value that starts a session.
/// The cookie lasts as long as the session may (`max_age`); the server ends
/// an idle session sooner.
pub fn session_cookie_header(token: &str, secure: bool, max_age: std::time::Duration) -> String {
    cookie::Cookie::build((SESSION_COOKIE, token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
        .to_string()
}

/// `Set-Cookie` value that ends it.
pub fn clear_cookie_header() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// For the OpenAPI document's security scheme.
pub fn session_cookie_name() -> &'static str {
    SESSION_COOKIE
}
